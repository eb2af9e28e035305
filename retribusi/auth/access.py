"""The access policy: every endpoint declares who may call it, and anything undeclared is refused.

``@public`` or ``@roles_required(...)`` on a view function (or a flask-smorest MethodView class)
records the policy; :func:`enforce` runs before every request, and :func:`check_all_declared`
makes ``create_app`` fail at start-up if an endpoint forgot to declare one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden

F = TypeVar("F")
_ATTR = "retribusi_access"


@dataclass(frozen=True)
class Policy:
    public: bool
    roles: frozenset[Role]


def public(view: F) -> F:
    setattr(view, _ATTR, Policy(public=True, roles=frozenset()))
    return view


def roles_required(*roles: Role) -> Callable[[F], F]:
    if not roles:
        raise ValueError("name at least one role, or mark the view @public")

    def decorate(view: F) -> F:
        setattr(view, _ATTR, Policy(public=False, roles=frozenset(roles)))
        return view

    return decorate


def authenticated(view: F) -> F:
    """Any signed-in account, whatever its role (the home page, logout)."""
    setattr(view, _ATTR, Policy(public=False, roles=frozenset(Role)))
    return view


def policy_of(view: object) -> Policy | None:
    policy = getattr(view, _ATTR, None)
    if policy is None:
        policy = getattr(getattr(view, "view_class", None), _ATTR, None)
    return cast(Policy | None, policy)


def _is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def check_all_declared(app: Flask, extra_public: Iterable[str] = ()) -> None:
    allowed = set(extra_public)
    missing = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if not _is_static(endpoint) and endpoint not in allowed and policy_of(view) is None
    ]
    if missing:
        raise RuntimeError(f"endpoints without an access policy: {sorted(missing)}")


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/snap/"))


def enforce() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    if endpoint is None or _is_static(endpoint):
        return None  # unknown URL: the 404 handler answers
    if endpoint in current_app.config["PUBLIC_ENDPOINTS"]:
        return None
    policy = policy_of(current_app.view_functions.get(endpoint))
    if policy is None:  # pragma: no cover - create_app refuses to start in this case
        abort(500)
    if policy.public:
        return None
    if not current_user.is_authenticated:
        if wants_json():
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if cast(User, current_user).role not in policy.roles:
        raise Forbidden("your role may not open this page")
    return None


def current_account() -> User:
    """The signed-in user (the policy already made sure there is one)."""
    return cast(User, cast(Any, current_user)._get_current_object())


def require_market(user: User, market_code: str) -> None:
    """Officers act only in their own markets; admin and finance act everywhere."""
    if user.role is Role.OFFICER and market_code not in user.market_codes:
        raise Forbidden("this market is not one of yours")
    if user.role is Role.VENDOR:
        raise Forbidden("vendors do not act on markets")
