"""Delivering digests and alerts: compose the email, send it by SMTP or into the outbox, keep
the ledger.

The ledger rule: stories are frozen into a pending digest row (one per recipient and kind)
*before* sending, and the row is marked sent only after the server's 250 (or the outbox file
is written). A 4xx or a lost connection leaves it pending, retried with backoff and the same
Message-ID; a 5xx marks that recipient's copy failed. A pending copy that was certainly never
delivered takes in the recipient's newer stories, so an outage ends in one digest with
everything; one that may have been delivered is resent exactly as it was.

Entry points for the daemon: `send_digests` (daily job, `due_only=True`), `send_alerts` (after
each poll pass) and `retry_pending` (every few minutes).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import smtplib
import ssl
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from monitor import digest as digest_mod
from monitor.errors import DeliveryError
from monitor.owners import died_here, lease_owner
from monitor.schedule import CLOCK_SLACK, DAY, alert_due
from monitor.settings import Recipient, Settings, SmtpConfig
from monitor.store import DigestRow, Store

# Who claims a digest copy while sending it: this process, on this host. Each attempt's
# claim token adds a random part (`claim_token`), so threads of one process never share one.
OWNER = lease_owner(tag=False)

log = logging.getLogger(__name__)

# Header values: no line breaks (header injection), NUL, or bidi controls (spoofed display).
_UNSAFE_HEADER = re.compile(r"[\r\n\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Minutes to wait before the next attempt, by the number of attempts made so far.
BACKOFF_MINUTES = (5, 15, 30, 60, 120, 240, 360)
# A next attempt further ahead than the longest backoff was set by a fast clock: due now.
RETRY_HORIZON = timedelta(minutes=max(BACKOFF_MINUTES)) + CLOCK_SLACK
ALERT_MAX_AGE = timedelta(hours=24)  # older alert stories go in the digest only
ACTIVITY_DAYS = 14
SIZE_MARGIN = 0.9  # of the server's SIZE limit, for the headers the server adds


@dataclass(frozen=True, slots=True)
class SendReport:
    recipient: str
    digest_id: int | None
    stories: int
    status: str  # "sent", "pending", "failed", "empty", "dry-run", "superseded"
    where: str = ""
    error: str | None = None
    kind: str = "digest"
    left_out: int = 0  # stories of the digest not shown in full (counted in the email)


def header_value(value: str) -> str:
    """A header value safe to set: controls and bidi marks removed, spaces collapsed."""
    return re.sub(r"\s+", " ", _UNSAFE_HEADER.sub(" ", value)).strip()


class EncodedHeader(str):
    """A header value folded as RFC 2047 encoded words by us, not by the email package.

    CPython's folder drops the space between two encoded words when it breaks a non-ASCII
    header across lines (an Urdu subject loses a space), so non-ASCII values are cut into
    base64 encoded words of at most 75 characters at character boundaries, each space kept
    inside a word.
    """

    name: str

    def __new__(cls, name: str, value: str) -> EncodedHeader:
        obj = super().__new__(cls, value)
        obj.name = name
        return obj

    def fold(self, *, policy: policy.Policy) -> str:
        words, chunk = [], ""
        for ch in str(self):
            if len((chunk + ch).encode("utf-8")) > 45:  # 60 base64 chars + 12 = 72 <= 75
                words.append(chunk)
                chunk = ""
            chunk += ch
        words.append(chunk)
        encoded = [
            "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?="
            for w in words
            if w
        ]
        return f"{self.name}: " + (policy.linesep + " ").join(encoded) + policy.linesep


def compose(
    rendered: digest_mod.RenderedDigest,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    when: datetime,
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second (RFC 2046 order).

    Non-ASCII header values are RFC 2047 encoded by the SMTP policy; bodies are
    quoted-printable, so no line comes near the 998-octet limit.
    """
    msg = EmailMessage(policy=policy.SMTP)
    subject = header_value(rendered.subject)
    msg["Subject"] = subject if subject.isascii() else EncodedHeader("Subject", subject)
    msg["From"] = Address("Frontier Monitor", addr_spec=sender)
    msg["To"] = Address(addr_spec=recipient)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def new_message_id(sender: str, kind: str = "digest") -> str:
    domain = sender.rpartition("@")[2] or "frontier-monitor.invalid"
    return f"<{kind}.{uuid.uuid4().hex}@{domain}>"


