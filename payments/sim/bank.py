"""A simulated bank that pays vendors' bills by VA, for the demo, the tests and the benchmarks.

It holds its own RSA key pair and the client secret of its bank profile (``payments.sim.client``),
and does what a bank's VA host does: inquiry, then the payment flag, repeated with
``flagAdvise=Y`` when an answer does not come back; it keeps a journal of what it paid and
writes the day's MT940 statement of the city's account in the form
``reconcile/formats/mt940.py`` reads (docs/import-formats.md, docs/bank-simulator.md).
"""

from __future__ import annotations

import itertools
import json
import re
import string
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from payments.sim.client import SnapClient, SnapReply, TransportError
from payments.snap.numbering import PARTNER_SERVICE_ID_CHARS
from retribusi import clock

INQUIRY_PATH: Final = "/v1.0/transfer-va/inquiry"
PAYMENT_PATH: Final = "/v1.0/transfer-va/payment"
STATUS_PATH: Final = "/v1.0/transfer-va/status"
#: The city's receiving account (RKUD) in the simulated statement (not the sample files' one, so
#: the demo imports both without breaking either's statement sequence).
DEFAULT_ACCOUNT_NO: Final = "1380055500001"
#: Statement numbers count days from here, so consecutive days' statements run on.
STATEMENT_EPOCH: Final = date(2026, 1, 1)
_MT940_TEXT_RE: Final = re.compile(r"[^A-Z0-9 /\-?:().,'+]")
_BASE36: Final = string.digits + string.ascii_uppercase


class Padding(StrEnum):
    """How the simulated bank pads partnerServiceId (banks disagree, snap-va.md §1.2)."""

    SPACES = "spaces"  # "   12345" (ASPI)
    ZEROS = "zeros"  # "00012345" (BRI's Indonesian page)
    NONE = "none"  # "12345" (DOKU's Mandiri sample)


