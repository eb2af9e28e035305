"""Period exports for auditors (BPK, Inspektorat): payments with their allocations, deposits with
their payments and finance's check, as XLSX workbooks.

Each export covers a bounded period (at most ``MAX_DAYS`` days, both ends named) and the filters
of its list page, within the reader's scope: the payments ``payments_query`` lets them see (an
officer's markets), the deposits ``deposits_query`` does (an officer's own). Rows are read in
batches and written to a temporary file as they come (xlsxwriter's constant-memory mode), so a
year of payments never sits in memory. Amounts are whole rupiah: integers summed in Python,
written as number cells with thousands separators. Every text cell is written as text, never a
formula, so a vendor named ``=HYPERLINK(...)`` stays a name (CSV/formula injection).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Final

from flask_babel import gettext as _
from sqlalchemy import Executable, exists, func, select
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from payments.deposits import deposits_query
from payments.models import (
    Allocation,
    Channel,
    Component,
    Deposit,
    DepositItem,
    DepositStatus,
    DepositVerification,
    Payment,
    PaymentReversal,
    Receipt,
)
from payments.queries import PaymentFilter, payments_query
from retribusi import clock
from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.errors import invalid
from retribusi.levy.models import Bill
from retribusi.sheets import new_workbook
from vendors.models import Market, Vendor

MAX_DAYS: Final = 366  # a fiscal year, leap day included
BATCH: Final = 500  # rows read from the database at a time
MIME: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_TEXT: Final = 32_767  # the most characters an Excel cell holds
DAY_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


# --- the period -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def slug(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


def _day(name: str, raw: str | None) -> date:
    text = (raw or "").strip()
    if not text:
        raise invalid(name, "period_missing", "name both ends of the period (YYYY-MM-DD)")
    try:
        if not DAY_RE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(name, "period_format", "a day is written YYYY-MM-DD") from None


def parse_period(raw_from: str | None, raw_to: str | None) -> Period:
    """Both ends of an export's period, first to last day included, at most ``MAX_DAYS``."""
    start = _day("from", raw_from)
    end = _day("to", raw_to)
    if end < start:
        raise invalid("to", "period_order", "the period ends before it starts")
    if (end - start).days + 1 > MAX_DAYS:
        raise invalid("to", "period_too_long", f"a period is at most {MAX_DAYS} days")
    return Period(start, end)


def default_period(today: date) -> Period:
    """This month so far: what the finance desk's links export."""
    return Period(today.replace(day=1), today)


# --- writing cells ----------------------------------------------------------------------------


class _Sheet:
    """One worksheet written row after row (constant memory): text always as text, whole rupiah
    as numbers with thousands separators, instants in WIB."""

    def __init__(self, book: Any, name: str, formats: dict[str, Format]) -> None:
        self.ws: Worksheet = book.add_worksheet(name[:31])
        self.formats = formats
        self.row = 0

    def write(self, values: Sequence[object], style: str | None = None) -> None:
        fmt = self.formats[style] if style else None
        for col, value in enumerate(values):
            self._cell(col, value, fmt)
        self.row += 1

    def _cell(self, col: int, value: object, fmt: Format | None) -> None:
        ws, row = self.ws, self.row
        if value is None:
            return
        if isinstance(value, bool):
            ws.write_string(row, col, _("yes") if value else _("no"), fmt)
        elif isinstance(value, int):
            ws.write_number(row, col, value, fmt or self.formats["money"])
        elif isinstance(value, datetime):
            at = clock.to_wib(value).replace(tzinfo=None)
            ws.write_datetime(row, col, at, self.formats["datetime"])
        elif isinstance(value, date):
            ws.write_datetime(row, col, value, self.formats["date"])
        else:
            ws.write_string(row, col, str(value)[:MAX_TEXT], fmt)

    def total(self, label: str, note: str, amounts: dict[int, int]) -> None:
        """A totals line: its label and count, then whole rupiah in the columns named."""
        values: list[object] = [label, note] + [None] * max(amounts)
        for col, amount in amounts.items():
            values[col] = amount
        self.write(values, "total")

    def skip(self) -> None:
        self.row += 1

    def widths(self, widths: Sequence[int]) -> None:
        for col, width in enumerate(widths):
            self.ws.set_column(col, col, width)


