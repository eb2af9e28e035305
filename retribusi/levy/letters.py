"""Printable letters (PDF, A4): the SKRD, the STRD and the Surat Teguran 1-3.

Letters are official documents and are always in Bahasa Indonesia, whatever the reader's page
language. A bill priced with the illustrative tariff says so on its face.
"""

from __future__ import annotations

from datetime import date

from fpdf import FPDF

from retribusi.levy.balances import BillFigures
from retribusi.levy.models import Bill, BillKind, Notice, NoticeKind
from retribusi.money import format_idr
from retribusi.pdf import FAMILY, new_document

MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
COMPONENTS_ID = {
    "pelayanan_pasar": "Retribusi pelayanan pasar",
    "persampahan": "Retribusi persampahan/kebersihan",
    "lainnya": "Lain-lain",
}
TITLES = {
    NoticeKind.STRD: "SURAT TAGIHAN RETRIBUSI DAERAH (STRD)",
    NoticeKind.SP1: "SURAT TEGURAN I",
    NoticeKind.SP2: "SURAT TEGURAN II",
    NoticeKind.SP3: "SURAT TEGURAN III",
}
ILLUSTRATIVE_WARNING = (
    "CONTOH/ILUSTRASI: tarif pada dokumen ini adalah tarif ilustrasi, bukan tarif resmi "
    "Kota Surakarta."
)


def tanggal(day: date) -> str:
    """``2026-01-10`` → ``10 Januari 2026``."""
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"


def _period_text(bill: Bill) -> str:
    if bill.kind is BillKind.DAILY:
        return tanggal(bill.period_start)
    return f"{MONTHS_ID[bill.period_start.month - 1]} {bill.period_start.year}"


