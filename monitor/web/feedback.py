"""The desk's state-changing requests: analysts' feedback forms, and the session cookie
and CSRF check they stand on.

Every change is a POST of a plain form (no script: the CSP forbids it) carrying the
session's CSRF token (monitor.web.tokens.csrf_token); a POST without the session cookie,
with a wrong token or from another origin is refused with 403 before anything is read
from the form. Forms answer with a 303 to the page that shows the result.

A digest feedback link is a GET that only shows a confirmation form: mail scanners open
links, and a GET must change nothing. The form posts the link's token, which stands in for
sign-in: it is bound to recipient, story and action (monitor.web.tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.errors import FeedbackError, LinkError
from monitor.match.evaluate import TOPICS
from monitor.web import tokens
from monitor.web.auth import request_cookies

if TYPE_CHECKING:
    from monitor.web.app import Desk

SESSION_COOKIE = "desk_session"
MAX_FORM = 64 * 1024  # a feedback form is a few fields; anything bigger is not one
ANONYMOUS = "desk user (no sign-in)"  # who, on a loopback desk without users


class SessionCookie:
    """Gives every browser a session id (scope["desk_session"]), set as a cookie the first
    time: HttpOnly and SameSite=Strict, so other sites' pages neither read nor send it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = request_cookies(scope).get(SESSION_COOKIE)
        fresh = session is None
        scope["desk_session"] = session or tokens.new_session()

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = (
                    f"{SESSION_COOKIE}={scope['desk_session']}; Path=/; HttpOnly; SameSite=Strict"
                )
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def who(request: Request) -> str:
    """The signed-in user (set by monitor.web.auth), else the loopback desk's user."""
    return str(request.scope.get("desk_user") or ANONYMOUS)


def csrf_for(request: Request, key: bytes) -> str:
    return tokens.csrf_token(key, request.scope["desk_session"])


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST came from in Origin; it must be the desk itself."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


class FeedbackRoutes:
    """The POST handlers, over the desk's store, templates and key."""

    def __init__(self, desk: Desk, key: bytes, link_key: bytes | None) -> None:
        self.desk, self.key, self.link_key = desk, key, link_key

    async def form(self, request: Request) -> dict[str, str] | Response:
        """The posted form, or the 403/400 page that refuses it."""
        if not _same_origin(request):
            return self._refuse(403, "Refused", "the form was posted from another site")
        body = await request.body()
        if len(body) > MAX_FORM:
            return self._refuse(400, "Cannot read the form", "the form is too large")
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as exc:
            return self._refuse(400, "Cannot read the form", f"the form is malformed: {exc}")
        form = {k: v[0] for k, v in fields.items()}
        if not tokens.csrf_ok(self.key, request.scope.get("desk_session"), form.get("csrf")):
            return self._refuse(
                403,
                "Refused",
                "the form's CSRF token is missing or does not match this session: "
                "reload the page and submit it again",
            )
        return form

    def _refuse(self, status: int, title: str, message: str) -> Response:
        return self.desk.render(
            "error.html", status, title=title, error=message, marked=None, params={}, page=""
        )

    async def _apply(self, work: Callable[[], Any], then: Callable[[Any], str]) -> Response:
        try:
            result = await run_in_threadpool(work)
        except FeedbackError as exc:
            return self._refuse(400, "Cannot apply the feedback", str(exc))
        return RedirectResponse(then(result), status_code=303)

    async def not_relevant(self, request: Request) -> Response:
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        story_id: int = request.path_params["story_id"]
        user, now = who(request), datetime.now(UTC)
        note = form.get("note", "")
        return await self._apply(
            lambda: self.desk.store.mark_not_relevant(story_id, user, now, note),
            lambda _: f"/stories/{story_id}?marked=not_relevant",
        )

    async def split(self, request: Request) -> Response:
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        story_id: int = request.path_params["story_id"]
        item = form.get("item", "")
        if not item.isdigit():
            return self._refuse(
                400, "Cannot apply the feedback", f"item: not a report id: {item!r}"
            )
        user, now = who(request), datetime.now(UTC)
        note = form.get("note", "")
        return await self._apply(
            lambda: self.desk.store.split_report(story_id, int(item), user, now, note),
            lambda new: f"/stories/{new}?split_from={story_id}",
        )

    async def missed(self, request: Request) -> Response:
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        target = form.get("item", "").strip()
        topic = form.get("topic", "").strip()
        if topic and topic not in TOPICS:
            return self._refuse(
                400,
                "Cannot apply the feedback",
                f"topic: unknown topic {topic!r} (expected one of: {', '.join(sorted(TOPICS))})",
            )
        item_id = int(target) if target.isdigit() else None
        url = None if item_id is not None else target
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            return self._refuse(
                400,
                "Cannot apply the feedback",
                f"item: expected a stored item's id or an http(s) URL, got {target!r}",
            )
        user, now = who(request), datetime.now(UTC)
        note = form.get("note", "")
        return await self._apply(
            lambda: self.desk.store.mark_missed(
                user, now, item_id=item_id, url=url, topic=topic, note=note
            ),
            lambda _: "/feedback?marked=missed",
        )

    # -- digest feedback links -------------------------------------------------------------

    def _link(self, request: Request) -> tokens.Link | Response:
        """The link this request carries, or the 403 page saying why it does not hold."""
        if self.link_key is None:
            return self._refuse(
                403, "Feedback links are off", "this desk has no [web] secret to check links"
            )
        story_id: int = request.path_params["story_id"]
        action: str = request.path_params["action"]
        token = request.query_params.get("token", "")
        try:
            return tokens.check_link(self.link_key, token, story_id, action, datetime.now(UTC))
        except LinkError as exc:
            title = "Expired link" if exc.reason == "expired" else "Forged link"
            return self._refuse(403, title, str(exc))

    def link_page(self, request: Request) -> Response:
        """A digest link opened: a confirmation form (a GET changes nothing)."""
        link = self._link(request)
        if isinstance(link, Response):
            return link
        card = self.desk.store.story_card(link.story_id)
        return self.desk.render(
            "link.html",
            title="Not relevant?",
            link=link,
            card=card,
            token=request.query_params["token"],
            csrf=csrf_for(request, self.key),
            done=False,
        )

    async def link_apply(self, request: Request) -> Response:
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        link = self._link(request)
        if isinstance(link, Response):
            return link
        now = datetime.now(UTC)
        try:
            await run_in_threadpool(
                self.desk.store.mark_not_relevant,
                link.story_id,
                link.recipient,
                now,
                form.get("note", ""),
            )
        except FeedbackError as exc:
            return self._refuse(400, "Cannot apply the feedback", str(exc))
        return self.desk.render(
            "link.html", title="Thank you", link=link, card=None, token="", csrf="", done=True
        )

    def feedback_page(self, request: Request) -> Response:
        return self.desk.render(
            "feedback.html",
            title="Feedback",
            rows=self.desk.store.feedback(limit=500),
            csrf=csrf_for(request, self.key),
            topics=sorted(TOPICS),
            marked=request.query_params.get("marked", ""),
        )