class SmtpConnection:
    """One SMTP session: its advertised SIZE limit and a send that reports what is known."""

    def __init__(self, client: smtplib.SMTP, cfg: SmtpConfig) -> None:
        self.client, self.cfg = client, cfg

    @property
    def size_limit(self) -> int | None:
        value = self.client.esmtp_features.get("size", "").strip()
        return int(value) if value.isascii() and value.isdigit() and int(value) > 0 else None

    def send(self, data: bytes, sender: str, recipient: str) -> None:
        """Send one message; raise DeliveryError (permanent for 5xx, uncertain when the
        connection was lost after the message went out and before the server's reply)."""
        c = self.client
        try:
            options = [f"SIZE={len(data)}"] if c.has_extn("size") else []
            code, reply = c.mail(sender, options)
            if code != 250:
                raise _refused(recipient, "MAIL FROM", code, reply)
            code, reply = c.rcpt(recipient)
            if code not in (250, 251):
                raise _refused(recipient, "RCPT TO", code, reply)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(recipient, f"connection lost: {exc}", permanent=False) from exc
        try:
            code, reply = c.data(data)
        except smtplib.SMTPDataError as exc:
            raise _refused(recipient, "DATA", exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                recipient,
                f"connection lost before the server confirmed the message: {exc}",
                permanent=False,
                uncertain=True,
            ) from exc
        if code != 250:
            raise _refused(recipient, "DATA", code, reply)


def _refused(recipient: str, stage: str, code: int, reply: bytes | str) -> DeliveryError:
    return DeliveryError(
        recipient, f"{stage} refused: {code} {_text(reply)}", permanent=500 <= code < 600
    )


@contextmanager
def smtp_connection(cfg: SmtpConfig, recipient: str) -> Iterator[SmtpConnection]:
    """Connect, secure and log in; connection failures are temporary DeliveryErrors."""
    try:
        if cfg.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host,
                cfg.port,
                timeout=cfg.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            recipient, f"cannot connect to {cfg.host}:{cfg.port}: {exc}", permanent=False
        ) from exc
    try:
        try:
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if cfg.username:
                client.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                recipient,
                f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=False,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                recipient, f"SMTP session with {cfg.host}:{cfg.port} failed: {exc}", permanent=False
            ) from exc
        yield SmtpConnection(client, cfg)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def outbox_write(
    msg: EmailMessage,
    outbox: Path,
    digest_id: int,
    recipient: str,
    when: datetime,
    kind: str = "digest",
) -> Path:
    """Write a complete .eml file atomically and durably; one file per copy.

    The temporary file is fsynced before the rename and the directory after it, so a copy is
    marked sent only once its file would survive a power cut. An OSError (a full disk, an
    outbox that cannot be made) is raised after removing the partial file.
    """
    outbox.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
    path = outbox / f"{when:%Y%m%dT%H%M%SZ}-{kind}-{digest_id}-{safe}.eml"
    tmp = path.with_suffix(".tmp")
    try:
        with tmp.open("wb") as f:
            f.write(msg.as_bytes(policy=policy.SMTP))
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a partial file would only take space on a full disk
        raise
    tmp.replace(path)
    fd = os.open(outbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)  # the rename itself
    finally:
        os.close(fd)
    return path


# -- the ledger ---------------------------------------------------------------------------


def recipient_config(settings: Settings, address: str) -> Recipient:
    """The configured recipient, or defaults for one no longer configured (its pending copies
    are still delivered)."""
    found = next((r for r in settings.digest.recipients if r.address == address), None)
    return found or Recipient(address)


def claim_token() -> str:
    """A claim token for one delivery attempt: host:pid (for `died_here`), then a random part;
    it fits the 100 characters of `digest.claimed_by` with the longest host name."""
    return f"{OWNER}:{uuid.uuid4().hex[:12]}"


def _claim(settings: Settings, store: Store, digest_id: int, now: datetime) -> str | None:
    """Claim a pending copy for one attempt; return its token, None when someone holds it.

    A claim left by a process of this machine that was killed mid-delivery is taken over at
    once rather than when it expires.
    """
    lease = timedelta(seconds=settings.daemon.lease_seconds)
    token = claim_token()
    if store.claim_digest(digest_id, token, now, lease):
        return token
    holder = store.digest_claimer(digest_id)
    if holder is None or not died_here(holder):
        return None
    # Only the one that drops the dead claim may take the copy, so it is sent once.
    if not store.release_digest(digest_id, holder):
        return None
    return token if store.claim_digest(digest_id, token, now, lease) else None


