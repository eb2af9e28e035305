"""PDF documents (receipts, letters, stall cards) with a Unicode font, through fpdf2.

fpdf2's built-in fonts cover Latin-1 only; vendors' names do not. DejaVu Sans (Debian's
``fonts-dejavu-core``, on every machine that has Chromium) covers them; ``RETRIBUSI_PDF_FONT_DIR``
points elsewhere if needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpdf import FPDF

FONT_DIRS = (
    os.environ.get("RETRIBUSI_PDF_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
)
FAMILY = "DejaVu"
A6 = (105, 148)  # millimetres; fpdf2 knows A3-A5 by name but not A6


def _font_dir() -> Path:
    for candidate in FONT_DIRS:
        if candidate and (Path(candidate) / "DejaVuSans.ttf").is_file():
            return Path(candidate)
    raise RuntimeError(
        "DejaVu fonts not found: install fonts-dejavu-core or set RETRIBUSI_PDF_FONT_DIR"
    )


def new_document(**kwargs: Any) -> FPDF:
    """An FPDF document with the DejaVu family (regular ``""`` and bold ``"B"``) registered.

    ``kwargs`` go to ``FPDF``, e.g. ``format=(58, 200)`` for 58 mm thermal paper or ``A6``.
    """
    pdf = FPDF(**kwargs)
    fonts = _font_dir()
    pdf.add_font(FAMILY, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_font(FAMILY, size=10)
    pdf.set_creator("e-Retribusi Pasar")
    return pdf
