"""Kernel API: who am I, and exchanging staff credentials for a bearer token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from retribusi.auth.access import authenticated, current_account, public
from retribusi.auth.services import authenticate, create_api_token
from retribusi.errors import DomainError
from retribusi.extensions import limiter

blp = Blueprint("kernel_api", __name__, url_prefix="/api/v1", description="Accounts and tokens")


class LoginFailed(DomainError):
    status = 401
    code = "login_failed"


class MeSchema(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    full_name = fields.String(required=True)
    login = fields.String(required=True, attribute="login_name")
    markets = fields.List(fields.String(), required=True, attribute="sorted_markets")


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    name = fields.String(load_default="api", validate=validate.Length(min=1, max=100))
    valid_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=365))


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


@blp.route("/me")
@authenticated
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        user = current_account()
        return {
            "id": user.id,
            "role": user.role.value,
            "full_name": user.full_name,
            "login_name": user.login_name,
            "sorted_markets": sorted(user.market_codes),
        }


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@blp.route("/tokens")
@public
class Tokens(MethodView):
    decorators: ClassVar[list[Callable[..., Any]]] = [limiter.limit(_login_limit)]

    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        result = authenticate(body["username"], body["password"], vendor=False)
        if result.user is None:
            raise LoginFailed("wrong username or password")
        token, plain = create_api_token(
            result.user.id,
            name=body["name"],
            valid_days=body["valid_days"],
            actor=f"user:{result.user.id}",
        )
        return {"token": plain, "expires_at": token.expires_at}
