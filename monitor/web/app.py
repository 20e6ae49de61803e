"""The desk's Starlette application: routes, their parameters, the pages and the headers.

Reading routes answer GET (and HEAD) only; the feedback forms POST, with a CSRF token
(monitor.web.feedback); any other method is 405. Pages are Jinja2
templates (monitor/templates/web) with autoescaping on, so feed text is always text: no
feed HTML is rendered, and a link is only made of an http or https URL (`safe_link`).
Every response carries a Content-Security-Policy that allows no script at all (the pages
have none) and only the desk's own stylesheet, inlined and allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.errors import QueryError
from monitor.search import (
    FIELDS,
    Filters,
    highlight,
    make_filters,
    outlets_label,
    safe_link,
)
from monitor.web import feeds, tokens
from monitor.web.auth import Auth, AuthGate
from monitor.web.feedback import FeedbackRoutes, SessionCookie, csrf_for
from monitor.web.login import LoginRoutes

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.search import StoryCard

INDEX_PER_PAGE = 100
SEARCH_PER_PAGE = 25
FEED_ENTRIES = 50
NO_TOPIC = "(no topic)"


def _stylesheet() -> str:
    return (resources.files("monitor") / "templates" / "web" / "desk.css").read_text("utf-8")


def content_security_policy(css: str) -> str:
    """No script from anywhere, no inline script; the one inline stylesheet by its hash."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; script-src 'none'; "
        f"style-src 'sha256-{digest}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the security headers to every response, errors and 405s included."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
            # Desk URLs carry searches: none leaves the desk. Not no-referrer: under it a
            # browser sends "Origin: null" with the desk's own forms, and the CSRF check
            # refuses a POST from another origin (monitor.web.feedback).
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    total: int

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def pager(total: int, page: int, per_page: int) -> Pager:
    return Pager(page, max(1, -(-total // per_page)), total)


def by_topic(cards: list[StoryCard]) -> list[tuple[str, list[StoryCard]]]:
    """Stories under their first topic, topics in the order of their newest story."""
    groups: dict[str, list[StoryCard]] = {}
    for card in cards:
        groups.setdefault(card.topics[0] if card.topics else NO_TOPIC, []).append(card)
    return list(groups.items())


def _page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise QueryError(f"expected a whole number from 1, got {raw!r}", None, "page")
    return int(raw)


_PARAMS = ("q", *FIELDS)


def _params(request: Request, names: tuple[str, ...] = _PARAMS) -> dict[str, str]:
    return {k: request.query_params[k] for k in names if request.query_params.get(k)}


def _filters(params: Mapping[str, str]) -> Filters:
    return make_filters(params.get("q", ""), **{k: params.get(k) for k in FIELDS})


class Desk:
    """The route handlers over one store (run by Starlette in its thread pool)."""

    def __init__(self, store: Store, css: str, key: bytes) -> None:
        self.store = store
        self.key = key  # signs the forms' CSRF tokens
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("monitor", "templates/web"),
            autoescape=True,  # every template, whatever its name: feed text is never HTML
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=_when, link=safe_link, outlets=outlets_label)
        self.env.globals.update(css=Markup(css), urlencode=urlencode)

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status)

    def bad_query(self, exc: QueryError, params: Mapping[str, str], page: str) -> HTMLResponse:
        q = params.get("q", "")
        marked = None
        if exc.source == "q" and exc.position is not None:
            at = exc.position - 1
            marked = (q[:at], q[at : at + 1] or " ", q[at + 1 :])
        return self.render(
            "error.html",
            400,
            title="Cannot read the query",
            error=exc,
            marked=marked,
            params=params,
            page=page,
        )

    # -- pages -----------------------------------------------------------------------------

    def index(self, request: Request) -> Response:
        params = _params(request, FIELDS)
        try:
            filters = _filters(params)
            page = _page_number(request.query_params.get("page"))
        except QueryError as exc:
            return self.bad_query(exc, params, "index")
        found = self.store.story_page(filters, page=page, per_page=INDEX_PER_PAGE)
        return self.render(
            "index.html",
            title="Today and recent",
            groups=by_topic(found.cards),
            pager=pager(found.total, page, INDEX_PER_PAGE),
            params=params,
            outlets=self.store.outlet_names(),
        )

    def search(self, request: Request) -> Response:
        params = _params(request)
        try:
            filters = _filters(params)
            page = _page_number(request.query_params.get("page"))
        except QueryError as exc:
            return self.bad_query(exc, params, "search")
        found = None
        if filters.has_text or len(params) > 0:
            found = self.store.story_page(filters, page=page, per_page=SEARCH_PER_PAGE)
        return self.render(
            "search.html",
            title="Search",
            found=found,
            pager=pager(found.total, page, SEARCH_PER_PAGE) if found else None,
            params=params,
            outlets=self.store.outlet_names(),
        )

    def story(self, request: Request) -> Response:
        story_id: int = request.path_params["story_id"]
        card = self.store.story_card(story_id)
        if card is None:
            raise HTTPException(404, f"no story {story_id}")
        reports = []
        for r in self.store.story_reports(story_id):
            spans = [s for m in r.matches for s in m.spans]
            reports.append(
                {
                    "report": r,
                    "title": highlight(
                        r.title, [(s.start, s.end) for s in spans if s.field == "title"]
                    ),
                    "summary": highlight(
                        r.summary, [(s.start, s.end) for s in spans if s.field == "summary"]
                    ),
                }
            )
        return self.render(
            "story.html",
            title=card.title,
            card=card,
            reports=reports,
            updates=self.store.story_updates(story_id),
            csrf=csrf_for(request, self.key),
            split_from=request.query_params.get("split_from", ""),
            marked=request.query_params.get("marked", ""),
        )

    def feed_health(self, request: Request) -> Response:
        return self.render("feeds.html", title="Feeds", feeds=self.store.feed_health())

    def digest_ledger(self, request: Request) -> Response:
        return self.render("digests.html", title="Digests", digests=self.store.digests(limit=500))

    # -- feeds -----------------------------------------------------------------------------

    def _feed(
        self,
        request: Request,
        write: Callable[..., bytes],
        media_type: str,
    ) -> Response:
        params = _params(request)
        try:
            filters = _filters(params)
        except QueryError as exc:
            return Response(f"{exc}\n", 400, media_type="text/plain; charset=utf-8")
        cards = self.store.story_page(filters, page=1, per_page=FEED_ENTRIES).cards
        base = str(request.base_url).rstrip("/")
        query = f"?{urlencode(params)}" if params else ""
        described = ", ".join(f"{k} {v}" for k, v in params.items())
        body = write(
            cards,
            title="Frontier Monitor: " + (described or "all stories"),
            self_url=f"{base}{request.url.path}{query}",
            page_url=f"{base}/search{query}" if params else f"{base}/",
            story_url=base + "/stories/{id}",
        )
        headers = feeds.validators(body, feeds.updated(cards))
        headers["Cache-Control"] = "no-cache"
        if feeds.not_modified(request.headers, headers):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    def atom(self, request: Request) -> Response:
        return self._feed(request, feeds.atom, "application/atom+xml; charset=utf-8")

    def json_feed(self, request: Request) -> Response:
        return self._feed(request, feeds.json_feed, "application/feed+json; charset=utf-8")


def make_app(store: Store, secret: bytes | None = None, auth: Auth | None = None) -> ASGIApp:
    """The desk over `store`, with its security headers, session cookie and, when `auth`
    has users or a proxy, its sign-in gate. `secret` (`[web] secret`) signs digest feedback
    links, forms and sign-ins; without it forms and sign-ins are signed with a key of this
    process (a restart asks for a reload and a new sign-in) and links are refused."""
    css = _stylesheet()
    process_key = tokens.new_session().encode()
    key = tokens.derive(secret, "forms") if secret else process_key
    auth_key = tokens.derive(secret, "auth") if secret else process_key
    auth = auth or Auth()
    desk = Desk(store, css, key)
    fb = FeedbackRoutes(desk, key, tokens.derive(secret, "links") if secret else None)
    login = LoginRoutes(desk, fb, auth, auth_key)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return Response(
                "method not allowed: pages are GET, feedback forms POST\n",
                405,
                headers=exc.headers,
                media_type="text/plain; charset=utf-8",
            )
        return desk.render(
            "error.html",
            exc.status_code,
            title=str(exc.status_code),
            error=exc.detail,
            marked=None,
            params={},
            page="",
        )

    app = Starlette(
        routes=[
            Route("/", desk.index),
            Route("/stories/{story_id:int}", desk.story),
            Route("/stories.atom", desk.atom),
            Route("/stories.json", desk.json_feed),
            Route("/search", desk.search),
            Route("/feeds", desk.feed_health),
            Route("/digests", desk.digest_ledger),
            Route("/feedback", fb.feedback_page),
            Route("/stories/{story_id:int}/not-relevant", fb.not_relevant, methods=["POST"]),
            Route("/stories/{story_id:int}/split", fb.split, methods=["POST"]),
            Route("/missed", fb.missed, methods=["POST"]),
            Route("/login", login.login_page),
            Route("/login", login.login, methods=["POST"]),
            Route("/logout", login.logout, methods=["POST"]),
            Route("/stories/{story_id:int}/link/{action}", fb.link_page),
            Route("/stories/{story_id:int}/link/{action}", fb.link_apply, methods=["POST"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    return SecurityHeaders(
        SessionCookie(AuthGate(app, auth, auth_key)), content_security_policy(css)
    )