def _base36(number: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
    return digits or "0"


def triple(
    company_code: str, customer_no: str, padding: Padding = Padding.SPACES
) -> dict[str, str]:
    """The SNAP identity triple of a VA, padded the way this bank pads."""
    if padding is Padding.SPACES:
        prefix = company_code.rjust(PARTNER_SERVICE_ID_CHARS)
    elif padding is Padding.ZEROS:
        prefix = company_code.rjust(PARTNER_SERVICE_ID_CHARS, "0")
    else:
        prefix = company_code
    return {
        "partnerServiceId": prefix,
        "customerNo": customer_no,
        "virtualAccountNo": prefix + customer_no,
    }


@dataclass(frozen=True)
class JournalEntry:
    """A credit to the city's account, one statement line: a VA payment the bank made and the
    biller accepted, or (``details`` set) a transfer in, such as an acquirer's settlement."""

    payment_request_id: str  # for a transfer: its reference
    va_digits: str
    amount_idr: int
    paid_at: str  # ISO-8601, Asia/Jakarta
    name: str
    details: str = ""

    @property
    def paid_on(self) -> date:
        return datetime.fromisoformat(self.paid_at).date()


@dataclass(frozen=True)
class PayResult:
    """What paying a VA came to."""

    va_digits: str
    payment_request_id: str
    inquiry: SnapReply | None
    flags: tuple[SnapReply, ...]  # every payment flag sent, retries included
    paid_idr: int
    accepted: bool

    @property
    def last(self) -> SnapReply | None:
        return self.flags[-1] if self.flags else None


@dataclass
class SimulatedBank:
    """A bank's VA host, talking SNAP to the biller through ``client``."""

    client: SnapClient
    code: str
    company_code: str
    account_no: str = DEFAULT_ACCOUNT_NO
    opening_balance_idr: int = 0
    journal_path: Path | None = None
    padding: Padding = Padding.SPACES
    journal: dict[str, JournalEntry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _id_base: str = ""

    def __post_init__(self) -> None:
        # Unique per simulator instance: the bank code and the start time in milliseconds.
        self._id_base = (self.code[:3] + _base36(time.time_ns() // 1_000_000))[:11]
        if not self.client.external_id_prefix:
            self.client.external_id_prefix = self._id_base
        if self.journal_path is not None and self.journal_path.exists():
            for line in self.journal_path.read_text().splitlines():
                if line.strip():
                    entry = JournalEntry(**json.loads(line))
                    self.journal[entry.payment_request_id] = entry

    def new_request_id(self) -> str:
        """16 characters at most, so it fits the MT940 reference subfield (16x)."""
        return f"{self._id_base}{next(self._ids):05d}"[-16:]

    def customer_no(self, va_digits: str) -> str:
        if not va_digits.startswith(self.company_code):
            raise ValueError(f"{va_digits} is not a VA of company code {self.company_code}")
        return va_digits[len(self.company_code) :]

    # --- the three calls ---------------------------------------------------------------------

    def inquiry(
        self, va_digits: str, *, request_id: str | None = None, padding: Padding | None = None
    ) -> SnapReply:
        body = {
            **triple(self.company_code, self.customer_no(va_digits), padding or self.padding),
            "inquiryRequestId": request_id or self.new_request_id(),
            "channelCode": 6011,
            "trxDateInit": self.client.timestamp(),
            "language": "ID",
            "additionalInfo": {},
        }
        return self.client.call(INQUIRY_PATH, body)

    def flag(
        self,
        va_digits: str,
        amount_idr: int,
        *,
        request_id: str,
        name: str | None = None,
        retry: bool = False,
        padding: Padding | None = None,
        amount_text: str | None = None,
        external_id: str | None = None,
    ) -> SnapReply:
        """One payment flag; ``retry`` marks it ``flagAdvise=Y``."""
        body: dict[str, Any] = {
            **triple(self.company_code, self.customer_no(va_digits), padding or self.padding),
            "paymentRequestId": request_id,
            "channelCode": 6011,
            "paidAmount": {"value": amount_text or f"{amount_idr}.00", "currency": "IDR"},
            "trxDateTime": self.client.timestamp(),
            "referenceNo": request_id[-6:],
            "flagAdvise": "Y" if retry else "N",
            "additionalInfo": {},
        }
        if name:
            body["virtualAccountName"] = name
        reply = self.client.call(PAYMENT_PATH, body, external_id=external_id)
        if _accepted(reply):
            self._book(request_id, va_digits, amount_idr, name or "")
        return reply

    def status(self, va_digits: str, request_id: str | None = None) -> SnapReply:
        body: dict[str, Any] = {
            **triple(self.company_code, self.customer_no(va_digits), self.padding),
            "additionalInfo": {},
        }
        if request_id:
            body["paymentRequestId"] = request_id
        return self.client.call(STATUS_PATH, body)

    def pay_bills(
        self, va_digits: str, *, amount_idr: int | None = None, retries: int = 2
    ) -> PayResult:
        """Inquiry, then a flag for the total (or ``amount_idr``); a flag that gets no answer,
        or a 5xx, is repeated with ``flagAdvise=Y`` and the same paymentRequestId."""
        request_id = self.new_request_id()
        asked = self.inquiry(va_digits, request_id=request_id)
        data = asked.body.get("virtualAccountData") or {}
        if asked.response_code != "2002400" or data.get("inquiryStatus") != "00":
            return PayResult(va_digits, request_id, asked, (), 0, False)
        total = int(str(data["totalAmount"]["value"]).split(".")[0])
        amount = amount_idr if amount_idr is not None else total
        name = str(data.get("virtualAccountName") or "")
        flags: list[SnapReply] = []
        for attempt in range(retries + 1):
            try:
                reply = self.flag(
                    va_digits, amount, request_id=request_id, name=name, retry=attempt > 0
                )
            except TransportError:
                continue
            flags.append(reply)
            if reply.status < 500:
                break
        accepted = bool(flags) and _accepted(flags[-1])
        return PayResult(
            va_digits, request_id, asked, tuple(flags), amount if accepted else 0, accepted
        )

    # --- journal and statement ----------------------------------------------------------------

    def credit_transfer(
        self, reference: str, amount_idr: int, details: str, *, at: datetime | None = None
    ) -> None:
        """A transfer into the city's account (an acquirer settling a batch, ``details`` naming
        the batch), booked ``at`` (default now); once per reference."""
        self._book(reference, "", amount_idr, "", details=details, at=at)

    def _book(
        self,
        request_id: str,
        va_digits: str,
        amount_idr: int,
        name: str,
        *,
        details: str = "",
        at: datetime | None = None,
    ) -> None:
        with self._lock:
            if request_id in self.journal:
                return  # a retry: the money moved once
            entry = JournalEntry(
                request_id,
                va_digits,
                amount_idr,
                clock.to_wib(at or self.client.now()).isoformat(timespec="seconds"),
                name,
                details,
            )
            self.journal[request_id] = entry
            if self.journal_path is not None:
                with self.journal_path.open("a") as handle:
                    handle.write(json.dumps(asdict(entry)) + "\n")

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return sorted(self.journal.values(), key=lambda e: (e.paid_at, e.payment_request_id))

    def statement(self, day: date) -> str:
        """The MT940 statement of ``day``: one ``:61:`` credit per VA payment, balances that
        add up (opening = everything booked before the day)."""
        return mt940_statement(
            self.entries(),
            day=day,
            account_no=self.account_no,
            opening_base_idr=self.opening_balance_idr,
            bank_code=self.code,
        )


def _accepted(reply: SnapReply) -> bool:
    data = reply.body.get("virtualAccountData") or {}
    return reply.response_code == "2002500" and data.get("paymentFlagStatus") == "00"


def _swift_amount(amount_idr: int) -> str:
    return f"{amount_idr},00"


def _swift_text(text: str) -> str:
    """MT940 "x" character set: upper-case Latin letters, digits, a few marks."""
    return _MT940_TEXT_RE.sub(" ", text.upper()).strip()


def mt940_statement(
    entries: Iterable[JournalEntry],
    *,
    day: date,
    account_no: str = DEFAULT_ACCOUNT_NO,
    opening_base_idr: int = 0,
    bank_code: str = "SIM",
) -> str:
    """MT940 for one account and day. Keys where ``reconcile.formats.mt940`` finds them: the VA
    number after the word ``VA`` in ``:86:``, the paymentRequestId as the bank reference after
    ``//`` in ``:61:`` (and after ``REF`` in ``:86:``)."""
    every = list(entries)
    before = sum(e.amount_idr for e in every if e.paid_on < day)
    today = [e for e in every if e.paid_on == day]
    opening = opening_base_idr + before
    closing = opening + sum(e.amount_idr for e in today)
    stamp = day.strftime("%y%m%d")
    number = (day - STATEMENT_EPOCH).days + 1
    lines = [
        f":20:{_swift_text(bank_code)[:6]}{stamp}",
        f":25:{account_no}",
        f":28C:{number}/1",
        f":60F:C{stamp}IDR{_swift_amount(opening)}",
    ]
    for entry in today:
        lines.append(
            f":61:{stamp}{day.strftime('%m%d')}C{_swift_amount(entry.amount_idr)}"
            f"NTRFNONREF//{entry.payment_request_id[:16]}"
        )
        details = _swift_text(
            entry.details or f"TRF VA {entry.va_digits} REF {entry.payment_request_id} {entry.name}"
        )
        lines.append(f":86:{details[:65]}")
    lines += [
        f":62F:C{stamp}IDR{_swift_amount(closing)}",
        f":64:C{stamp}IDR{_swift_amount(closing)}",
    ]
    return "\n".join(lines) + "\n"
