"""Delivery under concurrency: the daemon's alert (after each poll pass), retry and digest jobs
run in three threads against one database and a real SMTP server on 127.0.0.1.

What must hold however they interleave: a copy marked sent was delivered with every story
frozen into it, no copy is sent twice, and every frozen story reaches each recipient exactly
once per kind.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servers import SmtpSink
from test_digest_faults import seed, settings_for, text_of

from monitor import deliver
from monitor.store import Store

RECIPIENTS = ("a@example.org", "b@example.org")
PASSES = 60
TITLE_AT = "Chaman clash {i:05d}"
TITLE = re.compile(r"Chaman clash \d{5}")


def _loop(
    stop: threading.Event, errors: list[BaseException], step: Callable[[], object]
) -> threading.Thread:
    def body() -> None:
        try:
            while not stop.is_set():
                step()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
            stop.set()

    return threading.Thread(target=body, daemon=True)


def test_alert_retry_and_digest_jobs_in_threads_lose_and_repeat_nothing(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    settings = settings_for(
        tmp_path,
        db_url,
        smtp_port=smtp.port,
        recipients=RECIPIENTS,
        digest_extra="alert_interval_minutes = 0",
    )
    # Every third message is refused with a 4xx, so pending copies (the ones new stories are
    # added to) exist all the time; a slow final "." widens the window of each send.
    count = [0]

    def every_third(_rcpts: list[str]) -> str | None:
        count[0] += 1
        return "451 4.3.0 try again later" if count[0] % 3 == 0 else None

    smtp.on_data = every_third
    smtp.data_delay = 0.01
    now = lambda: datetime.now(UTC)  # noqa: E731 - the daemon's clock
    with Store(db_url) as store:
        stop, errors = threading.Event(), []  # type: ignore[var-annotated]
        passes = [0]

        def poll_pass() -> None:
            i = passes[0]
            if i == PASSES:
                stop.set()
                return
            # A poll pass stores an alert story and a digest one, then sends alerts.
            at = now()
            seed(store, 1, start=2 * i, title=TITLE_AT, severity="alert", when=at)
            seed(store, 1, start=2 * i + 1, title=TITLE_AT, when=at)
            deliver.send_alerts(settings, store, now())
            passes[0] += 1

        threads = [
            _loop(stop, errors, poll_pass),
            _loop(stop, errors, lambda: deliver.retry_pending(settings, store, now(), force=True)),
            _loop(stop, errors, lambda: deliver.send_digests(settings, store, now())),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
        assert not errors, errors
        assert passes[0] == PASSES
        # Drain: the server accepts everything now; what is left is frozen and sent.
        smtp.on_data = None
        deliver.retry_pending(settings, store, now(), force=True)
        deliver.send_alerts(settings, store, now())
        deliver.send_digests(settings, store, now())
        assert store.pending_digests() == []
        copies = store.digests(limit=100_000)
        assert copies and {c.status for c in copies} == {"sent"}
        frozen = {c.id: store.digest_stories(c.id) for c in copies}
        titles = {
            s.story_id: s.title
            for s in store.stories_by_ids(sorted({s for ids in frozen.values() for s in ids}))
        }
        for r in RECIPIENTS:
            assert store.undelivered_story_ids(r) == []
            assert store.undelivered_story_ids(r, min_severity="alert", kind="alert") == []

    # Which copy each received message is: the header names kind and id.
    received: dict[tuple[str, int], list[str]] = defaultdict(list)
    for rcpts, msg in smtp.messages:
        kind, _, copy_id = str(msg["X-Frontier-Monitor"]).partition(" ")
        received[kind, int(copy_id)].append(text_of(msg))
        assert len(rcpts) == 1
    assert sorted(received) == sorted((c.kind, c.id) for c in copies)
    per_recipient: Counter[tuple[str, str, str]] = Counter()
    for c in copies:
        assert len(received[c.kind, c.id]) == 1, (
            f"{c.kind} {c.id} to {c.recipient} sent more than once"
        )
        (body,) = received[c.kind, c.id]
        missing = [titles[s] for s in frozen[c.id] if titles[s] not in body]
        assert missing == [], f"{c.kind} {c.id} to {c.recipient} was marked sent without {missing}"
        per_recipient.update((c.recipient, c.kind, t) for t in set(TITLE.findall(body)))
    alert_titles = {t for t in titles.values() if int(t[-5:]) % 2 == 0}
    for r in RECIPIENTS:
        assert {t for (rr, k, t) in per_recipient if rr == r and k == "digest"} == set(
            titles.values()
        )
        assert {t for (rr, k, t) in per_recipient if rr == r and k == "alert"} == alert_titles
    assert max(per_recipient.values()) == 1, per_recipient.most_common(3)


def test_a_claimed_copy_takes_no_new_stories_they_go_in_a_new_copy(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    settings = settings_for(tmp_path, db_url, smtp_port=smtp.port)
    smtp.data_replies = ["451 4.3.0 try again later"]
    at = datetime.now(UTC)
    lease = timedelta(seconds=settings.daemon.lease_seconds)
    with Store(db_url) as store:
        seed(store, 2, title=TITLE_AT, when=at)
        (first,) = deliver.send_digests(settings, store, at)
        assert first.status == "pending" and first.digest_id is not None
        seed(store, 1, start=2, title=TITLE_AT, when=at)
        # Another job is sending the pending copy right now.
        sender = deliver.claim_token()
        assert store.claim_digest(first.digest_id, sender, at, lease)
        reports = deliver.send_digests(settings, store, at)
        assert [(r.digest_id, r.status) for r in reports] == [
            (first.digest_id, "empty"),  # claimed elsewhere
            (first.digest_id + 1, "sent"),
        ]
        assert len(store.digest_stories(first.digest_id)) == 2
        (new_copy,) = [c for c in store.digests() if c.id != first.digest_id]
        assert new_copy.story_count == 1
        assert "Chaman clash 00002" in text_of(smtp.messages[-1][1])
        # The other job's send ends and is recorded under its own claim.
        assert store.mark_digest(first.digest_id, "sent", at, claim=sender)
        assert store.undelivered_story_ids("analyst@example.org") == []


def test_a_claim_is_one_attempt_and_only_it_records_the_outcome(db_url: str) -> None:
    at = datetime.now(UTC)
    lease = timedelta(minutes=10)
    with Store(db_url) as store:
        seed(store, 2, title=TITLE_AT, when=at)
        ids = store.undelivered_story_ids("analyst@example.org")
        copy = store.freeze_digest("analyst@example.org", ids[:1], "<m@example.org>", at)
        assert copy is not None
        one, two = deliver.claim_token(), deliver.claim_token()
        assert one != two and one.startswith(deliver.OWNER + ":") and len(one) <= 100
        assert store.claim_digest(copy, one, at, lease)
        # Not again while live, not even by the same process (another thread's attempt).
        assert not store.claim_digest(copy, one, at, lease)
        assert not store.claim_digest(copy, two, at, lease)
        assert store.extend_digest(copy, ids[1:], at) is None
        assert not store.mark_digest(copy, "sent", at, claim=two)
        assert store.digest(copy).status == "pending"  # type: ignore[union-attr]
        # The claim expires; adding a story breaks it, so the late sender's "sent", whose mail
        # lacked that story, is superseded and the copy goes again.
        later = at + lease + timedelta(seconds=1)
        assert store.extend_digest(copy, ids[1:], later) == 1
        assert not store.mark_digest(copy, "sent", later, claim=one)
        row = store.digest(copy)
        assert row is not None and (row.status, row.story_count) == ("pending", 2)
        assert store.claim_digest(copy, two, later, lease)
        assert store.mark_digest(copy, "sent", later, claim=two)
        row = store.digest(copy)
        assert row is not None and (row.status, row.attempts) == ("sent", 1)
