"""Receipts (SSRD, *bukti bayar*): numbered per year, their facts signed with Ed25519.

A receipt is issued in the same transaction as its payment, so no payment exists without one.
The signed payload is compact, because it rides in the QR code's link: receipt number, amount,
time paid (WIB), channel, payer's name, the bills paid (up to :data:`MAX_BILLS_SIGNED` numbers,
and how many in all) and the credit left. Anyone holding the public key can check it offline
(``docs/receipts.md``); the public page also compares it with the database.
"""

from __future__ import annotations

import functools
import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, Literal, cast
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app
from fpdf.fonts import TTFFont
from PIL import Image
from qrcode import QRCode
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payments.models import (
    Payment,
    PaymentReversal,
    Receipt,
    ReceiptCounter,
)
from payments.signing import (
    InvalidToken,
    load_or_create_private_key,
    load_private_key,
    public_key_pem,
    sign_token,
    verify_token,
)
from retribusi import clock
from retribusi.auth.models import User
from retribusi.db import AnySession, parse_id
from retribusi.extensions import db
from retribusi.levy.letters import MONTHS_ID, tanggal
from retribusi.levy.models import Bill, BillKind
from retribusi.money import format_idr
from retribusi.pdf import A6, FAMILY, new_document
from vendors.models import Market, Placement, PlacementStatus, Stall, Vendor

KEY_EXTENSION = "payments.receipt_key"
MAX_BILLS_SIGNED = 6  # more would make the QR code too dense for a cheap phone's camera
MAX_NAME_SIGNED = 40
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
# The path of the public verification page; the QR code on every receipt links to it.
VERIFY_PATH = "/kuitansi/v/"


def _check_base_url(url: object) -> str:
    """``PUBLIC_BASE_URL`` is printed into every receipt's QR code: a bad one is refused at start,
    not discovered on a receipt that cannot be verified."""
    if not isinstance(url, str):
        raise RuntimeError("PUBLIC_BASE_URL must be a string such as https://retribusi.example")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise RuntimeError(
            f"PUBLIC_BASE_URL must be an http(s) origin with an optional path: {url}"
        )
    return url.rstrip("/")


def init_receipts(app: Flask) -> None:
    """Load the signing key: ``RECEIPT_SIGNING_KEY`` (PEM) or ``RECEIPT_SIGNING_KEY_PATH`` (a PEM
    file) in production; in development a key file in the instance folder, made on first run.
    The private key never enters the repository; its public half is published."""
    pem = app.config.get("RECEIPT_SIGNING_KEY")
    path = app.config.get("RECEIPT_SIGNING_KEY_PATH")
    if pem:
        key = load_private_key(pem.encode() if isinstance(pem, str) else pem)
    elif path:
        # A mounted secret file: every worker must sign with the same key, so it is never made.
        key = load_private_key(Path(path).read_bytes())
    elif app.config.get("ENV") == "production":
        raise RuntimeError(
            "RETRIBUSI_RECEIPT_SIGNING_KEY or RETRIBUSI_RECEIPT_SIGNING_KEY_PATH must be set "
            "in production"
        )
    else:
        key = load_or_create_private_key(Path(app.instance_path) / "receipt_signing_key.pem")
    app.extensions[KEY_EXTENSION] = key
    # fpdf2's font subsetting logs every glyph at INFO; a receipt is not worth forty log lines.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    app.config["PUBLIC_BASE_URL"] = _check_base_url(
        app.config.get("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL)
    )


def _key() -> Ed25519PrivateKey:
    key: Ed25519PrivateKey = current_app.extensions[KEY_EXTENSION]
    return key


def public_key() -> Ed25519PublicKey:
    return _key().public_key()


def public_pem() -> str:
    return public_key_pem(_key())


