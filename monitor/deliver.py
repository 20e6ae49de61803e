"""Delivering digests: compose the email, send it by SMTP or into the outbox, keep the ledger.

The ledger rule: stories are frozen into a pending digest row *before* sending, and the row is
marked sent only after the server's 250 (or the outbox file is written). A 4xx or a lost
connection leaves it pending for a retry with the same Message-ID; a 5xx marks it failed.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from monitor import digest as digest_mod
from monitor.errors import DeliveryError
from monitor.settings import Recipient, Settings, SmtpConfig
from monitor.store import Store

# Header values: no line breaks (header injection), NUL, or bidi controls (spoofed display).
_UNSAFE_HEADER = re.compile(r"[\r\n\x00\u202a-\u202e\u2066-\u2069\u200e\u200f]")


@dataclass(frozen=True, slots=True)
class SendReport:
    recipient: str
    digest_id: int | None
    stories: int
    status: str  # "sent", "pending", "failed", "empty"
    where: str = ""
    error: str | None = None


def header_value(value: str) -> str:
    return _UNSAFE_HEADER.sub(" ", value).strip()


def compose(
    rendered: digest_mod.RenderedDigest,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    when: datetime,
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second (RFC 2046 order)."""
    msg = EmailMessage()
    msg["Subject"] = header_value(rendered.subject)
    msg["From"] = Address("Frontier Monitor", addr_spec=sender)
    msg["To"] = recipient
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def new_message_id(sender: str) -> str:
    domain = sender.rpartition("@")[2] or "frontier-monitor.invalid"
    return f"<digest.{uuid.uuid4().hex}@{domain}>"


def smtp_send(msg: EmailMessage, cfg: SmtpConfig, recipient: str) -> None:
    """Send through the configured server; raise DeliveryError (permanent for 5xx)."""
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
        with client:
            if cfg.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if cfg.username:
                client.login(cfg.username, cfg.password or "")
            client.send_message(msg, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise DeliveryError(
            recipient, f"refused: {code} {_text(text)}", permanent=code >= 500
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            recipient, f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            recipient, f"connection to {cfg.host}:{cfg.port} failed: {exc}", permanent=False
        ) from exc


def outbox_write(
    msg: EmailMessage, outbox: Path, digest_id: int, recipient: str, when: datetime
) -> Path:
    """Write a complete .eml file atomically (temp file, then rename)."""
    outbox.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
    path = outbox / f"{when:%Y%m%dT%H%M%SZ}-digest-{digest_id}-{safe}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msg.as_bytes())
    tmp.replace(path)
    return path


def send_digests(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    recipients: Sequence[Recipient] | None = None,
    dry_run: bool = False,
) -> list[SendReport]:
    """Freeze each recipient's undelivered stories into a digest and deliver it."""
    reports = []
    for r in recipients if recipients is not None else settings.digest.recipients:
        reports.append(_send_one(settings, store, r, now, dry_run=dry_run))
    return reports


def _send_one(
    settings: Settings, store: Store, r: Recipient, now: datetime, *, dry_run: bool
) -> SendReport:
    limit = settings.digest.max_stories
    stories = store.undelivered_stories(
        r.address, topics=r.topics, min_severity=r.min_severity, limit=limit + 1
    )
    left_out = max(0, len(stories) - limit)
    stories = stories[:limit]
    if not stories:
        return SendReport(r.address, None, 0, "empty")
    rendered = digest_mod.render(
        stories,
        recipient=r.address,
        timezone=r.timezone or settings.digest.timezone,
        now=now,
        health=store.feed_health(),
        left_out=left_out,
    )
    if dry_run:
        return SendReport(r.address, None, len(stories), "dry-run", where=rendered.subject)
    message_id = new_message_id(settings.digest.sender)
    digest_id = store.freeze_digest(r.address, [s.story_id for s in stories], message_id, now)
    if digest_id is None:
        return SendReport(
            r.address, None, 0, "empty", error="another run froze these stories first"
        )
    msg = compose(
        rendered,
        sender=settings.digest.sender,
        recipient=r.address,
        message_id=message_id,
        when=now,
    )
    try:
        if settings.smtp is None:
            where = str(outbox_write(msg, settings.outbox, digest_id, r.address, now))
        else:
            smtp_send(msg, settings.smtp, r.address)
            where = f"{settings.smtp.host}:{settings.smtp.port}"
    except DeliveryError as exc:
        status = "failed" if exc.permanent else "pending"
        store.mark_digest(digest_id, status, now, error=exc.message)
        return SendReport(r.address, digest_id, len(stories), status, error=exc.message)
    store.mark_digest(digest_id, "sent", now)
    return SendReport(r.address, digest_id, len(stories), "sent", where=where)


def preview(
    settings: Settings, store: Store, now: datetime, recipient: Recipient | None = None
) -> list[Path]:
    """Render the undelivered stories to HTML and text files in the outbox; deliver nothing."""
    r = recipient or (
        settings.digest.recipients[0]
        if settings.digest.recipients
        else Recipient("preview@localhost")
    )
    stories = store.undelivered_stories(
        r.address, topics=r.topics, min_severity=r.min_severity, limit=settings.digest.max_stories
    )
    rendered = digest_mod.render(
        stories,
        recipient=r.address,
        timezone=r.timezone or settings.digest.timezone,
        now=now,
        health=store.feed_health(),
    )
    settings.outbox.mkdir(parents=True, exist_ok=True)
    stem = settings.outbox / f"preview-{now:%Y%m%dT%H%M%SZ}"
    html_path, text_path = stem.with_suffix(".html"), stem.with_suffix(".txt")
    html_path.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(rendered.text, encoding="utf-8")
    return [html_path, text_path]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