def deliver(settings: Settings, store: Store, row: DigestRow, now: datetime) -> SendReport:
    """One delivery attempt of a frozen digest copy, re-rendered from its stories.

    Rendering uses the time it was frozen, so every attempt yields the same message with the
    same Message-ID. The stories shown in full are trimmed (never silently) to
    `max_stories` and to the server's SIZE limit. The stories are read after the copy is
    claimed, and a claimed copy takes no new ones (`Store.extend_digest`), so the mail holds
    exactly what is marked delivered.
    """
    token = _claim(settings, store, row.id, now)
    current = store.digest(row.id) if token is not None else None
    if token is None or current is None:
        # Another daemon, or another job of this one, is sending this copy right now.
        return SendReport(
            row.recipient, row.id, 0, "empty", kind=row.kind, error="claimed elsewhere"
        )
    row = current  # as it is now that it is ours (attempts, uncertain)
    r = recipient_config(settings, row.recipient)
    stories = store.stories_by_ids(store.digest_stories(row.id), recipient=row.recipient)
    if not stories:
        if not store.mark_digest(row.id, "sent", now, "no stories left to send", claim=token):
            return _superseded(row, 0)
        return SendReport(row.recipient, row.id, 0, "empty", kind=row.kind)
    tz = r.timezone or settings.digest.timezone
    health = store.feed_health() if row.kind == "digest" else []
    activity = (
        [  # as it was when frozen, so every attempt renders the same message
            (topic, seen)
            for topic, seen in store.topic_activity(row.created - timedelta(days=ACTIVITY_DAYS))
            if seen <= row.created
        ]
        if row.kind == "digest"
        else []
    )

    def build(shown: int) -> tuple[EmailMessage, bytes, digest_mod.RenderedDigest]:
        rendered = digest_mod.render(
            stories,
            recipient=row.recipient,
            timezone=tz,
            now=row.created,
            health=health,
            activity_rows=activity,
            shown=shown,
            kind=row.kind,
            digest_id=row.id,
            topics=r.topics,
            feedback_link=_feedback_links(settings, row.recipient, row.created),
        )
        msg = compose(
            rendered,
            sender=settings.digest.sender,
            recipient=row.recipient,
            message_id=row.message_id,
            when=row.created,
        )
        msg["X-Frontier-Monitor"] = f"{row.kind} {row.id}"
        return msg, msg.as_bytes(policy=policy.SMTP), rendered

    def fit(limit: int | None) -> tuple[EmailMessage, bytes, digest_mod.RenderedDigest]:
        shown = min(len(stories), settings.digest.max_stories)
        while True:
            msg, data, rendered = build(shown)
            budget = int(limit * SIZE_MARGIN) if limit else None
            if budget is None or len(data) <= budget or shown == 0:
                return msg, data, rendered
            shown = max(0, min(shown - 1, int(shown * budget / len(data) * 0.95)))

    try:
        if settings.smtp is None:
            msg, _data, rendered = fit(None)
            where = str(outbox_write(msg, settings.outbox, row.id, row.recipient, now, row.kind))
        else:
            with smtp_connection(settings.smtp, row.recipient) as conn:
                msg, data, rendered = fit(conn.size_limit)
                conn.send(data, settings.digest.sender, row.recipient)
            where = _smtp_where(settings)
    except DeliveryError as exc:
        return _failed(store, row, now, exc, len(stories), token)
    except OSError as exc:
        # A full disk or an unwritable outbox fails this copy's attempt, not the others'.
        target = f"the outbox {settings.outbox}" if settings.smtp is None else _smtp_where(settings)
        failure = DeliveryError(
            row.recipient, f"cannot deliver to {target}: {exc}", permanent=False
        )
        return _failed(store, row, now, failure, len(stories), token)
    if not store.mark_digest(row.id, "sent", now, claim=token, shown=rendered.shown):
        return _superseded(row, len(stories))
    log.info(
        "delivered %s %d to %s: %d stories (%d shown)",
        row.kind,
        row.id,
        row.recipient,
        len(stories),
        rendered.shown,
    )
    return SendReport(
        row.recipient,
        row.id,
        len(stories),
        "sent",
        where,
        kind=row.kind,
        left_out=rendered.left_out,
    )


def _smtp_where(settings: Settings) -> str:
    """The SMTP server copies go to, as reports and errors name it."""
    return f"{settings.smtp.host}:{settings.smtp.port}" if settings.smtp else "no SMTP server"


def _superseded(row: DigestRow, n: int) -> SendReport:
    """The attempt's claim was taken over before it could record its outcome: the copy stays
    with whoever holds it now, and goes again if it is still pending."""
    error = "claim lost before the outcome was recorded (taken over or extended)"
    log.warning("%s %d to %s: attempt superseded: %s", row.kind, row.id, row.recipient, error)
    return SendReport(row.recipient, row.id, n, "superseded", error=error, kind=row.kind)


