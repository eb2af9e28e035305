"""QR symbols for QRIS payloads: a PNG to save or print, an SVG to inline in a page.

The symbol comes from the ``qrcode`` library (Reed-Solomon blocks, module placement, masks) with
error correction level M and a quiet zone of at least 4 modules, as EMVCo asks. Two things are
done here rather than by ``qrcode.QRCode.make()``:

* The data is one Byte-mode segment (EMVCo MPM §4.12 allows Byte mode only), preceded by the ECI
  designator 000026 (UTF-8) when the payload has a character outside printable ASCII, which
  EMVCo requires and ``qrcode`` cannot emit.
* The mask is chosen with the same penalty rules as ``qrcode.util.lost_point`` (hence the same
  symbol), but the data is placed once and the other masks derived by XOR, and the penalties are
  computed on byte strings and integers: ``qrcode``'s own search takes ~20 ms per code, this a
  few ms.

Rendering is done from the module matrix (Pillow for PNG, one ``<path>`` for SVG), which is
faster than ``qrcode``'s image factories and gives a self-contained SVG string.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
from collections.abc import Sequence
from typing import Final

from PIL import Image
from qrcode import QRCode, base, util
from qrcode.constants import ERROR_CORRECT_M

from payments.qris.codec import MAX_PAYLOAD_CHARS, QrisError

#: Quiet zone required around the symbol, in modules (ISO/IEC 18004 §7.3.7).
QUIET_ZONE_MODULES: Final = 4
#: PNG module size 10 px, tagged 254 dpi (10 px per mm): printed at its natural size a module is
#: 1 mm. Our static stall code (~225 characters, version 11, 61 + 8 modules) is then 69 mm wide and
#: a dynamic bill code (~255 characters, version 12) 73 mm: fits an A6 card and is read by a
#: fixed-focus phone camera from 20-50 cm. On screen the 690-730 px image is scaled to fit.
DEFAULT_BOX_SIZE_PX: Final = 10
PNG_DPI: Final = 254
#: SVG intrinsic size per module in CSS px: 69-73 modules -> 276-292 px, fits a 360 px phone
#: screen with margins; CSS may rescale it freely (it is vector, crisp at any size).
DEFAULT_SVG_MODULE_PX: Final = 4
#: 20 px (2 mm printed) is plenty for a poster; it bounds a version-40 PNG to ~4200 px a side.
_MAX_BOX_SIZE_PX: Final = 20
_MAX_BORDER_MODULES: Final = 16

_ECI_MODE: Final = 0b0111
_ECI_UTF8: Final = 26  # ECI designator 000026 = UTF-8, fits the one-byte form (0-127)
_BYTE_MODE: Final = util.MODE_8BIT_BYTE
_NOT_ANS_RE: Final = re.compile("[^\x20-\x7e]")

# Penalty scoring on rows/columns rendered as b"0"/b"1" strings.
_TO_ASCII_BITS: Final = bytes.maketrans(b"\x00\x01", b"01")
# Finder-like pattern 1:1:3:1:1 with four light modules after or before it.
_FINDER_LIGHT_AFTER: Final = b"10111010000"
_FINDER_LIGHT_BEFORE: Final = b"00001011101"
_DARK_RUN_RE: Final = re.compile(rb"1+")


class QrImageError(QrisError):
    """The payload or a size argument cannot be rendered; ``code`` says which."""


def _payload_bytes(payload: object) -> bytes:
    if not isinstance(payload, str) or not payload:
        raise QrImageError("image.payload_empty", "payload must be a non-empty string")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise QrImageError(
            "image.payload_too_long",
            f"payload has {len(payload)} characters (max {MAX_PAYLOAD_CHARS})",
        )
    try:
        return payload.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QrImageError("image.payload_encoding", "payload is not valid Unicode text") from exc


def _needed_bits(data_len: int, version: int, eci: bool) -> int:
    count_bits = 8 if version < 10 else 16  # Byte-mode character count indicator (Table 3)
    return (12 if eci else 0) + 4 + count_bits + 8 * data_len


def _fit_version(data_len: int, eci: bool) -> int:
    limits = util.BIT_LIMIT_TABLE[ERROR_CORRECT_M]
    for version in range(1, 41):
        if _needed_bits(data_len, version, eci) <= limits[version]:
            return version
    raise QrImageError("image.payload_too_long", "payload does not fit in a QR code")


def _codewords(data: bytes, version: int, eci: bool) -> list[int]:
    """Data + error-correction codewords; same padding as ``qrcode.util.create_data``."""
    buffer = util.BitBuffer()
    if eci:
        buffer.put(_ECI_MODE, 4)
        buffer.put(_ECI_UTF8, 8)
    buffer.put(_BYTE_MODE, 4)
    buffer.put(len(data), 8 if version < 10 else 16)
    for byte in data:
        buffer.put(byte, 8)
    rs_blocks = base.rs_blocks(version, ERROR_CORRECT_M)
    bit_limit = sum(block.data_count * 8 for block in rs_blocks)
    for _ in range(min(bit_limit - len(buffer), 4)):  # terminator
        buffer.put_bit(False)
    while len(buffer) % 8:
        buffer.put_bit(False)
    for index in range((bit_limit - len(buffer)) // 8):
        buffer.put(util.PAD1 if index % 2 else util.PAD0, 8)
    return util.create_bytes(buffer, rs_blocks)


def penalty(modules: Sequence[Sequence[bool]]) -> int:
    """ISO 18004 mask penalty exactly as ``qrcode.util.lost_point`` scores it, but fast.

    Rows and columns become b"0"/b"1" strings and integers, so each rule is a handful of C-level
    operations per line instead of a Python loop per module.
    """
    return _penalty_of_rows([bytes(row).translate(_TO_ASCII_BITS) for row in modules])


def _penalty_of_rows(rows: list[bytes]) -> int:
    """:func:`penalty` of a matrix given as rows of b"0"/b"1"."""
    size = len(rows)
    # Zipping the b"0"/b"1" rows yields the columns as tuples of the same ASCII codes.
    lines = rows + [bytes(column) for column in zip(*rows, strict=True)]
    line_ints = [int(line, 2) for line in lines]
    pairs_mask = (1 << (size - 1)) - 1  # bit p: modules p and p+1 of a line
    runs = 0
    for bits in line_ints:
        same = ~(bits ^ (bits >> 1)) & pairs_mask
        # bit p of `five`: modules p..p+4 share a colour. A run of n >= 5 sets n - 4 such bits
        # in one block and scores n - 2, i.e. bits + 2 per block.
        five = same & (same >> 1) & (same >> 2) & (same >> 3)
        runs += five.bit_count() + 2 * (five & ~(five << 1)).bit_count()
    blocks = 0
    for upper, lower in itertools.pairwise(line_ints[:size]):
        same_column = ~(upper ^ lower)
        same_row = ~(upper ^ (upper >> 1))
        blocks += (same_column & (same_column >> 1) & same_row & pairs_mask).bit_count()
    # Neither pattern overlaps itself, so the non-overlapping bytes.count() finds every one.
    joined = b"\n".join(lines)
    finders = joined.count(_FINDER_LIGHT_AFTER) + joined.count(_FINDER_LIGHT_BEFORE)
    dark = sum(row.count(b"1") for row in rows)
    # Float arithmetic as in qrcode, so ties break identically.
    balance = int(abs(float(dark) / (size**2) * 100 - 50) / 5) * 10
    return runs + 3 * blocks + 40 * finders + balance


def _row_ints(modules: Sequence[Sequence[bool | None]]) -> list[int]:
    return [int(bytes(map(bool, row)).translate(_TO_ASCII_BITS), 2) for row in modules]


@functools.lru_cache(maxsize=40)
def _mask_flips(version: int) -> tuple[tuple[int, ...], ...]:
    """Per mask k, the rows (as bit sets) of modules that differ between mask 0 and mask k.

    In qrcode's "test" pass only data modules depend on the mask (format bits are left light), so
    the symbol under mask k is the symbol under mask 0 XOR these flips. Computed once per version
    from an all-light data stream, where each data module simply shows its mask bit.
    """
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.version = version
    qr.data_cache = []
    masked = []
    for mask in range(8):
        qr.makeImpl(True, mask)
        masked.append(_row_ints(qr.modules))
    return tuple(
        tuple(row0 ^ row for row0, row in zip(masked[0], rows, strict=True)) for rows in masked
    )


def _symbol(payload: str) -> list[list[bool]]:
    """The module matrix without quiet zone (True = dark)."""
    data = _payload_bytes(payload)
    eci = _NOT_ANS_RE.search(payload) is not None
    version = _fit_version(len(data), eci)
    qr = QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.version = version
    qr.data_cache = _codewords(data, version, eci)
    # Score the eight masks as qrcode.best_mask_pattern does (lowest penalty, first on a tie),
    # placing the data once and deriving the other seven masks by XOR.
    qr.makeImpl(True, 0)
    base_rows = _row_ints(qr.modules)
    width = f"0{len(base_rows)}b"
    scores = [
        _penalty_of_rows(
            [format(row ^ flip, width).encode() for row, flip in zip(base_rows, flips, strict=True)]
        )
        for flips in _mask_flips(version)
    ]
    qr.makeImpl(False, scores.index(min(scores)))
    return [[bool(module) for module in row] for row in qr.modules]


def _check_border(border_modules: int) -> None:
    if not QUIET_ZONE_MODULES <= border_modules <= _MAX_BORDER_MODULES:
        raise QrImageError(
            "image.border",
            f"border_modules must be {QUIET_ZONE_MODULES}-{_MAX_BORDER_MODULES} (quiet zone)",
        )


def qr_matrix(payload: str, *, border_modules: int = QUIET_ZONE_MODULES) -> list[list[bool]]:
    """Module matrix including the quiet zone (True = dark), e.g. to draw a card with fpdf2."""
    _check_border(border_modules)
    symbol = _symbol(payload)
    size = len(symbol) + 2 * border_modules
    blank = [False] * size
    pad = [False] * border_modules
    return (
        [blank[:] for _ in range(border_modules)]
        + [pad + row + pad for row in symbol]
        + [blank[:] for _ in range(border_modules)]
    )


def qr_png(
    payload: str,
    *,
    box_size_px: int = DEFAULT_BOX_SIZE_PX,
    border_modules: int = QUIET_ZONE_MODULES,
) -> bytes:
    """A 1-bit PNG, ``box_size_px`` pixels per module, tagged 254 dpi (10 px = 1 mm)."""
    if not 1 <= box_size_px <= _MAX_BOX_SIZE_PX:
        raise QrImageError("image.box_size", f"box_size_px must be 1-{_MAX_BOX_SIZE_PX}")
    matrix = qr_matrix(payload, border_modules=border_modules)
    size = len(matrix)
    # One grey byte per module (0 dark, 255 light), then a nearest-neighbour upscale: exact
    # square modules without drawing them one by one.
    pixels = b"".join(bytes(0 if dark else 255 for dark in row) for row in matrix)
    small = Image.frombytes("L", (size, size), pixels)
    side_px = size * box_size_px
    image = small.resize((side_px, side_px), Image.Resampling.NEAREST).convert(
        "1", dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(PNG_DPI, PNG_DPI))
    return out.getvalue()


def qr_svg(
    payload: str,
    *,
    module_px: int = DEFAULT_SVG_MODULE_PX,
    border_modules: int = QUIET_ZONE_MODULES,
) -> str:
    """A self-contained ``<svg>`` element (no XML prolog, no external references) for inline HTML.

    The viewBox is in modules; ``width``/``height`` give ``module_px`` CSS px per module and may
    be overridden by CSS. Dark modules are one ``<path>`` of horizontal runs on a white square.
    """
    if not 1 <= module_px <= _MAX_BOX_SIZE_PX:
        raise QrImageError("image.box_size", f"module_px must be 1-{_MAX_BOX_SIZE_PX}")
    _check_border(border_modules)
    symbol = _symbol(payload)
    size = len(symbol) + 2 * border_modules
    path: list[str] = []
    for y, row in enumerate(symbol, start=border_modules):
        line = bytes(row).translate(_TO_ASCII_BITS)
        for run in _DARK_RUN_RE.finditer(line):
            width = run.end() - run.start()
            path.append(f"M{run.start() + border_modules} {y}h{width}v1h-{width}z")
    side_px = size * module_px
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{side_px}" height="{side_px}" shape-rendering="crispEdges" '
        f'role="img" aria-label="QRIS">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>'
    )