# Built once per dialect, as every payment takes a number (see payments.ledger).
_NEXT_SEQ = {
    name: insert(ReceiptCounter)
    .values(year=bindparam("year"), last_seq=1)
    .on_conflict_do_update(
        index_elements=[ReceiptCounter.year],
        set_={"last_seq": ReceiptCounter.last_seq + 1},
    )
    .returning(ReceiptCounter.last_seq)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _next_seq(session: AnySession, year: int) -> int:
    """Take the year's next number. The counter row stays locked until the caller commits, so
    numbers have no gaps and no repeats; it is taken last to keep the lock short."""
    statement = _NEXT_SEQ[session.get_bind().dialect.name]
    # On the session's connection: the session would rebuild the statement for the ORM.
    return int(session.connection().execute(statement, {"year": year}).scalar_one())


def receipt_number(year: int, seq: int) -> str:
    return f"SSRD/{year}/{seq:07d}"


def receipt_payload(
    number: str,
    payment: Payment,
    *,
    bills: Sequence[tuple[str, int]],
    credit_idr: int,
    payer_name: str,
) -> dict[str, Any]:
    """The facts a receipt signs: number, amount, time paid (WIB), channel, payer, the bills
    paid in the order paid (up to :data:`MAX_BILLS_SIGNED` numbers, and how many in all) and
    the credit left."""
    numbers = [number_ for number_, _amount in bills]
    return {
        "n": number,
        "a": payment.amount_idr,
        "t": clock.to_wib(payment.paid_at).isoformat(timespec="seconds"),
        "c": payment.channel.value,
        "v": payer_name[:MAX_NAME_SIGNED],
        "b": numbers[:MAX_BILLS_SIGNED],
        "k": len(numbers),
        "r": credit_idr,
    }


def issue_receipt(
    session: AnySession,
    payment: Payment,
    *,
    bills: Sequence[tuple[str, int]],
    credit_idr: int,
    payer_name: str,
) -> Receipt:
    """Number, sign and store the receipt of ``payment`` inside the caller's transaction, from
    what the payment just did (``bills``: (number, rupiah) in the order paid)."""
    issued_at = clock.now()
    year = clock.business_date(issued_at).year
    seq = _next_seq(session, year)
    number = receipt_number(year, seq)
    payload = receipt_payload(
        number, payment, bills=bills, credit_idr=credit_idr, payer_name=payer_name
    )
    receipt = Receipt(
        number=number,
        year=year,
        seq=seq,
        payment_id=payment.id,
        issued_at=issued_at,
        payload=payload,
        token=sign_token(_key(), payload),
    )
    session.add(receipt)
    return receipt


@dataclass(frozen=True)
class Verdict:
    """What the public verification page says about a token."""

    valid: bool
    reason: str  # "ok", "signature", "unknown", "mismatch"
    receipt: Receipt | None = None
    payload: dict[str, Any] | None = None
    reversed: bool = False  # the payment was reversed (refunded, bounced) after the receipt


def verify_receipt(token: str) -> Verdict:
    """Check a receipt link: our signature, a receipt we hold, and the same facts."""
    try:
        payload = verify_token(public_key(), token)
    except InvalidToken:
        return Verdict(False, "signature")
    number = payload.get("n")
    receipt = (
        db.session.scalars(select(Receipt).where(Receipt.number == number)).first()
        if isinstance(number, str)
        else None
    )
    if receipt is None:
        return Verdict(False, "unknown", payload=payload)
    if receipt.payload != payload:
        return Verdict(False, "mismatch", receipt, payload)
    reversed_ = (
        db.session.scalar(
            select(PaymentReversal.id).where(PaymentReversal.payment_id == receipt.payment_id)
        )
        is not None
    )
    return Verdict(True, "ok", receipt, payload, reversed_)


# --- what a receipt shows ---------------------------------------------------------------------

CHANNEL_NAMES_ID: Final = {
    "va": "Transfer virtual account",
    "qris": "QRIS",
    "cash": "Tunai (petugas pasar)",
    "counter": "Loket Dinas Perdagangan",
}
Paper = Literal["58mm", "a6"]
PAPERS: Final[tuple[Paper, ...]] = ("58mm", "a6")


@dataclass(frozen=True)
class ReceiptLine:
    """One bill the payment paid when it arrived."""

    bill_id: int
    bill_number: str
    period_id: str  # "November 2026", or the day of a karcis, in Indonesian
    stall: str
    principal_idr: int
    sanction_idr: int

    @property
    def total_idr(self) -> int:
        return self.principal_idr + self.sanction_idr


@dataclass(frozen=True)
class ReceiptView:
    """A receipt as recorded, with what happened to its payment since (a reversal)."""

    receipt_id: int
    number: str
    payment_id: int
    vendor_id: int
    vendor_name: str
    vendor_phone: str
    stalls: tuple[str, ...]
    market_name: str | None
    channel: str
    amount_idr: int
    credit_idr: int
    paid_at: datetime  # WIB
    issued_at: datetime  # WIB
    lines: tuple[ReceiptLine, ...]
    collected_by: str | None  # the officer's name, for cash
    external_ref: str
    token: str
    verify_url: str
    reversed_at: datetime | None = None  # WIB
    reversal_reason: str | None = None
    reversal_reference: str | None = None

    @property
    def channel_id(self) -> str:
        return CHANNEL_NAMES_ID.get(self.channel, self.channel)

    @property
    def allocated_idr(self) -> int:
        return sum(line.total_idr for line in self.lines)


def verification_url(token: str) -> str:
    """The link a receipt's QR code carries: the public page that checks the token."""
    base: str = current_app.config["PUBLIC_BASE_URL"]
    return f"{base}{VERIFY_PATH}{quote(token, safe='.-_')}"


def period_id(kind: BillKind, period_start: date) -> str:
    if kind is BillKind.DAILY:
        return tanggal(period_start)
    return f"{MONTHS_ID[period_start.month - 1]} {period_start.year}"


def _lines(session: AnySession, payment: Payment) -> tuple[ReceiptLine, ...]:
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for allocation in payment.allocations:
        # What the payment did on arrival: later credit use and reversals are not its receipt.
        if allocation.reversal_id is None and not allocation.from_credit:
            sums[allocation.bill_id][allocation.component.value == "sanction"] += (
                allocation.amount_idr
            )
    if not sums:
        return ()
    rows = session.execute(
        select(Bill, Stall)
        .join(Stall, Stall.id == Bill.stall_id)
        .where(Bill.id.in_(list(sums)))
        .order_by(Bill.due_on, Bill.number)
    ).all()
    return tuple(
        ReceiptLine(
            bill.id,
            bill.number,
            period_id(bill.kind, bill.period_start),
            stall.reference,
            sums[bill.id][0],
            sums[bill.id][1],
        )
        for bill, stall in rows
    )


def _stalls(session: AnySession, payment: Payment, lines: tuple[ReceiptLine, ...]) -> list[str]:
    found = list(dict.fromkeys(line.stall for line in lines))
    if found:
        return found
    if payment.stall_id is not None:
        stall = session.get(Stall, payment.stall_id)
        return [stall.reference] if stall else []
    # A payment that only made credit: the stalls the vendor holds.
    return [
        stall.reference
        for stall in session.scalars(
            select(Stall)
            .join(Placement, Placement.stall_id == Stall.id)
            .where(
                Placement.vendor_id == payment.vendor_id,
                Placement.status == PlacementStatus.ACTIVE,
            )
            .order_by(Stall.id)
        )
    ]


def officer_of(sender: str) -> int | None:
    """The user id in a cash payment's sender ``officer:<id>``."""
    prefix, _, rest = sender.partition(":")
    return parse_id(rest) if prefix == "officer" else None


def receipt_view(payment: Payment, session: AnySession | None = None) -> ReceiptView:
    session = session or db.session
    receipt = payment.receipt
    assert receipt is not None, "every payment is receipted in its own transaction"
    vendor = session.get(Vendor, payment.vendor_id)
    assert vendor is not None
    lines = _lines(session, payment)
    market = session.get(Market, payment.market_id) if payment.market_id else None
    officer_id = officer_of(payment.sender)
    officer = session.get(User, officer_id) if officer_id is not None else None
    reversal = payment.reversal
    return ReceiptView(
        receipt_id=receipt.id,
        number=receipt.number,
        payment_id=payment.id,
        vendor_id=vendor.id,
        vendor_name=vendor.full_name,
        vendor_phone=vendor.phone,
        stalls=tuple(_stalls(session, payment, lines)),
        market_name=market.name if market else None,
        channel=payment.channel.value,
        amount_idr=payment.amount_idr,
        credit_idr=int(receipt.payload.get("r", 0)),
        paid_at=clock.to_wib(payment.paid_at),
        issued_at=clock.to_wib(receipt.issued_at),
        lines=lines,
        collected_by=officer.full_name if officer is not None else None,
        external_ref=payment.external_ref,
        token=receipt.token,
        verify_url=verification_url(receipt.token),
        reversed_at=clock.to_wib(reversal.reversed_at) if reversal else None,
        reversal_reason=reversal.reason if reversal else None,
        reversal_reference=reversal.reference if reversal else None,
    )


# --- the QR code that carries the verification link ---------------------------------------------

QUIET_ZONE_MODULES: Final = 4
PNG_MODULE_PX: Final = 8


def qr_modules(text: str) -> list[list[bool]]:
    """The QR symbol of ``text`` with its quiet zone (True = dark), error correction M: a
    thermal print that smudges a little still scans."""
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE_MODULES, box_size=1)
    qr.add_data(text, optimize=0)
    qr.make(fit=True)
    return [[bool(module) for module in row] for row in qr.get_matrix()]