@dataclass
class _Book:
    file: IO[bytes]
    book: Any
    formats: dict[str, Format]

    @classmethod
    def open(cls, title: str) -> _Book:
        file = tempfile.TemporaryFile()  # noqa: SIM115  # handed to the response, which closes it
        book = new_workbook(
            file,
            constant_memory=True,
        )
        book.set_properties({"title": title, "author": "e-Retribusi Pasar"})
        formats = {
            "bold": book.add_format({"bold": True}),
            "money": book.add_format({"num_format": "#,##0"}),
            "total": book.add_format({"bold": True, "num_format": "#,##0"}),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        return cls(file, book, formats)

    def sheet(self, name: str) -> _Sheet:
        return _Sheet(self.book, name, self.formats)

    def close(self) -> IO[bytes]:
        self.book.close()
        self.file.seek(0)
        return self.file


def _heading(sheet: _Sheet, title: str, filters: Iterable[tuple[str, str]], user: User) -> None:
    """The sheet's first lines: what it is, the filters it was made with, when and by whom."""
    sheet.write([title], "bold")
    for name, value in filters:
        sheet.write([name, value])
    sheet.write([_("Generated"), clock.format_wib(clock.now())])
    sheet.write([_("Generated by"), f"{user.full_name} ({user.role.value})"])
    sheet.skip()


def _channel_name(channel: Channel) -> str:
    names: dict[Channel, str] = {
        Channel.QRIS: "QRIS",
        Channel.VA: _("Virtual account"),
        Channel.COUNTER: _("Office counter"),
        Channel.CASH: _("Cash to an officer"),
    }
    return names.get(channel, channel.value)


def _batched(query: Executable) -> Iterable[Any]:
    return db.session.execute(query.execution_options(yield_per=BATCH))


# --- payments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentsWanted:
    """What the payments export is asked for: the list page's filters and a bounded period."""

    period: Period
    channel: Channel | None = None
    market_code: str | None = None
    vendor_id: int | None = None

    def as_filter(self) -> PaymentFilter:
        return PaymentFilter(
            vendor_id=self.vendor_id,
            channel=self.channel,
            market_code=self.market_code,
            paid_from=self.period.start,
            paid_to=self.period.end,
        )


def _period_lines(period: Period) -> tuple[str, str]:
    return (_("Period covered"), f"{period.start.isoformat()} – {period.end.isoformat()}")


def payments_xlsx(user: User, wanted: PaymentsWanted) -> IO[bytes]:
    """Every payment ``user`` may see in the period and filters, one row each, and their
    allocations on a second sheet; totals under both. Staff only; an officer exports within
    their markets (a market not theirs is refused, 403)."""
    if user.role is Role.VENDOR:
        raise Forbidden("payment exports are for staff")
    if wanted.market_code is not None:
        require_market(user, wanted.market_code)
    ids = (
        payments_query(user, wanted.as_filter())
        .with_only_columns(Payment.id)
        .order_by(None)
        .scalar_subquery()
    )
    vendor_name = None
    if wanted.vendor_id is not None:
        vendor_name = db.session.scalar(
            select(Vendor.full_name).where(Vendor.id == wanted.vendor_id)
        )
    filters = [
        _period_lines(wanted.period),
        (_("Channel"), _channel_name(wanted.channel) if wanted.channel else _("(all)")),
        (_("Market"), wanted.market_code or _("(all)")),
        (
            _("Vendor"),
            f"{wanted.vendor_id} · {vendor_name or ''}" if wanted.vendor_id else _("(all)"),
        ),
    ]
    title = _("Payments %(start)s to %(end)s", start=wanted.period.start, end=wanted.period.end)
    out = _Book.open(title)
    sheet = out.sheet(_("Payments"))
    _heading(sheet, title, filters, user)
    sheet.write(
        [
            _("Payment ID"),
            _("Business day"),
            _("Paid at (WIB)"),
            _("Receipt number"),
            _("Vendor"),
            _("NIK"),
            _("Market"),
            _("Channel"),
            _("Sender"),
            _("Reference"),
            _("Amount (Rp)"),
            _("Status"),
            _("Reversal reference"),
            _("Reversed at (WIB)"),
        ],
        "bold",
    )
    sheet.widths([10, 12, 17, 26, 28, 18, 10, 16, 20, 26, 14, 12, 22, 17])
    sheet.ws.freeze_panes(sheet.row, 0)
    rows = (
        select(
            Payment.id,
            Payment.paid_on,
            Payment.paid_at,
            Receipt.number,
            Vendor.full_name,
            Vendor.nik,
            Market.code,
            Payment.channel,
            Payment.sender,
            Payment.external_ref,
            Payment.amount_idr,
            PaymentReversal.reference,
            PaymentReversal.reversed_at,
        )
        .join(Vendor, Vendor.id == Payment.vendor_id)
        .outerjoin(Market, Market.id == Payment.market_id)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Payment.id.in_(ids))
        .order_by(Payment.paid_at, Payment.id)
    )
    count = reversed_count = 0
    total = reversed_total = 0
    for row in _batched(rows):
        (pid, paid_on, paid_at, receipt, name, nik, market, channel, sender, ref, amount) = row[:11]
        reversal_ref, reversed_at = row[11], row[12]
        count += 1
        total += amount
        if reversal_ref is not None:
            reversed_count += 1
            reversed_total += amount
        sheet.write(
            [
                str(pid),
                paid_on,
                paid_at,
                receipt,
                name,
                nik,
                market,
                _channel_name(channel),
                sender,
                ref,
                amount,
                _("reversed") if reversal_ref is not None else _("valid"),
                reversal_ref,
                reversed_at,
            ]
        )
    sheet.skip()
    amount_col = 10
    sheet.total(_("Total"), _("%(count)s payments", count=count), {amount_col: total})
    sheet.total(
        _("Reversed"),
        _("%(count)s payments", count=reversed_count),
        {amount_col: reversed_total},
    )
    sheet.total(
        _("Standing"),
        _("%(count)s payments", count=count - reversed_count),
        {amount_col: total - reversed_total},
    )
    _allocations_sheet(out, ids, title, filters, user)
    return out.close()


