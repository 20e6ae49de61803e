"""A clock that ran years fast and was then corrected: digests, alerts, retries and claims
recorded meanwhile lie in the future, and must not stop delivery until that date comes.

The decisions take `now` explicitly, as the daemon passes it; here first a fast clock's,
then the true one's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from servers import SmtpSink
from test_digest_faults import seed, settings_for, text_of

from monitor import deliver
from monitor.schedule import alert_due, digest_due
from monitor.store import Store

# 07:00 in Karachi; the digest's default send time there.
TRUE = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
FAST = TRUE + timedelta(days=3 * 365 + 17, hours=5)  # the clock ran three years fast


def test_a_digest_made_by_a_fast_clock_does_not_hold_back_the_next_one() -> None:
    # On the fast clock a digest went out; today's is due on the true clock all the same.
    assert digest_due("07:00", "Asia/Karachi", TRUE, FAST)
    # Within a day of now it is the ordinary rule: made after today's slot, not due again.
    assert not digest_due("07:00", "Asia/Karachi", TRUE, TRUE + timedelta(hours=2))
    assert not digest_due("07:00", "Asia/Karachi", TRUE, TRUE + timedelta(days=1))
    assert digest_due("07:00", "Asia/Karachi", TRUE, TRUE - timedelta(days=1))


def test_an_alert_sent_by_a_fast_clock_does_not_rate_limit_the_next_one() -> None:
    window = timedelta(minutes=30)
    assert alert_due(TRUE, FAST, window)
    assert alert_due(TRUE, TRUE + window + timedelta(hours=2), window)
    # An alert a moment ahead (skew between daemons) still limits, as one just sent does.
    assert not alert_due(TRUE, TRUE + timedelta(minutes=5), window)
    assert not alert_due(TRUE, TRUE - timedelta(minutes=5), window)
    assert alert_due(TRUE, TRUE - window, window) and alert_due(TRUE, None, window)


def test_after_the_clock_is_corrected_digests_alerts_retries_and_claims_go_on(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    rcpts = ("a@example.org", "b@example.org")
    settings = settings_for(tmp_path, db_url, smtp_port=smtp.port, recipients=rcpts)
    lease = timedelta(seconds=settings.daemon.lease_seconds)
    with Store(db_url) as store:
        # The fast clock: a@ gets an alert and a digest; b@'s digest is refused with a 4xx
        # (its retry is set for the fast clock's next minutes) and then left claimed.
        seed(store, 1, title="Chaman clash fast", severity="alert", when=FAST)
        assert [r.status for r in deliver.send_alerts(settings, store, FAST)] == ["sent", "sent"]
        smtp.on_data = lambda to: "451 4.3.0 try again later" if "b@example.org" in to else None
        reports = deliver.send_digests(settings, store, FAST, due_only=True)
        assert [r.status for r in reports] == ["sent", "pending"]
        smtp.on_data = None
        stuck = reports[1].digest_id
        assert stuck is not None
        assert store.claim_digest(stuck, deliver.claim_token(), FAST, lease)
        # The true clock, the next day at the send time: everything goes.
        today = TRUE + timedelta(days=1)
        seed(store, 1, start=1, title="Chaman clash true", severity="alert", when=today)
        alerts = deliver.send_alerts(settings, store, today)
        assert [(r.recipient, r.status) for r in alerts] == [(x, "sent") for x in rcpts]
        assert [r.status for r in deliver.retry_pending(settings, store, today)] == ["sent"]
        digests = deliver.send_digests(settings, store, today, due_only=True)
        assert [(r.recipient, r.status, r.stories) for r in digests] == [
            ("a@example.org", "sent", 1),
            ("b@example.org", "sent", 1),
        ]
        # And the schedule is the ordinary one again: nothing more is due today.
        later = today + timedelta(hours=3)
        assert deliver.send_digests(settings, store, later, due_only=True) == []
        assert deliver.send_alerts(settings, store, later) == []
        assert store.pending_digests() == []
    # Fast clock: 2 alerts and a@'s digest; true clock: b@'s retry, 2 alerts, 2 digests.
    assert len(smtp.messages) == 3 + 5
    retried = smtp.messages[5][1]
    assert retried["To"] == "b@example.org" and "Chaman clash fast" in text_of(retried)
    assert all("Chaman clash true" in text_of(m) for _, m in smtp.messages[3:5] + smtp.messages[6:])
