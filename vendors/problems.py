"""What is wrong with an input, said once in English and shown in the reader's language.

A :class:`Problem` keeps an English message id with ``%(name)s`` parameters. ``reason`` is the
English text (CLI, API, tests, logs); :meth:`Problem.localized` translates it for a page. Message
ids are marked with :func:`N_` so ``make i18n`` extracts them into ``vendors/translations``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext

from retribusi.errors import Conflict, ValidationFailed

Param = str | int


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated later, where it is shown."""
    return message


class FieldError(ValueError):
    """One value that breaks a rule: an English message id and its parameters."""

    def __init__(self, message: str, **params: Param) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params: dict[str, Param] = dict(params)


@dataclass(frozen=True)
class Problem:
    """A field (or an import column) and why its value is refused. ``row`` is set for imports:
    the spreadsheet row number, the header being row 1."""

    column: str
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)
    row: int | None = None

    @property
    def reason(self) -> str:
        return self.message % dict(self.params) if self.params else self.message

    def localized(self) -> str:
        text: str = gettext(self.message, **self.params) if self.params else gettext(self.message)
        return text

    def to_dict(self) -> dict[str, Any]:
        if self.row is None:
            return {"field": self.column, "reason": self.reason}
        return {"row": self.row, "column": self.column, "reason": self.reason}

    @classmethod
    def of(cls, column: str, error: FieldError, row: int | None = None) -> Problem:
        return cls(column, error.message, error.params, row)


def _summary(problems: tuple[Problem, ...]) -> str:
    first = problems[0]
    where = f"row {first.row}, " if first.row is not None else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}{first.column}: {first.reason}{more}"


class VendorInvalid(ValidationFailed):
    """Input that breaks a registry rule; ``problems`` lists each field and reason."""

    def __init__(self, problems: Iterable[Problem], *, message: str | None = None) -> None:
        self.problems = tuple(problems)
        super().__init__(
            message or _summary(self.problems),
            details={"errors": [p.to_dict() for p in self.problems]},
        )


class VendorConflict(Conflict):
    """A valid request that clashes with what the registry holds (a stall already taken)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            _summary(self.problems), details={"errors": [p.to_dict() for p in self.problems]}
        )


def invalid(column: str, message: str, **params: Param) -> VendorInvalid:
    return VendorInvalid([Problem(column, message, params)])


def conflict(column: str, message: str, **params: Param) -> VendorConflict:
    return VendorConflict([Problem(column, message, params)])