@functools.lru_cache(maxsize=64)  # a receipt page and its two PDFs draw the same symbol
def qr_png(text: str, *, module_px: int = PNG_MODULE_PX) -> bytes:
    matrix = qr_modules(text)
    size = len(matrix)
    pixels = b"".join(bytes(0 if dark else 255 for dark in row) for row in matrix)
    image = Image.frombytes("L", (size, size), pixels).resize(
        (size * module_px, size * module_px), Image.Resampling.NEAREST
    )
    out = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(out, format="PNG")
    return out.getvalue()


def qr_svg(text: str, *, label: str) -> str:
    """An inline ``<svg>`` (no external reference): one path of dark runs on white."""
    matrix = qr_modules(text)
    size = len(matrix)
    path: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                path.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    escaped = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'class="qr" shape-rendering="crispEdges" role="img" aria-label="{escaped}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>'
    )


# --- the printable receipt -------------------------------------------------------------------

# 58 mm thermal rolls print about 48 mm wide; A6 is a sheet for an office printer.
_LAYOUT: Final = {
    "58mm": {"width": 58.0, "margin": 4.0, "font": 7.5, "title": 9.0, "qr": 40.0, "line": 3.6},
    "a6": {"width": A6[0], "margin": 6.0, "font": 8.5, "title": 10.5, "qr": 38.0, "line": 3.9},
}
_THERMAL_MAX_MM: Final = 1000.0  # a receipt of 24 bills is ~250 mm; the roll is cut after it


