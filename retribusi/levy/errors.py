"""Levy errors: the kernel's domain errors, each carrying a stable ``reason`` code.

``details["errors"]`` lists ``{"field", "reason", "message"}``: ``reason`` is the stable code that
tests, scripts and the pages (which translate it) rely on; ``message`` is English for people.
"""

from __future__ import annotations

from retribusi.errors import Conflict, DomainError, NotFound, ValidationFailed


def _details(field: str, reason: str, message: str) -> dict[str, list[dict[str, str]]]:
    return {"errors": [{"field": field, "reason": reason, "message": message}]}


def invalid(field: str, reason: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details=_details(field, reason, message))


def conflict(field: str, reason: str, message: str) -> Conflict:
    return Conflict(message, details=_details(field, reason, message))


def not_found(field: str, message: str) -> NotFound:
    return NotFound(message, details=_details(field, "not_found", message))


def _first(error: DomainError) -> dict[str, object]:
    errors = error.details.get("errors") or [{}]
    return dict(errors[0])


def reason_of(error: DomainError) -> str:
    """The first stable reason code of an error (``"invalid"`` when it carries none)."""
    return str(_first(error).get("reason", error.code))


def field_of(error: DomainError) -> str | None:
    """The field the first error names, if any."""
    name = _first(error).get("field")
    return str(name) if name else None