def _letterhead(pdf: FPDF, title: str, number: str) -> None:
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 12)
    pdf.cell(0, 6, "PEMERINTAH KOTA SURAKARTA", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, "DINAS PERDAGANGAN", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(0, 5, "e-Retribusi Pasar", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
    pdf.ln(5)
    pdf.set_font(FAMILY, "B", 13)
    pdf.cell(0, 7, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)
    pdf.cell(0, 6, f"Nomor: {number}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _facts(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    for label, value in rows:
        pdf.set_font(FAMILY, "", 10)
        pdf.cell(55, 6, label)
        pdf.multi_cell(0, 6, f": {value}", new_x="LMARGIN", new_y="NEXT")


def _warning(pdf: FPDF, illustrative: bool) -> None:
    if illustrative:
        pdf.ln(2)
        pdf.set_font(FAMILY, "B", 9)
        pdf.multi_cell(0, 5, ILLUSTRATIVE_WARNING, border=1, new_x="LMARGIN", new_y="NEXT")


def _addressee(bill: Bill) -> list[tuple[str, str]]:
    return [
        ("Wajib retribusi", bill.vendor.full_name),
        ("Tempat dasaran", f"{bill.stall.reference} ({bill.stall_type.value}, {bill.area_m2} m²)"),
        ("Pasar", bill.market.name),
    ]


def bill_pdf(bill: Bill, account: BillFigures, printed_on: date) -> bytes:
    """The SKRD (or karcis) with its lines: quantity, rate and legal basis."""
    pdf = new_document(format="A4")
    title = "SURAT KETETAPAN RETRIBUSI DAERAH (SKRD)"
    if bill.kind is BillKind.DAILY:
        title = "KARCIS RETRIBUSI PELAYANAN PASAR"
    _letterhead(pdf, title, bill.number)
    _facts(
        pdf,
        [
            *_addressee(bill),
            ("Masa retribusi", _period_text(bill)),
            ("Tanggal terbit", tanggal(bill.issued_on)),
            ("Jatuh tempo", tanggal(bill.due_on)),
        ],
    )
    pdf.ln(3)
    pdf.set_font(FAMILY, "B", 9)
    widths = (55, 60, 25, 40)
    for width, head in zip(widths, ("Komponen", "Perhitungan", "Hari", "Jumlah"), strict=True):
        pdf.cell(width, 6, head, border=1)
    pdf.ln()
    pdf.set_font(FAMILY, "", 8)
    for line in bill.lines:
        unit = "m² × hari" if line.unit == "m2_day" else "hari"
        calc = f"{line.quantity.normalize():f} {unit} × Rp{line.rate_idr.normalize():f}"
        if line.relief_pct:
            calc += f" − {line.relief_pct.normalize():f}%"
        days = f"{line.service_from.day}–{line.service_to.day}"
        pdf.cell(
            widths[0], 6, COMPONENTS_ID.get(line.component.value, line.component.value), border=1
        )
        pdf.cell(widths[1], 6, calc, border=1)
        pdf.cell(widths[2], 6, days, border=1)
        pdf.cell(widths[3], 6, format_idr(line.amount_idr), border=1, align="R")
        pdf.ln()
        pdf.set_font(FAMILY, "", 7)
        pdf.multi_cell(0, 4, f"Dasar hukum: {line.legal_basis}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 8)
    pdf.set_font(FAMILY, "B", 10)
    pdf.cell(sum(widths[:3]), 7, "Jumlah pokok retribusi", border=1)
    pdf.cell(widths[3], 7, format_idr(bill.principal_idr), border=1, align="R")
    pdf.ln(10)
    pdf.set_font(FAMILY, "", 9)
    _facts(
        pdf,
        [
            (f"Sisa per {tanggal(printed_on)}", format_idr(account.outstanding_idr)),
            ("  pokok", format_idr(account.principal_outstanding_idr)),
            ("  sanksi administratif", format_idr(account.sanction_outstanding_idr)),
        ],
    )
    pdf.ln(2)
    pdf.multi_cell(
        0,
        5,
        "Apabila tidak dibayar sampai jatuh tempo dikenakan sanksi administratif berupa bunga "
        f"{bill.sanction_rate_pct_per_month.normalize():f}% per bulan dari retribusi yang tidak "
        f"atau kurang dibayar, paling lama {bill.sanction_cap_months} bulan, ditagih dengan STRD "
        "(PP 35/2023 Pasal 65 ayat (5)).",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    _warning(pdf, bill.illustrative)
    return bytes(pdf.output())


def notice_pdf(notice: Notice) -> bytes:
    """An STRD or a Surat Teguran, with the figures demanded on the day it was issued."""
    bill = notice.bill
    pdf = new_document(format="A4")
    _letterhead(pdf, TITLES[notice.kind], notice.number)
    _facts(
        pdf,
        [
            *_addressee(bill),
            ("Tanggal", tanggal(notice.issued_on)),
            ("SKRD", bill.number),
            ("Masa retribusi", _period_text(bill)),
            ("Jatuh tempo SKRD", tanggal(bill.due_on)),
            ("Keterlambatan", f"{notice.days_late} hari ({notice.months_late} bulan sanksi)"),
        ],
    )
    pdf.ln(3)
    _facts(
        pdf,
        [
            ("Pokok retribusi terutang", format_idr(notice.principal_outstanding_idr)),
            ("Sanksi administratif", format_idr(notice.sanction_idr)),
            ("Jumlah yang harus dibayar", format_idr(notice.total_idr)),
        ],
    )
    pdf.ln(4)
    pdf.set_font(FAMILY, "", 10)
    if notice.kind is NoticeKind.STRD:
        body = (
            "Berdasarkan Peraturan Pemerintah Nomor 35 Tahun 2023 Pasal 65 ayat (5), retribusi "
            "yang tidak atau kurang dibayar dikenakan sanksi administratif berupa bunga "
            f"{bill.sanction_rate_pct_per_month.normalize():f}% setiap bulan, paling lama "
            f"{bill.sanction_cap_months} bulan, dan ditagih dengan STRD ini. Mohon segera "
            "melunasi melalui kanal pembayaran e-Retribusi Pasar atau petugas pasar."
        )
    else:
        step = {NoticeKind.SP1: "pertama", NoticeKind.SP2: "kedua", NoticeKind.SP3: "ketiga"}
        body = (
            f"Dengan surat teguran {step[notice.kind]} ini, Saudara diminta melunasi retribusi "
            "yang telah jatuh tempo beserta sanksinya (PP 35/2023 Pasal 65 ayat (6))."
        )
        if notice.kind is NoticeKind.SP3:
            body += (
                " Apabila tidak dilunasi, Dinas dapat menyegel tempat dasaran dan/atau mencabut "
                "Surat Hak Penempatan; tunggakan tetap ditagih."
            )
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(
        0, 6, "Kepala Dinas Perdagangan Kota Surakarta", align="R", new_x="LMARGIN", new_y="NEXT"
    )
    _warning(pdf, bill.illustrative)
    return bytes(pdf.output())
