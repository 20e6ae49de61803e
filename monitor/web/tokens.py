"""Signed tokens of the desk: the per-session CSRF token of its forms and the digest
email's feedback links. Both are HMAC-SHA256 under a key the desk holds; nothing here does
I/O, and the clock is the caller's.

A feedback link's token is bound to its recipient, story, action and expiry (30 days):
changing any of them breaks the signature, so a link does nothing for another story or
action. `check_link` says which way a token failed (forged or expired), for the 403 page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from monitor.errors import LinkError

LINK_LIFETIME = timedelta(days=30)
ACTIONS = ("not_relevant",)  # what a digest link may do


def new_session() -> str:
    """A fresh session id for the desk's session cookie."""
    return secrets.token_urlsafe(24)


def derive(secret: bytes, purpose: str) -> bytes:
    """A key of its own for each use of the configured secret."""
    return hmac.new(secret, purpose.encode("ascii"), hashlib.sha256).digest()


def mac(key: bytes, *parts: str) -> str:
    # Parts joined by a byte no part holds (recipients and actions are text without NUL).
    digest = hmac.new(key, "\0".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_token(key: bytes, session: str) -> str:
    """The form token of a session: the session cookie signed, so a page of another site
    (which can make the browser send the cookie but cannot read it) cannot make it."""
    return mac(key, "csrf", session)


def csrf_ok(key: bytes, session: str | None, token: str | None) -> bool:
    if not session or not token:
        return False
    return hmac.compare_digest(csrf_token(key, session), token)


@dataclass(frozen=True, slots=True)
class Link:
    recipient: str
    story_id: int
    action: str
    expires: int  # seconds since the epoch


def sign_link(key: bytes, recipient: str, story_id: int, action: str, now: datetime) -> str:
    """The token of a digest feedback link, valid for LINK_LIFETIME from `now`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown feedback action {action!r}")
    expires = int((now + LINK_LIFETIME).timestamp())
    who = base64.urlsafe_b64encode(recipient.encode("utf-8")).rstrip(b"=").decode("ascii")
    signature = mac(key, "link", recipient, str(story_id), action, str(expires))
    return f"{who}.{expires}.{signature}"


def check_link(key: bytes, token: str, story_id: int, action: str, now: datetime) -> Link:
    """The link `token` signs for this story and action; LinkError("forged") when it was
    not made by this key for them, LinkError("expired") when it was but is too old."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise LinkError("forged", "the link's token is malformed")
    who, expires_text, signature = parts
    try:
        recipient = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode("utf-8")
    except ValueError:
        raise LinkError("forged", "the link's token is malformed") from None
    expected = mac(key, "link", recipient, str(story_id), action, expires_text)
    if not hmac.compare_digest(expected, signature):
        raise LinkError(
            "forged",
            "the link's signature does not match: it was not made for this story and action, "
            "or it was altered",
        )
    if int(expires_text) < now.timestamp():
        raise LinkError("expired", "the link has expired (links last 30 days): use the desk")
    return Link(recipient, story_id, action, int(expires_text))


def link_path(story_id: int, action: str) -> str:
    """The desk's path of a feedback link (the route in monitor.web.app)."""
    return f"/stories/{story_id}/link/{action}"


def feedback_links(
    base_url: str, secret: str, recipient: str, now: datetime
) -> Callable[[int], str]:
    """story id → the URL of its "not relevant" link for `recipient`, signed at `now` (a
    digest's creation time, so every attempt to send it renders the same links)."""
    key = derive(secret.encode("utf-8"), "links")
    base = base_url.rstrip("/")

    def link(story_id: int) -> str:
        token = sign_link(key, recipient, story_id, "not_relevant", now)
        return f"{base}{link_path(story_id, 'not_relevant')}?token={quote(token)}"

    return link
