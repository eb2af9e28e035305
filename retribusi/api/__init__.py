"""The JSON API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask_smorest import Api
from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """The body of every error answer, as ``retribusi.web`` writes it (for the document only)."""

    code = fields.String(
        required=True,
        metadata={"description": "What went wrong, for programs: not_found, invalid, conflict…"},
    )
    message = fields.String(required=True, metadata={"description": "What went wrong, in words"})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status"})
    details = fields.Dict(
        metadata={"description": "Where known, the fields at fault: errors: [{field, reason}]"}
    )


class RetribusiApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, documenting the error body this application really sends.

    A blueprint's routes are served from the moment it is registered, but its part of the
    OpenAPI document is written when the document is first read (``spec``), in registration
    order, as flask-smorest would have written it at once: building it resolves every schema
    and was a third of each start of the app (each worker, each command line run, each test).
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._spec: APISpec | None = None
        self._undocumented: list[tuple[Any, str, Any]] = []
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> APISpec | None:
        pending, self._undocumented = self._undocumented, []
        for blp, name, parameters in pending:
            blp.register_views_in_doc(self, self._app, self._spec, name=name, parameters=parameters)
            assert self._spec is not None
            self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value: APISpec | None) -> None:
        self._spec = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """As flask-smorest's, with the blueprint's document left for :attr:`spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))