def _wib(at: datetime) -> str:
    return f"{tanggal(at.date())} {at.strftime('%H:%M')} WIB"


class _Sheet:
    """One receipt being drawn: text, label-value pairs and rules at the paper's sizes."""

    def __init__(self, paper: Paper, height_mm: float, title: str) -> None:
        spec = _LAYOUT[paper]
        self.paper = paper
        self.width, self.margin = spec["width"], spec["margin"]
        self.size, self.line, self.title_size = spec["font"], spec["line"], spec["title"]
        self.qr_mm = spec["qr"]
        self.height_mm = height_mm
        self.inner = self.width - 2 * self.margin
        self.pdf = new_document(format=(self.width, height_mm), unit="mm")
        self.pdf.set_margins(self.margin, self.margin, self.margin)
        self.pdf.set_auto_page_break(paper == "a6", self.margin)
        self.pdf.set_title(title)
        self.pdf.add_page()

    def text(self, value: str, *, bold: bool = False, align: str = "L", scale: float = 1.0) -> None:
        self.pdf.set_font(FAMILY, "B" if bold else "", self.size * scale)
        self.pdf.multi_cell(
            self.inner, self.line * scale, value, align=align, new_x="LMARGIN", new_y="NEXT"
        )

    def pair(
        self, label: str, value: str, *, bold: bool = False, label_share: float | None = None
    ) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B" if bold else "", self.size)
        share = label_share or (0.42 if self.paper == "58mm" else 0.36)
        label_w = self.inner * share
        value_w = self.inner - label_w
        top = pdf.get_y()
        # Each side reports the height it took; the taller one decides where the next line goes.
        heights = (
            pdf.multi_cell(
                label_w, self.line, label, align="L", new_x="RIGHT", new_y="TOP", output="HEIGHT"
            ),
            pdf.multi_cell(
                value_w, self.line, value, align="R", new_x="LMARGIN", new_y="TOP", output="HEIGHT"
            ),
        )
        pdf.set_y(top + max(cast(float, h) for h in heights))

    def rule(self) -> None:
        pdf = self.pdf
        pdf.ln(1)
        pdf.set_line_width(0.2)
        pdf.line(self.margin, pdf.get_y(), self.width - self.margin, pdf.get_y())
        pdf.ln(1.5)

    def qr(self, url: str, *, probe: bool) -> None:
        pdf = self.pdf
        # The symbol and the three lines under it stay together on an A6 sheet.
        if self.paper == "a6" and pdf.get_y() + self.qr_mm + 14 > self.height_mm:
            pdf.add_page()
        if probe:  # measuring only: the symbol's size is all that matters
            pdf.set_y(pdf.get_y() + self.qr_mm)
        else:
            x = (self.width - self.qr_mm) / 2
            pdf.image(io.BytesIO(qr_png(url)), x=x, w=self.qr_mm, h=self.qr_mm)
        pdf.ln(1)


