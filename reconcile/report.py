"""The daily reconciliation report (*laporan rekonsiliasi harian*): PDF and XLSX.

For one business day: the balances the bank declared (statements closing that day) and the
settlement batches of the day; how the day's lines stand (matched by rule, exceptions, pending);
the standing exceptions by type and age; and the collection per market (payments of the day,
through their allocations to bills, and how much of it the bank has confirmed). The documents
are official, so they are written in Indonesian; they carry the last run's result hash and rules
version, and their bytes depend only on the data (fixed creation dates).
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Final

from sqlalchemy import and_, func, select

from payments.models import Allocation, Channel, DepositItem, Payment, PaymentReversal
from reconcile.models import (
    LIVE_STATUSES,
    Claim,
    ExceptionType,
    Line,
    Match,
    ReconException,
    Run,
    SettlementBatch,
    Source,
    Statement,
)
from retribusi import clock
from retribusi.db import AnySession
from retribusi.extensions import db
from retribusi.levy.models import Bill
from retribusi.money import format_idr
from retribusi.pdf import FAMILY, new_document
from retribusi.sheets import new_workbook
from vendors.models import Market

#: Age buckets of standing exceptions, in days since the subject's date.
AGE_BUCKETS: Final = ((0, 1, "0-1"), (2, 7, "2-7"), (8, 30, "8-30"), (31, 10**6, ">30"))
TYPE_LABELS: Final = {
    ExceptionType.UNKNOWN_CREDIT: "Kredit tak dikenal",
    ExceptionType.UNKNOWN_DEBIT: "Debit tak dikenal",
    ExceptionType.AMBIGUOUS: "Ganda kandidat",
    ExceptionType.AMOUNT_MISMATCH: "Selisih jumlah",
    ExceptionType.DUPLICATE: "Duplikat",
    ExceptionType.MISSING_BANK_LINE: "Belum ada di rekening koran",
    ExceptionType.SETTLEMENT_RESIDUAL: "Sisa settlement",
}


def age_bucket(days: int) -> str:
    for low, high, label in AGE_BUCKETS:
        if low <= days <= high:
            return label
    return AGE_BUCKETS[-1][2]


@dataclass
class DailyReport:
    day: date
    run_id: int | None = None
    result_hash: str = ""
    rules_version: str = ""
    statements: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    markets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "run_id": self.run_id,
            "result_hash": self.result_hash,
            "rules_version": self.rules_version,
            "statements": self.statements,
            "batches": self.batches,
            "lines": self.lines,
            "exceptions": self.exceptions,
            "markets": self.markets,
        }


def daily_report(day: date, session: AnySession | None = None) -> DailyReport:
    session = session or db.session
    report = DailyReport(day=day)
    run = session.scalars(
        select(Run).where(Run.as_of <= day).order_by(Run.id.desc()).limit(1)
    ).first()
    if run is not None:
        report.run_id, report.result_hash, report.rules_version = (
            run.id,
            run.result_hash,
            run.rules_version,
        )
    report.statements = [
        {
            "account_id": s.account_id,
            "number": s.number,
            "opening_idr": s.opening_balance_idr,
            "credit_idr": s.credit_total_idr,
            "debit_idr": s.debit_total_idr,
            "closing_idr": s.closing_balance_idr,
        }
        for s in session.scalars(
            select(Statement)
            .where(Statement.closing_date == day)
            .order_by(Statement.account_id, Statement.number, Statement.id)
        )
    ]
    claimed_batches = set(
        session.scalars(select(Claim.batch_id).where(Claim.batch_id.is_not(None)))
    )
    report.batches = [
        {
            "acquirer_id": b.acquirer_id,
            "batch_ref": b.batch_ref,
            "count": b.transaction_count,
            "gross_idr": b.gross_idr,
            "fee_idr": b.fee_idr,
            "net_idr": b.net_idr,
            "credited": b.id in claimed_batches,
        }
        for b in session.scalars(
            select(SettlementBatch)
            .where(SettlementBatch.settlement_date == day)
            .order_by(SettlementBatch.acquirer_id, SettlementBatch.batch_ref)
        )
    ]
    report.lines = _line_states(session, day)
    report.exceptions = _exception_ages(session, day)
    report.markets = _collection(session, day)
    return report


def _line_states(session: AnySession, day: date) -> dict[str, dict[str, int]]:
    """The day's lines by state: matched per rule, exception per status, or pending."""
    states: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(
        select(Line.source, Line.direction, Line.amount_idr, Match.rule, ReconException.status)
        .outerjoin(Claim, Claim.line_id == Line.id)
        .outerjoin(Match, Match.id == Claim.match_id)
        .outerjoin(
            ReconException,
            and_(ReconException.line_id == Line.id, ReconException.status.in_(LIVE_STATUSES)),
        )
        .where(Line.booking_date == day)
    )
    for source, direction, amount, rule, status in rows:
        if rule is not None:
            key = f"matched:{rule.value}"
        elif status is not None:
            key = f"exception:{status.value}"
        else:
            key = "pending"
        prefix = "settlement" if source is Source.SETTLEMENT else direction.value
        entry = states[f"{prefix}:{key}"]
        entry[0] += 1
        entry[1] += amount
    return {key: {"count": c, "amount_idr": a} for key, (c, a) in sorted(states.items())}


