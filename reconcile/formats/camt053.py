"""ISO 20022 camt.053 (``BkToCstmrStmt``) statements, parsed safely and streamed.

XML comes from outside, so it is parsed with defusedxml and any document type declaration is
refused: that one rule stops entity expansion ("billion laughs") and external entities (XXE)
before they are read. The parser streams: each ``Ntry`` is turned into a line and its element
cleared as soon as it ends, so memory stays proportional to one entry, not the file.

Per statement (``Stmt``): account (``Acct/Id/IBAN`` or ``Acct/Id/Othr/Id``), number
(``ElctrncSeqNb``, else ``LglSeqNb``), balances ``OPBD`` (or ``PRCD``) and ``CLBD`` in IDR, and
opening + Σ booked entries = closing, exactly in whole rupiah, like MT940. Entries that are not
booked (``Sts`` ``PDNG``/``INFO``) are quarantined as pending and left out of the balance proof.
Namespaces ``camt.053.001.02`` to ``.08`` are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Final
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from reconcile.formats.common import (
    BookedAmount,
    Direction,
    FileFormat,
    ImportRefused,
    KeyRules,
    Limits,
    LineDraft,
    LineReason,
    LineSink,
    ParsedFile,
    PreviousStatement,
    RefusalReason,
    StatementSummary,
    balance_idr,
    check_size,
    check_statement_chain,
    line_amount_idr,
    prove_balance,
    sha256_hex,
)

NAMESPACES: Final = frozenset(
    f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version:02d}" for version in range(2, 9)
)
_AMOUNT_RE: Final = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,5})?")
_SEQ_RE: Final = re.compile(r"[0-9]{1,18}")
_OPENING_CODES: Final = ("OPBD", "PRCD")
_CLOSING_CODES: Final = ("CLBD",)
_EMPTY_REFERENCES: Final = frozenset({"", "NOTPROVIDED", "NONREF"})


@dataclass
class _Statement:
    """What one ``Stmt`` said, collected while its entries stream past."""

    booked: list[BookedAmount] = field(default_factory=list)


class _CamtTarget:
    """Tree-builder target that turns each ``Ntry`` into a line as soon as it ends."""

    def __init__(self, sink: LineSink, limits: Limits) -> None:
        self._builder = TreeBuilder()
        self._sink = sink
        self._limits = limits
        self.expat_line: Callable[[], int] = lambda: 0
        self.ns: str | None = None
        self._stmt_tag = self._ntry_tag = ""
        self.entries_read = 0
        self._entry_lines: list[int] = []
        self._current: _Statement | None = None
        self.statements: list[StatementSummary] = []
        self.account_id: str | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        if self.ns is None:
            self._check_root(tag)
        if tag == self._stmt_tag:
            if self._current is not None:
                raise ImportRefused(RefusalReason.MALFORMED, "a Stmt inside a Stmt")
            self._current = _Statement()
        elif tag == self._ntry_tag:
            self.entries_read += 1
            self._entry_lines.append(self.expat_line())
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        element = self._builder.end(tag)
        if tag == self._ntry_tag:
            line_no = self._entry_lines.pop()
            if self._current is None:
                raise ImportRefused(
                    RefusalReason.MALFORMED, f"entry at line {line_no} is outside a Stmt"
                )
            index = len(self.statements)
            self._current.booked.extend(
                _read_entry(element, self.ns or "", line_no, index, self._sink, self._limits)
            )
            element.clear()
        elif tag == self._stmt_tag and self._current is not None:
            self.statements.append(self._summary(element, self._current))
            self._current = None
            element.clear()
        return element

    def data(self, text: str) -> None:
        self._builder.data(text)

    def close(self) -> Element:
        return self._builder.close()

    def _check_root(self, tag: str) -> None:
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if namespace not in NAMESPACES or local != "Document":
            raise ImportRefused(
                RefusalReason.XML_NAMESPACE,
                f"not a camt.053 document: root element is {local!r} in namespace"
                f" {namespace or '(none)'!r}",
                expected="Document in urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 … .08",
                found=f"{local} in {namespace or '(none)'}",
            )
        self.ns = namespace
        self._stmt_tag, self._ntry_tag = f"{{{namespace}}}Stmt", f"{{{namespace}}}Ntry"

    def _summary(self, element: Element, statement: _Statement) -> StatementSummary:
        index = len(self.statements)
        ns = self.ns or ""
        number = _sequence_number(element, ns)
        subject = f"statement {number}" if number is not None else f"statement #{index + 1}"
        self._check_account(element, ns, subject)
        opening_idr, opening_date = _balance(element, ns, _OPENING_CODES, subject)
        closing_idr, closing_date = _balance(element, ns, _CLOSING_CODES, subject)
        credit_idr, debit_idr = prove_balance(
            subject=subject,
            opening_idr=opening_idr,
            closing_idr=closing_idr,
            booked=statement.booked,
        )
        return StatementSummary(
            index=index,
            statement_id=_text(element, ns, "Id") or None,
            number=number,
            sequence=None,
            opening_date=opening_date,
            closing_date=closing_date,
            opening_balance_idr=opening_idr,
            closing_balance_idr=closing_idr,
            credit_total_idr=credit_idr,
            debit_total_idr=debit_idr,
            line_count=len(statement.booked),
        )

    def _check_account(self, element: Element, ns: str, subject: str) -> None:
        account = _text(element, ns, "Acct/Id/IBAN") or _text(element, ns, "Acct/Id/Othr/Id")
        if not account:
            raise ImportRefused(
                RefusalReason.ACCOUNT_MISSING,
                f"{subject} has no account (Acct/Id)",
                subject=subject,
            )
        if self.account_id is not None and account != self.account_id:
            raise ImportRefused(
                RefusalReason.ACCOUNT_MISMATCH,
                f"{subject} is for account {account}, the file started with {self.account_id}",
                expected=self.account_id,
                found=account,
            )
        currency = _text(element, ns, "Acct/Ccy")
        if currency and currency != "IDR":
            raise ImportRefused(
                RefusalReason.CURRENCY,
                f"{subject}: account currency is {currency}; only IDR statements are imported",
                expected="IDR",
                found=currency,
            )
        self.account_id = account


def parse_camt053(
    data: bytes,
    *,
    previous: PreviousStatement | None = None,
    key_rules: KeyRules | None = None,
    limits: Limits | None = None,
) -> ParsedFile:
    """Parse a camt.053 file (one or more ``Stmt`` of one account).

    ``line_no`` of a line is the XML line where its ``Ntry`` starts. Raises
    :class:`ImportRefused` for DTDs/entities (``xml_forbidden``), malformed XML, another
    namespace, balances that do not add up and statement gaps.
    """
    limits = limits or Limits()
    check_size(data, limits)
    sink = LineSink(key_rules or KeyRules())
    target = _CamtTarget(sink, limits)
    # forbid_dtd: no document type at all, hence no entity declarations and no external
    # references. A statement never needs one.
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    expat = parser.parser
    target.expat_line = lambda: expat.CurrentLineNumber
    try:
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise ImportRefused(
            RefusalReason.XML_FORBIDDEN,
            f"XML with a document type (DTD), entity or external reference is refused"
            f" ({type(exc).__name__}): it can expand to gigabytes (billion laughs) or read"
            " local files (XXE)",
            found=type(exc).__name__,
        ) from None
    except ParseError as exc:
        raise ImportRefused(
            RefusalReason.XML_MALFORMED, f"not well-formed XML: {str(exc)[:200]}"
        ) from None
    if target.account_id is None or not target.statements:
        raise ImportRefused(RefusalReason.MALFORMED, "no Stmt in the camt.053 document")
    statements = tuple(target.statements)
    check_statement_chain(previous, statements)
    return sink.build(
        fmt=FileFormat.CAMT053,
        file_sha256=sha256_hex(data),
        account_id=target.account_id,
        lines_read=target.entries_read,
        statements=statements,
    )


@lru_cache(maxsize=256)
def _path(ns: str, path: str) -> str:
    return "/".join(f"{{{ns}}}{part}" for part in path.split("/"))


def _text(element: Element, ns: str, path: str) -> str:
    return (element.findtext(_path(ns, path)) or "").strip()


#: Texts of an entry read from anywhere below it (RmtInf/Ustrd, Strd/CdtrRefInf/Ref,
#: TxDtls/Refs/EndToEndId, …), collected in one walk instead of one search each.
_DESCENDANT_TEXTS: Final = ("Ustrd", "Ref", "AddtlTxInf", "AddtlNtryInf", "EndToEndId")


def _descendant_texts(entry: Element, ns: str) -> dict[str, list[str]]:
    prefix = f"{{{ns}}}"
    found: dict[str, list[str]] = {name: [] for name in _DESCENDANT_TEXTS}
    for element in entry.iter():
        text = (element.text or "").strip()
        if text and element.tag.startswith(prefix):
            bucket = found.get(element.tag[len(prefix) :])
            if bucket is not None:
                bucket.append(text)
    return found


def _sequence_number(element: Element, ns: str) -> int | None:
    for path in ("ElctrncSeqNb", "LglSeqNb"):
        value = _text(element, ns, path)
        if value:
            if not _SEQ_RE.fullmatch(value):
                raise ImportRefused(
                    RefusalReason.MALFORMED, f"statement number {value[:40]!r} is not a number"
                )
            return int(value)
    return None


def _date(element: Element, ns: str, path: str) -> tuple[date | None, bool]:
    """The date of ``path/Dt`` or ``path/DtTm`` as written (no time-zone conversion)."""
    text = _text(element, ns, path + "/Dt") or _text(element, ns, path + "/DtTm")[:10]
    if not text:
        return None, False
    try:
        return date.fromisoformat(text), True
    except ValueError:
        return None, True


def _amount(element: Element, ns: str) -> tuple[Decimal | None, str | None]:
    amount = element.find(_path(ns, "Amt"))
    if amount is None:
        return None, None
    text = (amount.text or "").strip()
    value = Decimal(text) if _AMOUNT_RE.fullmatch(text) else None
    return value, amount.get("Ccy")


def _balance(
    element: Element, ns: str, codes: tuple[str, ...], subject: str
) -> tuple[int, date | None]:
    what = "opening balance" if codes is _OPENING_CODES else "closing balance"
    for code in codes:
        for balance in element.iterfind(_path(ns, "Bal")):
            if _text(balance, ns, "Tp/CdOrPrtry/Cd") != code:
                continue
            value, currency = _amount(balance, ns)
            if currency != "IDR":
                raise ImportRefused(
                    RefusalReason.CURRENCY,
                    f"{subject}: {what} is in {currency}; only IDR statements are imported",
                    expected="IDR",
                    found=str(currency),
                    subject=subject,
                )
            indicator = _text(balance, ns, "CdtDbtInd")
            if value is None or indicator not in {"CRDT", "DBIT"}:
                raise ImportRefused(
                    RefusalReason.MALFORMED, f"{subject}: {what} {code} is unreadable"
                )
            signed = value if indicator == "CRDT" else -value
            balance_date, _ = _date(balance, ns, "Dt")
            return balance_idr(signed, what=f"{subject} {what}", subject=subject), balance_date
    raise ImportRefused(
        RefusalReason.BALANCE_MISSING,
        f"{subject} has no {what} ({' or '.join(codes)})",
        subject=subject,
    )


def _reference(value: str) -> str | None:
    return None if value.upper() in _EMPTY_REFERENCES else value


def _read_entry(
    entry: Element, ns: str, line_no: int, index: int, sink: LineSink, limits: Limits
) -> list[BookedAmount]:
    """Accept or reject one entry; return its amount for the balance proof if it is booked."""
    texts = _descendant_texts(entry, ns)
    raw = _entry_raw(entry, ns, texts)
    status = _text(entry, ns, "Sts/Cd") or _text(entry, ns, "Sts")
    amount, currency = _amount(entry, ns)
    indicator = _text(entry, ns, "CdtDbtInd")
    if status != "BOOK":
        sink.reject(
            line_no=line_no,
            field_name="Sts",
            reason=LineReason.PENDING,
            message=f"entry status is {status or '(none)'}, not BOOK: not yet on the statement",
            raw=raw,
        )
        return []
    if currency != "IDR" and amount is not None:
        raise ImportRefused(
            RefusalReason.CURRENCY,
            f"entry at line {line_no} is in {currency}; only IDR statements are imported",
            line_no=line_no,
            expected="IDR",
            found=str(currency),
        )
    if amount is None or indicator not in {"CRDT", "DBIT"}:
        problem = LineReason.AMOUNT_INVALID if amount is None else LineReason.DIRECTION_INVALID
        sink.reject(
            line_no=line_no,
            field_name="Amt" if amount is None else "CdtDbtInd",
            reason=problem,
            message="entry amount or credit/debit indicator cannot be read",
            raw=raw,
        )
        return [BookedAmount(line_no, None, problem)]
    direction = Direction.CREDIT if indicator == "CRDT" else Direction.DEBIT
    booked = [BookedAmount(line_no, amount * direction.sign)]
    booking_date, booking_given = _date(entry, ns, "BookgDt")
    value_date, value_given = _date(entry, ns, "ValDt")
    amount_idr, amount_problem = line_amount_idr(amount)
    description = " ".join(
        texts["Ustrd"] + texts["Ref"] + texts["AddtlTxInf"] + texts["AddtlNtryInf"]
    )
    found = next(
        _entry_problems(
            booking_valid=booking_date is not None,
            booking_missing=not booking_given,
            value_invalid=value_given and value_date is None,
            amount_problem=amount_problem,
            description_chars=len(description),
            limits=limits,
        ),
        None,
    )
    if found is not None or booking_date is None or amount_idr is None:
        field_name, reason, message = found or ("BookgDt", LineReason.DATE_INVALID, "no date")
        sink.reject(line_no=line_no, field_name=field_name, reason=reason, message=message, raw=raw)
        return booked
    bank_reference = _text(entry, ns, "AcctSvcrRef")
    tx_references = [
        (found.text or "").strip()
        for found in entry.iterfind(_path(ns, "NtryDtls/TxDtls/Refs/AcctSvcrRef"))
    ]
    if not bank_reference and len(tx_references) == 1:
        bank_reference = tx_references[0]
    end_to_end = [ref for ref in texts["EndToEndId"] if _reference(ref)]
    sink.accept(
        LineDraft(
            line_no=line_no,
            booking_date=booking_date,
            value_date=value_date or booking_date,
            amount_idr=amount_idr,
            direction=direction,
            description=description,
            bank_reference=_reference(bank_reference),
            customer_reference=" ".join(end_to_end) or None,
            is_reversal=_text(entry, ns, "RvslInd").lower() == "true",
            statement_index=index,
        )
    )
    return booked


def _entry_problems(
    *,
    booking_valid: bool,
    booking_missing: bool,
    value_invalid: bool,
    amount_problem: LineReason | None,
    description_chars: int,
    limits: Limits,
) -> Iterator[tuple[str, LineReason, str]]:
    """Why a booked entry is quarantined, most basic problem first."""
    if booking_missing:
        yield "BookgDt", LineReason.DATE_MISSING, "booked entry has no booking date"
    if not booking_valid:
        yield "BookgDt", LineReason.DATE_INVALID, "booking date is not a valid date"
    if value_invalid:
        yield "ValDt", LineReason.DATE_INVALID, "value date is not a valid date"
    if amount_problem is not None:
        yield "Amt", amount_problem, f"amount is not a whole, non-zero rupiah ({amount_problem})"
    if description_chars > limits.max_field_chars:
        yield "RmtInf", LineReason.FIELD_TOO_LONG, f"remittance text has {description_chars} chars"


def _entry_raw(entry: Element, ns: str, texts: dict[str, list[str]]) -> str:
    parts = [
        _text(entry, ns, "Amt"),
        _text(entry, ns, "CdtDbtInd"),
        _text(entry, ns, "BookgDt/Dt") or _text(entry, ns, "BookgDt/DtTm"),
        _text(entry, ns, "AcctSvcrRef"),
        " ".join(texts["Ustrd"]),
    ]
    return " | ".join(part for part in parts if part)
