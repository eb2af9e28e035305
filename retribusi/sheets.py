"""XLSX workbooks for exports: one way to open them, so text from outside stays text."""

from __future__ import annotations

from typing import IO, Any, Final

import xlsxwriter

#: A vendor named "=HYPERLINK(…)" or "@SUM(A1)", a reference like "http://…" or "0012": written
#: as the text it is, never as a formula, a link or a number (formula injection, lost zeros).
TEXT_IS_TEXT: Final = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def new_workbook(file: IO[bytes], **options: Any) -> Any:
    """An xlsxwriter workbook writing to ``file`` with ``TEXT_IS_TEXT`` and ``options``."""
    return xlsxwriter.Workbook(file, {**TEXT_IS_TEXT, **options})
