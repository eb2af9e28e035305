"""Request guards and response headers: CSRF by rule, bearer tokens, the session loader, CSP."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, abort, current_app, request
from flask_login import LoginManager

from retribusi.auth.models import User
from retribusi.auth.services import user_for_token
from retribusi.db import parse_id
from retribusi.extensions import csrf, db

# No inline script or style anywhere, no other origin: the vendor page must work on a weak
# connection and a hostile network must not be able to inject anything.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bearer(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul() -> None:
    """PostgreSQL can neither store nor compare a text holding NUL (U+0000), and SQLite can: a
    path, query value, form field or JSON string holding one is refused here (400) before a view
    hands it to the database, where it was a 500 on PostgreSQL only. SNAP calls have their own
    checks (unprintable characters are ``400xx01``); uploaded files are read by the importers,
    which refuse NUL bytes with the reason."""
    if request.path.startswith("/snap/"):
        return
    suspects: list[Any] = [request.path, *request.args.items(multi=True)]
    if request.method in _UNSAFE_METHODS:
        suspects += request.form.items(multi=True)
        if request.is_json:
            suspects.append(request.get_json(silent=True))
    if _has_nul(suspects):
        abort(400, description="the request holds a NUL character (U+0000), which is refused")


def csrf_gate() -> None:
    """Forms and cookie-authenticated API calls need a CSRF token. Bank callbacks under /snap/
    are authenticated by signatures, and an API call that carries a bearer token or no session
    cookie at all has no ambient authority a forged cross-site request could borrow."""
    if request.method not in _UNSAFE_METHODS or request.path.startswith("/snap/"):
        return
    if request.path.startswith("/api/") and (
        _bearer(request) is not None
        or current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    ):
        return
    csrf.protect()


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.path.startswith(("/api/", "/snap/")) or request.cookies:
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_login(app: Flask, manager: LoginManager) -> None:
    manager.init_app(app)
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        number = parse_id(user_id)
        if number is None:
            return None
        user = db.session.get(User, number)
        return user if user is not None and user.active else None

    @manager.request_loader
    def load_from_token(req: Request) -> User | None:
        # Tokens are for the API only; a page never authenticates from a header.
        token = _bearer(req) if req.path.startswith("/api/") else None
        return user_for_token(token) if token else None