def _allocations_sheet(
    out: _Book, ids: Any, title: str, filters: list[tuple[str, str]], user: User
) -> None:
    sheet = out.sheet(_("Allocations"))
    _heading(sheet, title, filters, user)
    sheet.write(
        [
            _("Payment ID"),
            _("Receipt number"),
            _("Bill number"),
            _("Component"),
            _("Amount (Rp)"),
            _("From credit"),
            _("Reversal entry"),
        ],
        "bold",
    )
    sheet.widths([10, 26, 30, 12, 14, 12, 14])
    rows = (
        select(
            Allocation.payment_id,
            Receipt.number,
            Bill.number,
            Allocation.component,
            Allocation.amount_idr,
            Allocation.from_credit,
            Allocation.reversal_id,
        )
        .join(Payment, Payment.id == Allocation.payment_id)
        .join(Bill, Bill.id == Allocation.bill_id)
        .outerjoin(Receipt, Receipt.payment_id == Allocation.payment_id)
        .where(Allocation.payment_id.in_(ids))
        .order_by(Payment.paid_at, Payment.id, Allocation.id)
    )
    components = {Component.PRINCIPAL: _("principal"), Component.SANCTION: _("sanction")}
    count = total = 0
    for pid, receipt, bill, component, amount, from_credit, reversal_id in _batched(rows):
        count += 1
        total += amount
        sheet.write(
            [
                str(pid),
                receipt,
                bill,
                components.get(component, component.value),
                amount,
                from_credit,
                reversal_id is not None,
            ]
        )
    sheet.skip()
    sheet.total(_("Total"), _("%(count)s allocations", count=count), {4: total})


# --- deposits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositsWanted:
    """What the deposits export is asked for: the list page's status and a bounded period of
    deposit days (the day on the slip)."""

    period: Period
    status: DepositStatus | None = None


def _status_name(status: DepositStatus) -> str:
    names: dict[DepositStatus, str] = {
        DepositStatus.SUBMITTED: _("awaiting finance"),
        DepositStatus.VERIFIED: _("verified"),
        DepositStatus.DISCREPANCY: _("discrepancy"),
    }
    return names[status]


