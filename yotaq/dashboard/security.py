"""The dashboard's guards: who may bind where, who may ask (the token), from which page a change may
come (CSRF), and the headers that keep the page to its own markup and scripts.

Without a token the dashboard listens on a loopback address only, and answers only requests whose
``Host`` is a loopback name: a page elsewhere cannot reach it through DNS rebinding. With a token,
every request but the login form and the static files needs it, as the cookie the login form sets or
as ``Authorization: Bearer <token>``. Every POST needs the process's CSRF token (a ``SameSite=Strict``
cookie and the same value in a form field or the ``X-CSRF-Token`` header) and, when the browser says
where it comes from (``Origin``, else ``Referer``), this very host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..exceptions import ConfigurationError

MIN_TOKEN_LENGTH = 16
SESSION_COOKIE = "yotaq_session"
CSRF_COOKIE = "yotaq_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = frozenset(("localhost", "localhost.", "ip6-localhost"))
OPEN_PATHS = ("/login", "/static/")  # the login form, and the package's own files: no secret in them
SECURITY_HEADERS = {
    # Only this origin's own scripts, styles and images: markup that slipped in could run nothing.
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token, or with a short one.

    Raises:
        ConfigurationError: saying what to do.
    """
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"the dashboard token must be at least {MIN_TOKEN_LENGTH} characters "
            '(python -c "import secrets; print(secrets.token_urlsafe())" makes one)'
        )
    if token is None and not is_loopback(host):
        raise ConfigurationError(
            f"the dashboard would listen on {host}, beyond this machine, without a token: "
            "give --token or set YOTAQ_DASHBOARD_TOKEN (or keep the default --host 127.0.0.1)"
        )


class Guard:
    """ASGI middleware: the token, the loopback ``Host`` check and the security headers."""

    def __init__(self, app: ASGIApp, *, token: str | None, csrf: str) -> None:
        self.app = app
        self.token = token
        self.csrf = csrf
        # What the session cookie holds: derived from the token, so the cookie is not the token itself.
        self.session = None if token is None else session_value(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        refusal = self.refusal(connection)
        if refusal is not None:
            await _with_headers(refusal)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, connection: HTTPConnection) -> Response | None:
        """The response refusing this request, or None to let it through."""
        if self.token is None:
            host = connection.headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if not is_loopback(name):
                return PlainTextResponse("this dashboard answers on a loopback address only", status_code=421)
            return None
        path = connection.url.path
        if path.startswith(OPEN_PATHS) or self.authenticated(connection):
            return None
        accepts_html = "text/html" in connection.headers.get("accept", "")
        if connection.scope["method"] == "GET" and accepts_html:
            return RedirectResponse(f"/login?next={quote(_relative(str(connection.url)))}", status_code=303)
        return PlainTextResponse(
            "a token is needed", status_code=401, headers={"www-authenticate": 'Bearer realm="yotaq"'}
        )

    def authenticated(self, connection: HTTPConnection) -> bool:
        assert self.token is not None and self.session is not None
        scheme, _, given = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return True
        cookie = connection.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session.encode())


def _with_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"yotaq dashboard session", hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//elsewhere``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def new_csrf_token() -> str:
    """The CSRF token of this process: random, kept in memory only."""
    return secrets.token_urlsafe(32)


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from a page of this host (``Origin``, else
    ``Referer``); a client that says neither (not a browser) passes, and needs the token all the same."""
    host = request.headers.get("host", "")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            return value != "null" and urlsplit(value).netloc == host and host != ""
    return True


def csrf_ok(request: Request, form: Mapping[str, object], csrf: str) -> bool:
    """The double-submit check: the cookie, and the form field or header, both hold this process's token."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    sent = sent if isinstance(sent, str) else ""
    return hmac.compare_digest(cookie.encode(), csrf.encode()) and hmac.compare_digest(sent.encode(), csrf.encode())


def set_csrf_cookie(response: Response, request: Request, csrf: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
