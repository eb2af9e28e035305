"""The JSON API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

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
    """flask-smorest's Api, documenting the error body this application really sends."""

    ERROR_SCHEMA = ErrorSchema