def _exception_ages(session: AnySession, day: date) -> dict[str, dict[str, dict[str, int]]]:
    found: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = session.execute(
        select(
            ReconException.type, ReconException.subject_date, ReconException.difference_idr
        ).where(ReconException.status.in_(LIVE_STATUSES), ReconException.subject_date <= day)
    )
    for kind, subject_date, difference in rows:
        entry = found[kind.value][age_bucket((day - subject_date).days)]
        entry[0] += 1
        entry[1] += abs(difference)
    return {
        kind: {bucket: {"count": c, "amount_idr": a} for bucket, (c, a) in sorted(ages.items())}
        for kind, ages in sorted(found.items())
    }


def _collection(session: AnySession, day: date) -> list[dict[str, Any]]:
    """Payments of the day per market (by the bills they paid), and the part the bank confirmed:
    a payment matched to a bank line, a QRIS payment whose settlement batch a bank credit
    claims, or cash in a deposit a bank credit claims."""
    payments = {
        pid: (channel, amount)
        for pid, channel, amount in session.execute(
            select(Payment.id, Payment.channel, Payment.amount_idr).where(
                Payment.paid_on == day,
                ~select(PaymentReversal.id)
                .where(PaymentReversal.payment_id == Payment.id)
                .exists(),
            )
        )
    }
    if not payments:
        return []
    ids = sorted(payments)
    confirmed: set[int] = set()
    credited_batches = set(
        session.scalars(select(Claim.batch_id).where(Claim.batch_id.is_not(None)))
    )
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for pid, source, batch_id in session.execute(
            select(Claim.payment_id, Line.source, Line.batch_id)
            .join(Line, Line.id == Claim.line_id)
            .where(Claim.payment_id.in_(chunk))
        ):
            if pid is not None and (source is Source.BANK or batch_id in credited_batches):
                confirmed.add(pid)
        confirmed.update(
            session.scalars(
                select(DepositItem.payment_id).where(
                    DepositItem.payment_id.in_(chunk),
                    DepositItem.deposit_id.in_(
                        select(Claim.deposit_id).where(Claim.deposit_id.is_not(None))
                    ),
                )
            )
        )
    per_market: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    allocated: dict[int, int] = defaultdict(int)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for pid, code, amount in session.execute(
            select(Allocation.payment_id, Market.code, func.sum(Allocation.amount_idr))
            .join(Bill, Bill.id == Allocation.bill_id)
            .join(Market, Market.id == Bill.market_id)
            .where(
                Allocation.payment_id.in_(chunk),
                Allocation.from_credit.is_(False),
                Allocation.amount_idr > 0,
            )
            .group_by(Allocation.payment_id, Market.code)
        ):
            entry = per_market[code]
            entry[0] += int(amount)
            if pid in confirmed:
                entry[1] += int(amount)
            allocated[pid] += int(amount)
    for pid, (_channel, amount) in payments.items():
        rest = amount - allocated.get(pid, 0)
        if rest > 0:  # became vendor credit
            entry = per_market["(kredit pedagang)"]
            entry[0] += rest
            if pid in confirmed:
                entry[1] += rest
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "amount_idr": 0})
    for _pid, (channel, amount) in payments.items():
        entry2 = by_channel[channel.value if isinstance(channel, Channel) else str(channel)]
        entry2["count"] += 1
        entry2["amount_idr"] += amount
    rows = [
        {
            "market": code,
            "collected_idr": collected,
            "confirmed_idr": confirmed_idr,
            "unconfirmed_idr": collected - confirmed_idr,
        }
        for code, (collected, confirmed_idr, _) in sorted(per_market.items())
    ]
    rows.append(
        {"market": "TOTAL", **_totals(rows), "by_channel": dict(sorted(by_channel.items()))}
    )
    return rows


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        key: sum(int(r[key]) for r in rows)
        for key in ("collected_idr", "confirmed_idr", "unconfirmed_idr")
    }


