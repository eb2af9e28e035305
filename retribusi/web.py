"""The kernel's pages: home, language switch, health; error pages and JSON errors under /api/."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from retribusi.auth.access import authenticated, current_account, public, wants_json
from retribusi.db import MAX_ID
from retribusi.errors import Conflict, DomainError, ValidationFailed

bp = Blueprint("web", __name__)
# app.extensions[FRONT_DOORS][role] = endpoint: where "/" takes a signed-in user of that role.
FRONT_DOORS = "retribusi.front_doors"
log = logging.getLogger(__name__)


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route: a non-negative integer no larger than ``MAX_ID``, so a larger
    number in a path is a 404, never a database overflow."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


FieldErrors = dict[str, list[str]]


def submit_form(
    form: Any,
    work: Callable[[], ResponseReturnValue],
    errors_of: Callable[[DomainError], FieldErrors | None],
) -> tuple[ResponseReturnValue | None, FieldErrors, int]:
    """Run ``work`` for a valid POST of ``form``; on a refusal, the errors per field and the
    status to render the form again with (400 expired form, 422 invalid, 409 conflict).

    ``errors_of`` turns a refusal the page knows into errors per field, or returns ``None``
    for one it does not (which then propagates)."""
    if request.method != "POST":
        return None, {}, 200
    if not form.validate_on_submit():
        return None, {"form": [_("The form expired. Reload the page and try again.")]}, 400
    try:
        return work(), {}, 200
    except (ValidationFailed, Conflict) as error:
        found = errors_of(error)
        if found is None:
            raise
        return None, found, 409 if isinstance(error, Conflict) else 422


@bp.route("/")
@authenticated
def home() -> ResponseReturnValue:
    """Each role's front door, when a domain package registered one (``FRONT_DOORS``)."""
    user = current_account()
    door = current_app.extensions.get(FRONT_DOORS, {}).get(user.role)
    if door is not None:
        return redirect(url_for(door))
    return render_template("home.html", user=user)


@bp.route("/bahasa/<code>")
@public
def set_language(code: str) -> ResponseReturnValue:
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    referrer = request.referrer or ""
    host = request.host_url
    return redirect(referrer if referrer.startswith(host) else url_for("web.home"))


@bp.route("/healthz")
@public
def health() -> ResponseReturnValue:
    return jsonify(status="ok")


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in first."),
        403: _("You do not have access to this page."),
        404: _("The page you are looking for does not exist."),
        405: _("This action is not allowed here."),
        413: _("The upload is too large."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. Please try again later."),
    }


def _error_response(
    status: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message, "status": status}
        if extra:
            body["details"] = extra
        return jsonify(body), status, headers or {}
    return render_template("error.html", status=status, message=message), status, headers or {}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> ResponseReturnValue:
        # API clients get the service's precise message; people get it in their language.
        message = error.message if wants_json() else _messages().get(error.status, error.message)
        return _error_response(error.status, error.code, message, error.details or None)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        message = _("The form expired or was sent from elsewhere. Reload the page and try again.")
        return _error_response(400, "csrf_failed", message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        message = _messages().get(status, error.description or "")
        headers = {k: v for k, v in error.get_headers() if k.lower() in {"allow", "retry-after"}}
        if wants_json() and status < 500 and error.description and status not in {401, 403, 404}:
            message = error.description  # webargs/marshmallow detail is useful to API clients
        data = getattr(error, "data", None)
        extra = (
            {"errors": data["messages"]} if isinstance(data, dict) and "messages" in data else None
        )
        name = (error.name or "error").lower().replace(" ", "_")
        return _error_response(status, name, message, extra, headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(500, "internal_error", _messages()[500])
