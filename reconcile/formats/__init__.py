"""File importers for reconciliation: bank statements and QRIS settlement reports.

Pure functions from the bytes of one file to a :class:`ParsedFile` (accepted lines, quarantined
lines, balances, batches) or an :class:`ImportRefused` error; no database. Formats and rules:
docs/import-formats.md.

    >>> from reconcile.formats import FileFormat, parse_file
    >>> parsed = parse_file(open("docs/samples/statement.mt940", "rb").read(), FileFormat.MT940)
    >>> parsed.lines_read == len(parsed.lines) + len(parsed.rejected)
    True
"""

from __future__ import annotations

from datetime import date

from reconcile.formats.bank_csv import (
    BankProfile,
    available_profiles,
    load_profile,
    parse_bank_statement,
    parse_profile,
)
from reconcile.formats.camt053 import parse_camt053
from reconcile.formats.common import (
    Direction,
    ExtractedKey,
    FileFormat,
    ImportRefused,
    KeyKind,
    KeyRules,
    Limits,
    LineReason,
    ParsedFile,
    PreviousStatement,
    RefusalReason,
    RejectedLine,
    SettlementBatch,
    StatementLine,
    StatementSummary,
    check_statement_chain,
    check_statement_sequence,
    line_identities,
)
from reconcile.formats.mt940 import parse_mt940
from reconcile.formats.qris_settlement import parse_qris_settlement

__all__ = [
    "BankProfile",
    "Direction",
    "ExtractedKey",
    "FileFormat",
    "ImportRefused",
    "KeyKind",
    "KeyRules",
    "Limits",
    "LineReason",
    "ParsedFile",
    "PreviousStatement",
    "RefusalReason",
    "RejectedLine",
    "SettlementBatch",
    "StatementLine",
    "StatementSummary",
    "available_profiles",
    "check_statement_chain",
    "check_statement_sequence",
    "line_identities",
    "load_profile",
    "parse_bank_statement",
    "parse_camt053",
    "parse_file",
    "parse_mt940",
    "parse_profile",
    "parse_qris_settlement",
]


def parse_file(
    data: bytes,
    fmt: FileFormat | str,
    *,
    profile: BankProfile | str | None = None,
    account_id: str | None = None,
    acquirer_id: str | None = None,
    period: tuple[date, date] | None = None,
    previous: PreviousStatement | None = None,
    key_rules: KeyRules | None = None,
    limits: Limits | None = None,
) -> ParsedFile:
    """Parse ``data`` as ``fmt``: one entry point for ``reconcile import FILE --format …``.

    ``bank_csv``/``bank_xlsx`` need ``profile`` (an id such as ``"bca"`` or a loaded
    :class:`BankProfile`); ``qris_settlement`` needs ``acquirer_id``. Raises
    :class:`ImportRefused` (``profile_unknown`` for an unknown format or profile).
    """
    try:
        file_format = FileFormat(fmt)
    except ValueError:
        raise ImportRefused(
            RefusalReason.PROFILE_UNKNOWN,
            f"unknown format {str(fmt)[:40]!r}; known: {', '.join(f.value for f in FileFormat)}",
            found=str(fmt)[:40],
        ) from None
    if file_format is FileFormat.MT940:
        return parse_mt940(data, previous=previous, key_rules=key_rules, limits=limits)
    if file_format is FileFormat.CAMT053:
        return parse_camt053(data, previous=previous, key_rules=key_rules, limits=limits)
    if file_format is FileFormat.QRIS_SETTLEMENT:
        if not acquirer_id:
            raise ImportRefused(
                RefusalReason.ACCOUNT_MISSING, "a QRIS settlement import needs the acquirer id"
            )
        return parse_qris_settlement(
            data, acquirer_id=acquirer_id, key_rules=key_rules, limits=limits
        )
    if profile is None:
        raise ImportRefused(
            RefusalReason.PROFILE_UNKNOWN, "a bank CSV/XLSX import needs a bank profile"
        )
    loaded = profile if isinstance(profile, BankProfile) else load_profile(profile)
    return parse_bank_statement(
        data,
        loaded,
        account_id=account_id,
        period=period,
        previous=previous,
        key_rules=key_rules,
        limits=limits,
    )