def _created(day: date) -> datetime:
    """A fixed creation time (the end of the day in Solo), so the bytes depend on data only."""
    return datetime.combine(day, time(23, 59), tzinfo=clock.JAKARTA)


# --- PDF --------------------------------------------------------------------------------------


def _table(pdf: Any, head: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font(FAMILY, "B", 8)
    for text, width in zip(head, widths, strict=True):
        pdf.cell(width, 6, text, border=1)
    pdf.ln()
    pdf.set_font(FAMILY, "", 8)
    for row in rows:
        for index, (text, width) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(width, 5, text, border=1, align="L" if index == 0 else "R")
        pdf.ln()
    pdf.ln(3)


def _heading(pdf: Any, text: str) -> None:
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def report_pdf(report: DailyReport) -> bytes:
    pdf = new_document(format="A4")
    pdf.set_creation_date(_created(report.day))
    pdf.set_title(f"Laporan rekonsiliasi {report.day.isoformat()}")
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 13)
    pdf.cell(
        0,
        7,
        "PEMERINTAH KOTA SURAKARTA - DINAS PERDAGANGAN",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        7,
        "Laporan Rekonsiliasi Harian Retribusi Pasar",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(0, 5, f"Tanggal: {report.day.isoformat()}", align="C", new_x="LMARGIN", new_y="NEXT")
    run = f"run {report.run_id}" if report.run_id else "belum ada run"
    pdf.cell(
        0,
        5,
        f"{run}; aturan {report.rules_version or '-'}; hash hasil {report.result_hash[:32] or '-'}",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    _heading(pdf, "1. Saldo rekening koran")
    _table(
        pdf,
        ["Rekening", "No.", "Saldo awal", "Kredit", "Debit", "Saldo akhir"],
        [
            [
                s["account_id"],
                str(s["number"] or "-"),
                format_idr(s["opening_idr"]),
                format_idr(s["credit_idr"]),
                format_idr(s["debit_idr"]),
                format_idr(s["closing_idr"]),
            ]
            for s in report.statements
        ],
        [40, 14, 34, 34, 34, 34],
    )
    _heading(pdf, "2. Settlement QRIS")
    _table(
        pdf,
        ["Acquirer / batch", "Trx", "Bruto", "MDR", "Neto", "Masuk bank"],
        [
            [
                f"{b['acquirer_id']} {b['batch_ref']}",
                str(b["count"]),
                format_idr(b["gross_idr"]),
                format_idr(b["fee_idr"]),
                format_idr(b["net_idr"]),
                "ya" if b["credited"] else "belum",
            ]
            for b in report.batches
        ],
        [60, 12, 32, 26, 32, 28],
    )
    _heading(pdf, "3. Baris hari ini")
    _table(
        pdf,
        ["Status", "Jumlah baris", "Nilai"],
        [[key, str(v["count"]), format_idr(v["amount_idr"])] for key, v in report.lines.items()],
        [90, 40, 60],
    )
    _heading(pdf, "4. Pengecualian menurut jenis dan umur (hari)")
    rows = []
    for kind, ages in report.exceptions.items():
        label = TYPE_LABELS.get(ExceptionType(kind), kind)
        for bucket, entry in ages.items():
            rows.append(
                [f"{label} ({bucket})", str(entry["count"]), format_idr(entry["amount_idr"])]
            )
    _table(pdf, ["Jenis (umur)", "Jumlah", "Nilai"], rows, [90, 40, 60])
    _heading(pdf, "5. Penerimaan per pasar")
    _table(
        pdf,
        ["Pasar", "Diterima", "Terkonfirmasi bank", "Belum terkonfirmasi"],
        [
            [
                m["market"],
                format_idr(m["collected_idr"]),
                format_idr(m["confirmed_idr"]),
                format_idr(m["unconfirmed_idr"]),
            ]
            for m in report.markets
        ],
        [60, 42, 44, 44],
    )
    return bytes(pdf.output())


# --- XLSX -------------------------------------------------------------------------------------


def report_xlsx(report: DailyReport) -> bytes:
    buffer = io.BytesIO()
    book = new_workbook(buffer, in_memory=True)
    book.set_properties(
        {
            "title": f"Laporan rekonsiliasi {report.day.isoformat()}",
            "author": "e-Retribusi Pasar",
            "created": _created(report.day).replace(tzinfo=None),
        }
    )
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0"})

    def sheet(name: str, head: list[str], rows: list[list[Any]]) -> None:
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, head, bold)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if isinstance(value, int) and not isinstance(value, bool):
                    ws.write_number(r, c, value, money)
                else:
                    ws.write(r, c, value)
        ws.set_column(0, len(head) - 1, 20)

    sheet(
        "Ringkasan",
        ["Tanggal", "Run", "Aturan", "Hash hasil"],
        [[report.day.isoformat(), report.run_id or "", report.rules_version, report.result_hash]],
    )
    sheet(
        "Saldo",
        ["Rekening", "No.", "Saldo awal", "Kredit", "Debit", "Saldo akhir"],
        [
            [
                s["account_id"],
                s["number"] or "",
                s["opening_idr"],
                s["credit_idr"],
                s["debit_idr"],
                s["closing_idr"],
            ]
            for s in report.statements
        ],
    )
    sheet(
        "Settlement",
        ["Acquirer", "Batch", "Trx", "Bruto", "MDR", "Neto", "Masuk bank"],
        [
            [
                b["acquirer_id"],
                b["batch_ref"],
                b["count"],
                b["gross_idr"],
                b["fee_idr"],
                b["net_idr"],
                "ya" if b["credited"] else "belum",
            ]
            for b in report.batches
        ],
    )
    sheet(
        "Baris",
        ["Status", "Jumlah baris", "Nilai"],
        [[key, v["count"], v["amount_idr"]] for key, v in report.lines.items()],
    )
    sheet(
        "Pengecualian",
        ["Jenis", "Umur (hari)", "Jumlah", "Nilai"],
        [
            [TYPE_LABELS.get(ExceptionType(kind), kind), bucket, e["count"], e["amount_idr"]]
            for kind, ages in report.exceptions.items()
            for bucket, e in ages.items()
        ],
    )
    sheet(
        "Per pasar",
        ["Pasar", "Diterima", "Terkonfirmasi bank", "Belum terkonfirmasi"],
        [
            [m["market"], m["collected_idr"], m["confirmed_idr"], m["unconfirmed_idr"]]
            for m in report.markets
        ],
    )
    book.close()
    return buffer.getvalue()
