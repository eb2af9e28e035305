"""QR images: same symbol as qrcode, ECI for UTF-8, PNG and SVG structure, refused inputs."""

from __future__ import annotations

import io
import re
from typing import cast

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode import QRCode, util
from qrcode.constants import ERROR_CORRECT_M

from payments.qris import QrImageError, QrisError, qr_matrix, qr_png, qr_svg
from payments.qris import image as qr_image

STATIC = (
    "00020101021126660020ID.CO.BANKJATENG.WWW011693600113123456730211RETPSRSKA010303URE51440014"
    "ID.CO.QRIS.WWW0215ID10261234567890303URE5204939953033605802ID5921DISDAG KOTA SURAKARTA6009"
    "SURAKARTA61055711162150711PSGEDE-K0126304F8E3"
)
SVG_NS = "{http://www.w3.org/2000/svg}"


def byte_segment(data: bytes) -> util.QRData:
    return util.QRData(data, mode=4)  # util.MODE_8BIT_BYTE, as a literal for the type stubs


def qrcode_reference(payload: str) -> list[list[bool]]:
    """What qrcode itself makes for one Byte-mode segment at level M, mask chosen by qrcode."""
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(byte_segment(payload.encode()))
    qr.make()
    return [[bool(m) for m in row] for row in qr.modules]


# ------------------------------------------------------------------------------ the symbol


def test_symbol_equals_qrcode_make() -> None:
    reference = qrcode_reference(STATIC)
    assert len(reference) == 61  # version 11 for this 225-character payload
    assert qr_image._symbol(STATIC) == reference


@pytest.mark.parametrize("length", [1, 17, 60, 140, 260, 400, 512])
def test_symbol_equals_qrcode_make_across_versions(length: int) -> None:
    payload = (STATIC * 3)[:length]
    assert qr_image._symbol(payload) == qrcode_reference(payload)


@settings(max_examples=25)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=400))
def test_symbol_equals_qrcode_make_property(payload: str) -> None:
    assert qr_image._symbol(payload) == qrcode_reference(payload)


@settings(max_examples=15)
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=200))
def test_mask_choice_equals_qrcode_for_any_text(payload: str) -> None:
    # Same codewords (with ECI when needed), mask chosen by qrcode's own best_mask_pattern.
    data = payload.encode()
    eci = any(not " " <= char <= "~" for char in payload)
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.version = qr_image._fit_version(len(data), eci)
    qr.data_cache = qr_image._codewords(data, qr.version, eci)
    qr.make(fit=False)
    assert qr_image._symbol(payload) == [[bool(m) for m in row] for row in qr.modules]


@settings(max_examples=40)
@given(
    st.integers(21, 45).flatmap(
        lambda n: st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=n, max_size=n)
    )
)
def test_penalty_equals_qrcode_lost_point(modules: list[list[bool]]) -> None:
    assert qr_image.penalty(modules) == util.lost_point(cast(list[list[bool | None]], modules))


def test_penalty_on_every_mask_of_a_real_symbol() -> None:
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(byte_segment(STATIC.encode()))
    qr.make()
    for mask in range(8):
        qr.makeImpl(True, mask)
        modules = [[bool(m) for m in row] for row in qr.modules]
        assert qr_image.penalty(modules) == util.lost_point(cast(list[list[bool | None]], modules))


def test_ascii_codewords_match_qrcode_create_data() -> None:
    data = STATIC.encode()
    version = qr_image._fit_version(len(data), eci=False)
    expected = util.create_data(version, ERROR_CORRECT_M, [byte_segment(data)])
    assert qr_image._codewords(data, version, eci=False) == expected


def test_non_ascii_payload_gets_the_utf8_eci_header() -> None:
    data = "Ü1".encode()
    version = qr_image._fit_version(len(data), eci=True)
    assert version == 1  # one block, so the codewords start with the data stream
    codewords = qr_image._codewords(data, version, eci=True)
    # 0111 00011010 (ECI 26 = UTF-8) | 0100 (Byte mode) 00000011 (3 bytes) | 0xC3 0x9C 0x31
    assert codewords[:2] == [0b0111_0001, 0b1010_0100]
    bits = "".join(f"{c:08b}" for c in codewords[:6])
    assert bits.startswith("011100011010010000000011110000111001110000110001")
    assert qr_image._symbol("Ü1") != qrcode_reference("Ü1")  # qrcode alone has no ECI


def test_ascii_payload_has_no_eci() -> None:
    codewords = qr_image._codewords(b"A", 1, eci=False)
    bits = "".join(f"{c:08b}" for c in codewords[:3])
    # 0100 (Byte mode) 00000001 (1 byte) 01000001 ("A"): no ECI header in front.
    assert bits.startswith("01000000000101000001")


