"""QRIS channel, pure part: payload codec and validation, static/dynamic builders, QR images.

Typical use::

    from payments.qris import MerchantIdentity, build_dynamic, decode_report, qr_svg

    payload = build_dynamic(identity, amount_idr=15000, bill_number="SKRD-2026-000123",
                            reference="Q8F3K2M9")
    svg = qr_svg(payload)
    report = decode_report(payload)      # what `retribusi qris decode` prints

See docs/qris.md for the formats, the validation codes and the image sizing.
"""

from payments.qris.builder import (
    MCC_GOVERNMENT_SERVICES,
    MerchantIdentity,
    QrisBuildError,
    build_dynamic,
    build_static,
    compose_merchant_pan,
)
from payments.qris.codec import (
    MAX_INPUT_CHARS,
    MAX_PAYLOAD_CHARS,
    QRIS_MAX_TRANSACTION_IDR,
    DataObject,
    Decoded,
    Initiation,
    Issue,
    IssueCode,
    MerchantCriteria,
    Payload,
    QrisError,
    QrisParseError,
    Severity,
    crc_hex,
    decode,
    decode_report,
    encode,
    parse,
    with_crc,
)
from payments.qris.image import QrImageError, qr_matrix, qr_png, qr_svg

__all__ = [
    "MAX_INPUT_CHARS",
    "MAX_PAYLOAD_CHARS",
    "MCC_GOVERNMENT_SERVICES",
    "QRIS_MAX_TRANSACTION_IDR",
    "DataObject",
    "Decoded",
    "Initiation",
    "Issue",
    "IssueCode",
    "MerchantCriteria",
    "MerchantIdentity",
    "Payload",
    "QrImageError",
    "QrisBuildError",
    "QrisError",
    "QrisParseError",
    "Severity",
    "build_dynamic",
    "build_static",
    "compose_merchant_pan",
    "crc_hex",
    "decode",
    "decode_report",
    "encode",
    "parse",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "with_crc",
]
