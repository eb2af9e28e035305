"""Real round trips: a QR reader (zxing-cpp) reads back what we draw, as PNG, SVG and printed card.

Asserting pixels would only check our own drawing against itself; a decoder that phones use
(ZXing is inside many Android scanner apps) reading the exact payload back is the real test.
"""

from __future__ import annotations

import io

import pypdfium2
import pytest
import resvg_py
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from payments.qris import (
    MerchantCriteria,
    MerchantIdentity,
    build_dynamic,
    build_static,
    qr_png,
    qr_svg,
)
from payments.qris.builder import compose_merchant_pan
from payments.qris.cards import Card, cards_pdf
from tests.qris.test_codec import Q01, Q17, Q_MF2

IDENTITY = MerchantIdentity(
    acquirer_guid="ID.CO.BANKJATENG.WWW",
    merchant_pan=compose_merchant_pan("93600113", "1234567"),
    merchant_id="RETPSRSKA01",
    merchant_criteria=MerchantCriteria.URE,
    nmid="ID1026123456789",
    merchant_name="DISDAG KOTA SURAKARTA",
    merchant_city="SURAKARTA",
    postal_code="57111",
)
JAVANESE = MerchantIdentity(
    **{
        **{k: getattr(IDENTITY, k) for k in (
            "acquirer_guid", "merchant_pan", "merchant_id", "merchant_criteria", "nmid",
            "merchant_name", "merchant_city", "postal_code",
        )},
        "language": "jv",
        "name_alt": "ꦥꦱꦂꦒꦺꦝꦺ",
        "city_alt": "Surakarta",
    }
)  # fmt: skip
STATIC = build_static(IDENTITY, stall_reference="KLEWER-A-012")
DYNAMIC = build_dynamic(
    IDENTITY, amount_idr=159_075, bill_number="S2610KLEWER000088", reference="Q72A8753E82CE"
)
NON_ASCII = build_dynamic(JAVANESE, amount_idr=3000, bill_number="B1", reference="R1")


def read(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def png_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("payload", [STATIC, DYNAMIC, NON_ASCII, Q01, Q17, Q_MF2])
def test_png_reads_back_exactly(payload: str) -> None:
    assert read(png_image(qr_png(payload))) == [payload]


@pytest.mark.parametrize("payload", [STATIC, DYNAMIC, NON_ASCII])
def test_svg_reads_back_exactly(payload: str) -> None:
    rendered = resvg_py.svg_to_bytes(svg_string=qr_svg(payload))
    image = png_image(bytes(rendered))
    assert image.size == (len(_matrix_side(payload)) * 4,) * 2
    assert read(image) == [payload]


def _matrix_side(payload: str) -> list[list[bool]]:
    from payments.qris import qr_matrix

    return qr_matrix(payload)


def test_small_and_blurred_images_still_read() -> None:
    # A phone screen thumbnail (3 px per module) and a soft, out-of-focus camera frame.
    assert read(png_image(qr_png(DYNAMIC, box_size_px=3))) == [DYNAMIC]
    soft = (
        png_image(qr_png(DYNAMIC, box_size_px=4)).convert("L").filter(ImageFilter.GaussianBlur(1.2))
    )
    assert read(soft) == [DYNAMIC]


@settings(max_examples=25)
@given(
    amount_idr=st.integers(1, 10_000_000),
    reference=st.from_regex(r"[0-9A-Z]{1,25}", fullmatch=True),
)
def test_any_dynamic_code_reads_back(amount_idr: int, reference: str) -> None:
    payload = build_dynamic(
        IDENTITY, amount_idr=amount_idr, bill_number="SKRD/2026/11/LEGI/000001", reference=reference
    )
    assert read(png_image(qr_png(payload, box_size_px=4))) == [payload]


def test_printed_card_reads_back(app: object) -> None:
    cards = [
        Card(STATIC, "Pasar Klewer", "Blok A", "KLEWER-A-012", "kios", "Sri Rahayu"),
        Card(
            build_static(IDENTITY, stall_reference="KLEWER-A-013"),
            "Pasar Klewer",
            "Blok A",
            "KLEWER-A-013",
            "kios",
            None,
            ("BANK JATENG 1234567890123",),
        ),
    ]
    from flask import Flask

    assert isinstance(app, Flask)
    with app.test_request_context():
        pdf = cards_pdf(cards, IDENTITY, title="test")
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 2
    width_pt, height_pt = document[0].get_size()
    assert (round(width_pt / 72 * 25.4), round(height_pt / 72 * 25.4)) == (105, 148)  # A6
    for page, card in zip(document, cards, strict=True):
        # 150 dpi is what a cheap phone camera resolves of a card held at 30 cm.
        image = page.render(scale=150 / 72).to_pil()
        assert read(image) == [card.payload]
        text = page.get_textpage().get_text_range()
        assert card.stall_reference in text
        assert (card.holder_name or "") in text
    assert "BANK JATENG 1234567890123" in document[1].get_textpage().get_text_range()
    document.close()
