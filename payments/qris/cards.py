"""Printable A6 stall cards: the stall's static QRIS code, who and where it is, how to pay.

One card per page, A6 portrait (105 × 148 mm), drawn with fpdf2 (``retribusi.pdf.new_document``,
DejaVu for vendors' names). The symbol is drawn as vector rectangles from the module matrix, one
per horizontal run of dark modules: crisp at any printer resolution and a few kilobytes per card.
A module is 1 mm (smaller only if a long payload needs a higher QR version), so a cheap
fixed-focus phone camera reads the card from 20-50 cm, with the 4-module quiet zone kept white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from flask_babel import gettext as _

from payments.qris.builder import MerchantIdentity
from payments.qris.image import qr_matrix
from retribusi.pdf import A6, FAMILY, new_document

#: Widest the symbol (quiet zone included) may be on the card, in mm.
_QR_MAX_MM: Final = 80.0
_MODULE_MM: Final = 1.0
_MARGIN_MM: Final = 8.0
#: Cards per PDF: a market block is at most a few hundred stalls; the biggest market (Legi,
#: ~2 500 places) is printed block by block.
MAX_CARDS_PER_PDF: Final = 1000


@dataclass(frozen=True)
class Card:
    """What one stall card shows."""

    payload: str
    market_name: str
    block_name: str
    stall_reference: str
    stall_type: str
    holder_name: str | None
    va_lines: Sequence[str] = field(default_factory=tuple)


def _draw_symbol(pdf: Any, payload: str, top_mm: float) -> float:
    """Draw the QR symbol centred at ``top_mm``; returns the y just below it."""
    matrix = qr_matrix(payload)
    size = len(matrix)
    module_mm = min(_MODULE_MM, _QR_MAX_MM / size)
    left_mm = (A6[0] - size * module_mm) / 2
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(left_mm, top_mm, size * module_mm, size * module_mm, style="F")
    pdf.set_fill_color(0, 0, 0)
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            pdf.rect(
                left_mm + start * module_mm,
                top_mm + y * module_mm,
                (x - start) * module_mm,
                module_mm,
                style="F",
            )
    return top_mm + size * module_mm


def cards_pdf(cards: Sequence[Card], identity: MerchantIdentity, *, title: str) -> bytes:
    """One A6 page per card."""
    if not cards:
        raise ValueError("no cards to print")
    if len(cards) > MAX_CARDS_PER_PDF:
        raise ValueError(f"at most {MAX_CARDS_PER_PDF} cards per PDF")
    pdf = new_document(format=A6, unit="mm")
    pdf.set_title(title)
    pdf.set_author("Dinas Perdagangan Kota Surakarta")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
    width = A6[0] - 2 * _MARGIN_MM
    for card in cards:
        pdf.add_page()
        pdf.set_y(_MARGIN_MM)
        pdf.set_font(FAMILY, "B", 16)
        pdf.cell(width, 7, "QRIS", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 8)
        pdf.cell(
            width,
            4,
            _("Market retribution · City of Surakarta"),
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.cell(
            width,
            4,
            f"{identity.merchant_name} · NMID {identity.nmid}",
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        bottom = _draw_symbol(pdf, card.payload, pdf.get_y() + 2)
        pdf.set_y(bottom + 2)
        pdf.set_font(FAMILY, "B", 13)
        pdf.cell(width, 6, card.stall_reference, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        pdf.cell(
            width,
            4.5,
            f"{card.market_name} · {card.block_name} · {card.stall_type}",
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        holder = card.holder_name or _("(no holder at present)")
        pdf.multi_cell(width, 4.5, holder[:80], align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 8)
        pdf.multi_cell(
            width,
            3.8,
            _("Scan with any QRIS app and type the amount you pay."),
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if card.va_lines:
            pdf.set_font(FAMILY, "B", 8)
            pdf.cell(
                width, 4, _("Or pay by virtual account:"), align="C", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.set_font(FAMILY, "", 8)
            for line in card.va_lines[:4]:
                pdf.cell(width, 3.8, line, align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