def test_matrix_has_the_quiet_zone() -> None:
    matrix = qr_matrix(STATIC)
    assert len(matrix) == 61 + 8
    assert all(len(row) == 69 for row in matrix)
    for index in range(4):
        assert not any(matrix[index])
        assert not any(matrix[-1 - index])
        assert not any(row[index] for row in matrix)
        assert not any(row[-1 - index] for row in matrix)
    # Finder pattern top-left starts right after the quiet zone.
    assert matrix[4][4:11] == [True] * 7
    wide = qr_matrix(STATIC, border_modules=6)
    assert len(wide) == 61 + 12


# ----------------------------------------------------------------------------------- PNG


def test_png_structure_and_pixels() -> None:
    data = qr_png(STATIC)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (690, 690)  # (61 + 8) modules x 10 px
    assert image.mode == "1"
    assert image.info["dpi"] == pytest.approx((254, 254), abs=0.01)
    matrix = qr_matrix(STATIC)
    grey = image.convert("L")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            assert grey.getpixel((x * 10 + 5, y * 10 + 5)) == (0 if dark else 255)


def test_png_box_size() -> None:
    image = Image.open(io.BytesIO(qr_png(STATIC, box_size_px=3, border_modules=5)))
    assert image.size == ((61 + 10) * 3,) * 2
    assert qr_image.DEFAULT_BOX_SIZE_PX * 21 >= 115  # ASPI minimum 115 px, with margin


# ----------------------------------------------------------------------------------- SVG


def svg_dark_cells(svg: str) -> set[tuple[int, int]]:
    root = ElementTree.fromstring(svg)
    (path,) = root.iter(f"{SVG_NS}path")
    commands = path.get("d")
    assert commands is not None
    cells: set[tuple[int, int]] = set()
    for x, y, width, back in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", commands):
        assert width == back
        cells.update((int(x) + i, int(y)) for i in range(int(width)))
    # The regex must have consumed the whole path.
    assert re.sub(r"M\d+ \d+h\d+v1h-\d+z", "", commands) == ""
    return cells


def test_svg_is_well_formed_self_contained_and_exact() -> None:
    svg = qr_svg(STATIC)
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    assert "href" not in svg
    assert "url(" not in svg
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "0 0 69 69"
    assert root.get("width") == root.get("height") == "276"
    rect = root.find(f"{SVG_NS}rect")
    assert rect is not None
    assert rect.get("fill") == "#fff"
    matrix = qr_matrix(STATIC)
    expected = {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    assert svg_dark_cells(svg) == expected


def test_svg_sizes() -> None:
    root = ElementTree.fromstring(qr_svg(STATIC, module_px=2, border_modules=8))
    assert root.get("viewBox") == "0 0 77 77"
    assert root.get("width") == "154"


@settings(max_examples=10)
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=120))
def test_svg_property_any_text(payload: str) -> None:
    svg = qr_svg(payload)
    matrix = qr_matrix(payload)
    expected = {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    assert svg_dark_cells(svg) == expected


# ---------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("", "image.payload_empty"),
        (None, "image.payload_empty"),
        (b"000201", "image.payload_empty"),
        ("0" * 513, "image.payload_too_long"),
        ("0002\ud800", "image.payload_encoding"),
    ],
)
def test_bad_payloads(payload: object, code: str) -> None:
    for render in (qr_png, qr_svg, qr_matrix):
        with pytest.raises(QrImageError) as info:
            render(payload)  # type: ignore[arg-type]
        assert info.value.code == code
        assert isinstance(info.value, QrisError)


def test_longest_payload_renders() -> None:
    payload = "ꦥ" * 512  # 1536 UTF-8 bytes: still fits version 40-M
    matrix = qr_matrix(payload)
    assert len(matrix) == 4 * qr_image._fit_version(1536, eci=True) + 17 + 8


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"box_size_px": 0}, "image.box_size"),
        ({"box_size_px": 21}, "image.box_size"),
        ({"border_modules": 3}, "image.border"),
        ({"border_modules": 17}, "image.border"),
    ],
)
def test_bad_png_sizes(kwargs: dict[str, int], code: str) -> None:
    with pytest.raises(QrImageError) as info:
        qr_png(STATIC, **kwargs)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"module_px": 0}, "image.box_size"),
        ({"border_modules": 0}, "image.border"),
    ],
)
def test_bad_svg_sizes(kwargs: dict[str, int], code: str) -> None:
    with pytest.raises(QrImageError) as info:
        qr_svg(STATIC, **kwargs)
    assert info.value.code == code
