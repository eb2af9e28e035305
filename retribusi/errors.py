"""Typed domain errors. Services raise them; one handler (``retribusi.web``) maps them to HTTP."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """An expected failure with a stable ``code``, a human message and an HTTP status."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (details too) when it crosses a process, as import workers send it.
        return (_restored, (type(self), self.message, self.details))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``details["errors"]`` lists each field and reason."""

    status = 422
    code = "validation_failed"


def _restored(kind: type[DomainError], message: str, details: dict[str, Any]) -> DomainError:
    return kind(message, details=details)
