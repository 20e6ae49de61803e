"""The sign-in and sign-out forms of a desk with users (monitor.web.auth holds the rules).

Signing in checks the CSRF token like every form, replaces the session id (so a session id
planted before sign-in is worth nothing after) and sets the signed `desk_auth` cookie.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.web import tokens
from monitor.web.auth import AUTH_COOKIE, SIGNED_IN_FOR, Auth, sign_in_cookie, verify_password
from monitor.web.feedback import SESSION_COOKIE, FeedbackRoutes, csrf_for

if TYPE_CHECKING:
    from monitor.web.app import Desk


def _local(target: str) -> str:
    """`next` only ever leads to a path of the desk (never another site: //host, \\\\host)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


class LoginRoutes:
    def __init__(self, desk: Desk, forms: FeedbackRoutes, auth: Auth, key: bytes) -> None:
        self.desk, self.forms, self.auth, self.key = desk, forms, auth, key

    def page(self, request: Request, error: str = "", status: int = 200) -> Response:
        return self.desk.render(
            "login.html",
            status,
            title="Sign in",
            csrf=csrf_for(request, self.forms.key),
            next=_local(request.query_params.get("next", "/")),
            error=error,
            users=bool(self.auth.users),
            user=request.scope.get("desk_user") or "",
        )

    def login_page(self, request: Request) -> Response:
        return self.page(request)

    async def login(self, request: Request) -> Response:
        form = await self.forms.form(request)
        if isinstance(form, Response):
            return form
        name, password = form.get("name", ""), form.get("password", "")
        ok = await run_in_threadpool(verify_password, self.auth.users, name, password)
        if not ok:
            return self.page(request, "wrong name or password", 401)
        session = tokens.new_session()
        response = RedirectResponse(_local(form.get("next", "/")), status_code=303)
        response.set_cookie(SESSION_COOKIE, session, path="/", httponly=True, samesite="strict")
        response.set_cookie(
            AUTH_COOKIE,
            sign_in_cookie(self.key, session, name, time.time()),
            max_age=SIGNED_IN_FOR,
            path="/",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request) -> Response:
        form = await self.forms.form(request)
        if isinstance(form, Response):
            return form
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(AUTH_COOKIE, path="/")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