def _failed(
    store: Store, row: DigestRow, now: datetime, exc: DeliveryError, n: int, token: str
) -> SendReport:
    if exc.permanent:
        if not store.mark_digest(row.id, "failed", now, exc.message, claim=token):
            return _superseded(row, n)
        log.error(
            "%s %d to %s failed permanently: %s", row.kind, row.id, row.recipient, exc.message
        )
        return SendReport(row.recipient, row.id, n, "failed", error=exc.message, kind=row.kind)
    wait = BACKOFF_MINUTES[min(row.attempts, len(BACKOFF_MINUTES) - 1)]
    retry_at = now + timedelta(minutes=wait)
    if not store.mark_digest(
        row.id,
        "pending",
        now,
        exc.message,
        claim=token,
        next_attempt=retry_at,
        uncertain=exc.uncertain,
    ):
        return _superseded(row, n)
    log.warning(
        "%s %d to %s still pending (retry at %s): %s",
        row.kind,
        row.id,
        row.recipient,
        retry_at.isoformat(timespec="minutes"),
        exc.message,
    )
    return SendReport(row.recipient, row.id, n, "pending", error=exc.message, kind=row.kind)


def retry_pending(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    force: bool = False,
    recipients: Sequence[str] | None = None,
    kind: str | None = None,
) -> list[SendReport]:
    """Deliver the pending copies whose next attempt has come (all of them with `force`)."""
    rows = store.pending_digests(
        kind=kind, due=None if force else now, due_beyond=None if force else now + RETRY_HORIZON
    )
    wanted = None if recipients is None else set(recipients)
    return [
        deliver(settings, store, row, now)
        for row in rows
        if wanted is None or row.recipient in wanted
    ]


def _absorb_and_retry(
    settings: Settings, store: Store, r: Recipient, kind: str, new_ids: list[int], now: datetime
) -> tuple[list[SendReport], list[int]]:
    """Retry the recipient's pending copies of `kind` now; new stories join the first copy
    that was certainly never delivered and is not being sent. Return the reports and the
    stories still unfrozen (the caller freezes them into a new copy)."""
    pending = store.pending_digests(recipient=r.address, kind=kind)
    clean = next((p for p in pending if not p.uncertain), None)
    if clean is not None and new_ids and store.extend_digest(clean.id, new_ids, now) is not None:
        new_ids = []
    reports = []
    for p in pending:
        row = store.digest(p.id)
        if row is not None and row.status == "pending":
            reports.append(deliver(settings, store, row, now))
    return reports, new_ids


def _freeze_and_send(
    settings: Settings, store: Store, r: Recipient, kind: str, ids: list[int], now: datetime
) -> SendReport | None:
    digest_id = store.freeze_digest(
        r.address, ids, new_message_id(settings.digest.sender, kind), now, kind=kind
    )
    row = store.digest(digest_id) if digest_id is not None else None
    if row is None:
        log.info("%s for %s: another run froze these stories first", kind, r.address)
        return None
    return deliver(settings, store, row, now)


def send_digests(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    recipients: Sequence[Recipient] | None = None,
    dry_run: bool = False,
    due_only: bool = False,
) -> list[SendReport]:
    """For each recipient: retry their pending digests at once, then freeze the stories not yet
    in any digest of theirs and deliver them. With `due_only` (the daemon), only recipients
    whose local send time has passed today without a digest."""
    reports: list[SendReport] = []
    for r in recipients if recipients is not None else settings.digest.recipients:
        # One process decides and freezes a recipient's digest at a time (several daemons).
        with store.exclusive(f"digest:{r.address}") as mine:
            if mine:
                reports += _digest_one(settings, store, r, now, dry_run=dry_run, due_only=due_only)
    return reports


