"""`monitor digest`: preview, send through a real SMTP server or into the outbox, never repeat."""

from __future__ import annotations

import email
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import sqlalchemy as sa
from conftest import rss, run, write_config
from servers import FeedServer, SmtpSink, free_port

from monitor.deliver import send_digests
from monitor.settings import load_settings
from monitor.store import Store
from monitor.store.engine import make_engine

FIRST = rss(
    ("t1", "TTP militants attack police station in Bannu", "The banned TTP claimed the attack."),
    (
        "t2",
        "Chaman border clash leaves eight dead",
        "Afghan and Pakistani border forces exchanged fire.",
    ),
)
SECOND = rss(
    ("t1", "TTP militants attack police station in Bannu", "The banned TTP claimed the attack."),
    (
        "t2",
        "Chaman border clash leaves eight dead",
        "Afghan and Pakistani border forces exchanged fire.",
    ),
    ("t3", "Torkham crossing reopens for trade", "Trucks crossed at Torkham after a week."),
)


def digests_of(smtp: SmtpSink) -> list[tuple[list[str], object]]:
    """The daily digests received (alerts, sent by `check` for alert rules, left out)."""
    return [(r, m) for r, m in smtp.messages if "ALERT" not in str(m["Subject"])]


def test_send_via_smtp_does_not_repeat_stories(
    tmp_path: Path, feed_server: FeedServer, smtp: SmtpSink, db_url: str
) -> None:
    feed = feed_server.route("/f.xml")
    from servers import Response

    feed_server.routes["/f.xml"] = [
        Response(200, FIRST, {"Content-Type": "application/rss+xml"}),
        Response(200, SECOND, {"Content-Type": "application/rss+xml"}),
    ]
    config = write_config(
        tmp_path,
        db_url=db_url,
        feeds=[("Dawn", feed)],
        smtp_port=smtp.port,
        recipients=["a@example.org", "b@example.org"],
    )
    assert run(config, "check").exit_code == 0
    sent = run(config, "digest", "send")
    assert sent.exit_code == 0, sent.output
    assert len(digests_of(smtp)) == 2
    rcpts, msg = digests_of(smtp)[0]
    assert rcpts == ["a@example.org"]
    assert msg["Subject"].startswith("Frontier Monitor — 2 new stories")
    assert msg["From"].addresses[0].addr_spec == "monitor@example.org"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Bannu" in text and "Chaman border clash" in html and "<script" not in html

    again = run(config, "digest", "send")
    assert "nothing new" in again.output and len(digests_of(smtp)) == 2

    run(config, "check", "--all")
    third = run(config, "digest", "send")
    assert third.exit_code == 0
    assert len(digests_of(smtp)) == 4
    latest = digests_of(smtp)[-1][1].get_body(("plain",)).get_content()
    assert "Torkham crossing reopens" in latest and "Bannu" not in latest

    ledger = run(config, "digest", "list")
    assert ledger.output.count("sent") >= 4


def test_outbox_is_the_default_and_preview_writes_files(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed = feed_server.feed("/f.xml", FIRST)
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)])
    run(config, "check")
    preview = run(config, "digest", "preview")
    assert preview.exit_code == 0
    paths = [Path(p) for p in preview.output.split()]
    assert [p.suffix for p in paths] == [".html", ".txt"]
    assert "Chaman border clash" in paths[0].read_text()
    sent = run(config, "digest", "send")
    assert sent.exit_code == 0, sent.output
    emls = list((tmp_path / "outbox").glob("*-digest-*.eml"))
    assert len(emls) == 1
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "analyst@example.org" and msg["Message-ID"]
    assert "Bannu" in msg.get_body(("plain",)).get_content()
    assert "nothing new" in run(config, "digest", "send").output


def test_refused_recipient_is_recorded_as_failed(
    tmp_path: Path, feed_server: FeedServer, smtp: SmtpSink, sqlite_url: str
) -> None:
    smtp.refuse["gone@example.org"] = "550 no such user"
    feed = feed_server.feed("/f.xml", FIRST)
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[("Dawn", feed)],
        smtp_port=smtp.port,
        recipients=["ok@example.org", "gone@example.org"],
    )
    run(config, "check")
    result = run(config, "digest", "send")
    assert result.exit_code == 1
    assert "gone@example.org" in result.output and "550" in result.output
    assert [r for r, _ in digests_of(smtp)] == [["ok@example.org"]]
    ledger = run(config, "digest", "list").output
    assert "failed" in ledger and "sent" in ledger


def test_a_copy_claimed_by_a_killed_sender_of_this_machine_is_taken_over(
    tmp_path: Path, feed_server: FeedServer, smtp: SmtpSink, sqlite_url: str
) -> None:
    """A daemon killed between claiming a copy and sending it leaves a claim for
    `lease_seconds`; on the same machine the next sender takes it over at once."""
    feed = feed_server.feed("/f.xml", FIRST)
    down = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)], smtp_port=free_port())
    assert run(down, "check").exit_code == 0
    run(down, "digest", "send")  # the server is down: the copy stays pending
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        claimed = conn.execute(
            sa.text(
                "UPDATE digest SET claimed_by = :owner, claimed_until = :until,"
                " next_attempt = NULL WHERE status = 'pending'"
            ),
            {
                "owner": f"{socket.gethostname()}:{gone.pid}",
                "until": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f"),
            },
        ).rowcount
    assert claimed >= 1
    up = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)], smtp_port=smtp.port)
    sent = run(up, "digest", "send")
    assert sent.exit_code == 0, sent.output
    assert digests_of(smtp) and "claimed elsewhere" not in sent.output
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM digest WHERE status = 'pending'"))
        assert left.scalar_one() == 0
    engine.dispose()


def test_the_daemons_digest_job_sends_a_copy_frozen_but_never_sent(
    tmp_path: Path, feed_server: FeedServer, smtp: SmtpSink, sqlite_url: str
) -> None:
    """A daemon killed after freezing today's digest and before sending it: the next one's
    digest job finds today's digest made, and sends that copy instead of leaving it to the
    retry job a minute later."""
    feed = feed_server.feed("/f.xml", FIRST)
    down = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)], smtp_port=free_port())
    assert run(down, "check").exit_code == 0
    run(down, "digest", "send")  # frozen; the server is down, so it stays pending
    up = write_config(tmp_path, db_url=sqlite_url, feeds=[("Dawn", feed)], smtp_port=smtp.port)
    with Store(sqlite_url) as store:
        reports = send_digests(load_settings(up), store, datetime.now(UTC), due_only=True)
    assert [r.status for r in reports] == ["sent"] and len(digests_of(smtp)) == 1
