"""Who may use the desk: sign-in with argon2-hashed passwords from the config, or a trusted
reverse proxy's user header; the gate in front of every route.

With neither configured the desk has no users and `monitor.web.server` serves it on a
loopback address only. With either, every page needs a signed-in user, except the sign-in
page itself, digest feedback links (their token stands in for sign-in) and, where
`[web] public_feeds = true`, the Atom and JSON feeds. Feed readers cannot fill in a form,
so the feeds also take HTTP Basic credentials of a configured user.

A signed-in browser carries `desk_auth`: the user, an expiry and an HMAC over both and the
session id, so the cookie is worthless with another session. The session id is replaced at
sign-in (no session fixation). The proxy header counts only on connections from the
proxy's own address: anyone else could send it.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.web import tokens

AUTH_COOKIE = "desk_auth"
SIGNED_IN_FOR = 12 * 3600  # seconds: a working day, then sign in again
FEEDS = ("/stories.atom", "/stories.json")
REALM = 'Basic realm="Frontier Monitor", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class Auth:
    """The desk's authentication, from `[web]` (monitor.settings.WebConfig)."""

    users: Mapping[str, str] = field(default_factory=dict)  # name → argon2 hash
    proxy_header: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    public_feeds: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.proxy_header)


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (argon2-cffi's current defaults)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


_DUMMY: list[str] = []  # a hash to check unknown names against, made once


def verify_password(users: Mapping[str, str], name: str, password: str) -> bool:
    """Whether `password` is `name`'s. An unknown name costs a verification too, so the
    time taken does not tell which names exist."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    stored = users.get(name)
    if stored is None:
        if not _DUMMY:
            _DUMMY.append(hash_password("not a password of anyone"))
        stored = _DUMMY[0]
    try:
        ok = PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and name in users


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def sign_in_cookie(key: bytes, session: str, name: str, now: float) -> str:
    expires = str(int(now) + SIGNED_IN_FOR)
    return f"{_b64(name)}.{expires}.{tokens.mac(key, 'auth', session, name, expires)}"


def signed_in(key: bytes, session: str, cookie: str, now: float) -> str | None:
    """The user a `desk_auth` cookie names, if it holds for this session and is not old."""
    parts = cookie.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        name = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode("utf-8")
    except ValueError:
        return None
    expected = tokens.mac(key, "auth", session, name, parts[1])
    if not hmac.compare_digest(expected, parts[2]) or int(parts[1]) < now:
        return None
    return name


def request_cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: as if there were none
                continue
            out.update({k: m.value for k, m in jar.items()})
    return out


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _basic_user(auth: Auth, scope: Scope) -> str | None:
    header = _header(scope, b"authorization")
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        name, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None
    return name if verify_password(auth.users, name, password) else None


def _open(auth: Auth, path: str) -> bool:
    """Paths anyone may open: sign-in, digest links, and public feeds."""
    if path == "/login" or (path.startswith("/stories/") and "/link/" in path):
        return True
    return auth.public_feeds and path in FEEDS


class AuthGate:
    """Sets scope["desk_user"] for a signed-in user; refuses anyone else what is not open."""

    def __init__(self, app: ASGIApp, auth: Auth, key: bytes) -> None:
        self.app, self.auth, self.key = app, auth, key
        self.proxy_header = (auth.proxy_header or "").lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.auth.enabled:
            await self.app(scope, receive, send)
            return
        user = self.user(scope)
        if user is not None:
            scope["desk_user"] = user
        path: str = scope["path"]
        if user is not None or _open(self.auth, path):
            await self.app(scope, receive, send)
        elif path in FEEDS:
            await _plain(send, 401, "sign-in needed: use a desk user's name and password\n", REALM)
        elif not self.auth.users:
            await _plain(send, 403, "this desk is reached through its proxy only\n")
        else:
            target = path + (
                f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            )
            await _redirect(send, f"/login?next={quote(target, safe='')}")

    def user(self, scope: Scope) -> str | None:
        client = scope.get("client")
        if self.proxy_header and client and client[0] in self.auth.proxy_addresses:
            name = _header(scope, self.proxy_header)
            if name:
                return name.strip()
        if not self.auth.users:
            return None
        cookie = request_cookies(scope).get(AUTH_COOKIE)
        session = scope.get("desk_session")
        if cookie and session:
            name = signed_in(self.key, session, cookie, time.time())
            if name is not None and name in self.auth.users:
                return name
        if scope["path"] in FEEDS:
            return _basic_user(self.auth, scope)
        return None


async def _plain(send: Send, status: int, text: str, challenge: str | None = None) -> None:
    headers: list[Any] = [(b"content-type", b"text/plain; charset=utf-8")]
    if challenge:
        headers.append((b"www-authenticate", challenge.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode("utf-8")})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1"))],
        }
    )
    await send({"type": "http.response.body", "body": b""})