def _digest_one(
    settings: Settings, store: Store, r: Recipient, now: datetime, *, dry_run: bool, due_only: bool
) -> list[SendReport]:
    """Retry the recipient's pending digests, then freeze and send what is new."""
    tz = r.timezone or settings.digest.timezone
    send_at = r.send_at or settings.digest.send_at
    # A digest made more than a day ahead of now was made by a fast clock: not "the last".
    last = store.last_digest_created(r.address, "digest", not_after=now + DAY + CLOCK_SLACK)
    if due_only and not digest_mod.digest_due(send_at, tz, now, last):
        # Today's digest exists; if its sender was killed before sending it, it goes now
        # rather than at the next retry.
        return _absorb_and_retry(settings, store, r, "digest", [], now)[0]
    new_ids = store.undelivered_story_ids(r.address, topics=r.topics, min_severity=r.min_severity)
    if dry_run:
        pending = store.pending_digests(recipient=r.address, kind="digest")
        n = len(new_ids) + sum(p.story_count for p in pending)
        status = "dry-run" if n else "empty"
        where = f"{len(pending)} pending, {len(new_ids)} new stories"
        return [SendReport(r.address, None, n, status, where)]
    done, new_ids = _absorb_and_retry(settings, store, r, "digest", new_ids, now)
    if new_ids:
        rep = _freeze_and_send(settings, store, r, "digest", new_ids, now)
        if rep is not None:
            done.append(rep)
    return done or [SendReport(r.address, None, 0, "empty")]


def send_alerts(settings: Settings, store: Store, now: datetime) -> list[SendReport]:
    """Short alert emails for new stories of severity `alert` (call after each poll pass).

    At most one alert email per recipient per `digest.alert_interval_minutes`; what comes in
    meanwhile waits for the next one. A recipient with a pending alert gets the new stories
    added to it when it was certainly never delivered; its retry follows the backoff.
    """
    reports: list[SendReport] = []
    for r in settings.digest.recipients:
        # One process decides a recipient's alerts at a time (several daemons on PostgreSQL).
        with store.exclusive(f"alert:{r.address}") as mine:
            rep = _alert_one(settings, store, r, now) if mine else None
        if rep is not None:
            reports.append(rep)
    return reports


def _alert_one(settings: Settings, store: Store, r: Recipient, now: datetime) -> SendReport | None:
    """The alert email for one recipient, when one is due."""
    interval = timedelta(minutes=settings.digest.alert_interval_minutes)
    ids = store.undelivered_story_ids(
        r.address,
        topics=r.topics,
        min_severity="alert",
        kind="alert",
        since=now - ALERT_MAX_AGE,
    )
    pending = store.pending_digests(recipient=r.address, kind="alert")
    if pending:
        clean = next((p for p in pending if not p.uncertain), None)
        if clean is not None and ids:
            # Refused while the copy is being sent: the stories stay unfrozen and go in the
            # next alert email.
            store.extend_digest(clean.id, ids, now)
        return None  # retry_pending delivers it when its backoff has passed
    if not ids:
        return None
    last = store.last_digest_created(r.address, "alert", not_after=now + interval + CLOCK_SLACK)
    if not alert_due(now, last, interval):
        return None  # rate limit: batched into the next alert email
    return _freeze_and_send(settings, store, r, "alert", ids, now)


def _feedback_links(
    settings: Settings, recipient: str, created: datetime
) -> Callable[[int], str] | None:
    """Signed "not relevant" links on the desk, when `[web] base_url` is set (the config
    check makes sure a secret comes with it)."""
    web = settings.web
    if web.base_url is None or web.secret is None:
        return None
    from monitor.web.tokens import feedback_links

    return feedback_links(web.base_url, web.secret, recipient, created)


def preview(
    settings: Settings, store: Store, now: datetime, recipient: Recipient | None = None
) -> list[Path]:
    """Render what the next digest would hold (pending copies and new stories) to HTML and
    text files in the outbox; deliver and record nothing."""
    r = recipient or (
        settings.digest.recipients[0]
        if settings.digest.recipients
        else Recipient("preview@localhost")
    )
    ids: list[int] = []
    for p in store.pending_digests(recipient=r.address, kind="digest"):
        ids += store.digest_stories(p.id)
    ids += store.undelivered_story_ids(r.address, topics=r.topics, min_severity=r.min_severity)
    rendered = digest_mod.render(
        store.stories_by_ids(ids, recipient=r.address),
        recipient=r.address,
        timezone=r.timezone or settings.digest.timezone,
        now=now,
        health=store.feed_health(),
        activity_rows=store.topic_activity(now - timedelta(days=ACTIVITY_DAYS)),
        shown=settings.digest.max_stories,
        topics=r.topics,
        feedback_link=_feedback_links(settings, r.address, now),
    )
    settings.outbox.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", r.address)
    stem = settings.outbox / f"preview-{now:%Y%m%dT%H%M%SZ}-{safe}"
    html_path, text_path = Path(f"{stem}.html"), Path(f"{stem}.txt")
    html_path.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(rendered.text, encoding="utf-8")
    return [html_path, text_path]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