def _head(sheet: _Sheet, view: ReceiptView) -> None:
    if sheet.paper == "a6":  # one line each, to leave the sheet room for the QR code
        sheet.text("PEMERINTAH KOTA SURAKARTA · DINAS PERDAGANGAN", bold=True, align="C", scale=0.9)
    else:
        sheet.text("PEMERINTAH KOTA SURAKARTA", bold=True, align="C")
        sheet.text("DINAS PERDAGANGAN", bold=True, align="C")
    sheet.text("e-Retribusi Pasar", align="C")
    sheet.rule()
    sheet.text(
        "BUKTI PEMBAYARAN RETRIBUSI", bold=True, align="C", scale=sheet.title_size / sheet.size
    )
    sheet.text(view.number, bold=True, align="C")
    sheet.rule()
    if view.reversed_at is not None:
        sheet.text("DIBATALKAN", bold=True, align="C", scale=1.4)
        sheet.text(
            f"Pembayaran ini dibatalkan pada {_wib(view.reversed_at)}: {view.reversal_reason}",
            align="C",
        )
        sheet.rule()


def _body(sheet: _Sheet, view: ReceiptView) -> None:
    sheet.pair("Wajib retribusi", view.vendor_name)
    if view.stalls:
        sheet.pair("Tempat", ", ".join(view.stalls))
    if view.market_name:
        sheet.pair("Pasar", view.market_name)
    sheet.pair("Waktu bayar", _wib(view.paid_at))
    sheet.pair("Cara bayar", view.channel_id)
    if view.collected_by:
        sheet.pair("Petugas", view.collected_by)
    sheet.pair("Referensi", view.external_ref[:24])
    sheet.rule()
    if view.lines:
        sheet.text("Tagihan yang dibayar", bold=True)
        wide = 0.62 if sheet.paper == "58mm" else 0.72
        for item in view.lines:
            sheet.text(item.bill_number)
            detail = f"{item.period_id} · {item.stall}"
            sheet.pair(detail, format_idr(item.total_idr), label_share=wide)
            if item.sanction_idr:
                sheet.pair("  termasuk sanksi", format_idr(item.sanction_idr), label_share=wide)
        sheet.rule()
    if view.credit_idr:
        sheet.pair("Menjadi saldo (kredit)", format_idr(view.credit_idr), label_share=0.6)
    sheet.pair("JUMLAH DIBAYAR", format_idr(view.amount_idr), bold=True, label_share=0.5)
    sheet.rule()


def _draw(view: ReceiptView, paper: Paper, height_mm: float, *, probe: bool = False) -> _Sheet:
    sheet = _Sheet(paper, height_mm, f"Bukti pembayaran {view.number}")
    _head(sheet, view)
    _body(sheet, view)
    sheet.qr(view.verify_url, probe=probe)
    sheet.text("Pindai untuk memeriksa keaslian bukti ini", align="C", scale=0.9)
    sheet.text(view.verify_url.split(VERIFY_PATH)[0] + "/kuitansi", align="C", scale=0.8)
    sheet.text(f"Diterbitkan {_wib(view.issued_at)}", align="C", scale=0.8)
    return sheet


def receipt_pdf(view: ReceiptView, paper: Paper) -> bytes:
    """The receipt as a PDF: ``58mm`` for a thermal printer on the officer's phone or tablet
    (one page as long as it needs), ``a6`` for an office printer. Always in Indonesian: it is an
    official document, as the SKRD is."""
    if paper not in PAPERS:
        raise ValueError(f"paper is one of {PAPERS}")
    if paper == "a6":
        return bytes(_draw(view, paper, A6[1]).pdf.output())
    # A thermal roll has no page length: lay it out on a long page (output, the costly part with
    # its font subsetting, is skipped), then draw it at the length used.
    probe = _draw(view, paper, _THERMAL_MAX_MM, probe=True)
    used_mm = probe.pdf.get_y() + probe.margin
    for font in probe.pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.close()  # output() closes the font files; the probe is never output
    return bytes(_draw(view, paper, max(used_mm, 80.0)).pdf.output())