def deposits_xlsx(user: User, wanted: DepositsWanted) -> IO[bytes]:
    """Deposits ``user`` may see with their slip day in the period (officers: their own), with
    finance's check, and on a second sheet the payments each deposit holds; totals under both."""
    ids = (
        deposits_query(
            user,
            status=wanted.status,
            deposited_from=wanted.period.start,
            deposited_to=wanted.period.end,
        )
        .with_only_columns(Deposit.id)
        .order_by(None)
        .scalar_subquery()
    )
    filters = [
        _period_lines(wanted.period),
        (_("Status"), _status_name(wanted.status) if wanted.status else _("(all)")),
    ]
    title = _("Deposits %(start)s to %(end)s", start=wanted.period.start, end=wanted.period.end)
    out = _Book.open(title)
    sheet = out.sheet(_("Deposits"))
    _heading(sheet, title, filters, user)
    sheet.write(
        [
            _("Deposit ID"),
            _("Slip reference"),
            _("Officer"),
            _("Deposited on"),
            _("Recorded at (WIB)"),
            _("Slip amount (Rp)"),
            _("Payments"),
            _("Collections standing (Rp)"),
            _("Slip difference (Rp)"),
            _("Status"),
            _("Received by the bank (Rp)"),
            _("Collections checked (Rp)"),
            _("Difference (Rp)"),
            _("Checked by"),
            _("Checked at (WIB)"),
            _("Check note"),
            _("Officer's note"),
        ],
        "bold",
    )
    sheet.widths([10, 20, 24, 12, 17, 14, 10, 14, 14, 16, 14, 14, 14, 14, 17, 24, 24])
    sheet.ws.freeze_panes(sheet.row, 0)
    standing = (
        select(func.coalesce(func.sum(Payment.amount_idr), 0))
        .join(DepositItem, DepositItem.payment_id == Payment.id)
        .where(
            DepositItem.deposit_id == Deposit.id,
            ~exists().where(PaymentReversal.payment_id == Payment.id),
        )
        .correlate(Deposit)
        .scalar_subquery()
    )
    items = (
        select(func.count(DepositItem.payment_id))
        .where(DepositItem.deposit_id == Deposit.id)
        .correlate(Deposit)
        .scalar_subquery()
    )
    rows = (
        select(
            Deposit.id,
            Deposit.slip_ref,
            User.full_name,
            Deposit.deposited_on,
            Deposit.submitted_at,
            Deposit.amount_idr,
            items,
            standing,
            DepositVerification.status,
            DepositVerification.received_idr,
            DepositVerification.collected_idr,
            DepositVerification.difference_idr,
            DepositVerification.verified_by,
            DepositVerification.verified_at,
            DepositVerification.note,
            Deposit.note,
        )
        .join(User, User.id == Deposit.officer_id)
        .outerjoin(DepositVerification, DepositVerification.deposit_id == Deposit.id)
        .where(Deposit.id.in_(ids))
        .order_by(Deposit.deposited_on, Deposit.id)
    )
    count = 0
    sums = {"slip": 0, "standing": 0, "received": 0, "difference": 0}
    for row in _batched(rows):
        (did, slip, officer, day, submitted, amount, n_items, collected) = row[:8]
        (status, received, checked, difference, by, at, check_note, note) = row[8:]
        collected = int(collected)
        count += 1
        sums["slip"] += amount
        sums["standing"] += collected
        sums["received"] += received or 0
        sums["difference"] += difference or 0
        sheet.write(
            [
                str(did),
                slip,
                officer,
                day,
                submitted,
                amount,
                int(n_items),
                collected,
                amount - collected,
                _status_name(status or DepositStatus.SUBMITTED),
                received,
                checked,
                difference,
                by,
                at,
                check_note,
                note,
            ]
        )
    sheet.skip()
    sheet.total(
        _("Total"),
        _("%(count)s deposits", count=count),
        {
            5: sums["slip"],
            7: sums["standing"],
            8: sums["slip"] - sums["standing"],
            10: sums["received"],
            12: sums["difference"],
        },
    )
    _deposit_payments_sheet(out, ids, title, filters, user)
    return out.close()


def _deposit_payments_sheet(
    out: _Book, ids: Any, title: str, filters: list[tuple[str, str]], user: User
) -> None:
    sheet = out.sheet(_("Deposited payments"))
    _heading(sheet, title, filters, user)
    sheet.write(
        [
            _("Deposit ID"),
            _("Slip reference"),
            _("Payment ID"),
            _("Receipt number"),
            _("Paid at (WIB)"),
            _("Vendor"),
            _("NIK"),
            _("Market"),
            _("Amount (Rp)"),
            _("Status"),
        ],
        "bold",
    )
    sheet.widths([10, 20, 10, 26, 17, 28, 18, 10, 14, 12])
    rows = (
        select(
            Deposit.id,
            Deposit.slip_ref,
            Payment.id,
            Receipt.number,
            Payment.paid_at,
            Vendor.full_name,
            Vendor.nik,
            Market.code,
            Payment.amount_idr,
            PaymentReversal.id,
        )
        .select_from(DepositItem)
        .join(Deposit, Deposit.id == DepositItem.deposit_id)
        .join(Payment, Payment.id == DepositItem.payment_id)
        .join(Vendor, Vendor.id == Payment.vendor_id)
        .outerjoin(Market, Market.id == Payment.market_id)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(DepositItem.deposit_id.in_(ids))
        .order_by(Deposit.deposited_on, Deposit.id, Payment.paid_at, Payment.id)
    )
    count = total = 0
    for did, slip, pid, receipt, paid_at, name, nik, market, amount, reversal in _batched(rows):
        count += 1
        total += amount
        sheet.write(
            [
                str(did),
                slip,
                str(pid),
                receipt,
                paid_at,
                name,
                nik,
                market,
                amount,
                _("reversed") if reversal is not None else _("valid"),
            ]
        )
    sheet.skip()
    sheet.total(_("Total"), _("%(count)s payments", count=count), {8: total})
