"""QRIS builder: exact layouts, zero-issue output, round trips, and refusal of every bad field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.qris import (
    MerchantCriteria,
    MerchantIdentity,
    QrisBuildError,
    QrisError,
    build_dynamic,
    build_static,
    compose_merchant_pan,
    decode,
    decode_report,
    encode,
    parse,
)
from payments.qris.codec import QRIS_MAX_TRANSACTION_IDR, crc_hex

PAN = "9360011312345673"  # NNS 93600113 (Bank Jateng) + 1234567 + Luhn digit 3
FIELDS: dict[str, Any] = {
    "acquirer_guid": "ID.CO.BANKJATENG.WWW",
    "merchant_pan": PAN,
    "merchant_id": "RETPSRSKA01",
    "merchant_criteria": MerchantCriteria.URE,
    "nmid": "ID1026123456789",
    "merchant_name": "DISDAG KOTA SURAKARTA",
    "merchant_city": "SURAKARTA",
    "postal_code": "57111",
}
IDENTITY = MerchantIdentity(**FIELDS)


def identity(**changes: Any) -> MerchantIdentity:
    return MerchantIdentity(**{**FIELDS, **changes})


# ------------------------------------------------------------------------------- layouts


def test_static_layout_tag_by_tag() -> None:
    payload = build_static(IDENTITY, stall_reference="PSGEDE-K012")
    assert payload == (
        "000201"
        "010211"
        "26660020ID.CO.BANKJATENG.WWW0116936001131234567302"
        "11RETPSRSKA010303URE"
        "51440014ID.CO.QRIS.WWW0215ID10261234567890303URE"
        "52049399"
        "5303360"
        "5802ID"
        "5921DISDAG KOTA SURAKARTA"
        "6009SURAKARTA"
        "610557111"
        "62150711PSGEDE-K012"
        "6304" + crc_hex(payload[:-4])
    )
    assert [o.tag for o in parse(payload).objects] == [
        "00", "01", "26", "51", "52", "53", "58", "59", "60", "61", "62", "63",
    ]  # fmt: skip


def test_dynamic_layout_tag_by_tag() -> None:
    payload = build_dynamic(
        IDENTITY, amount_idr=15000, bill_number="SKRD/2026/01/000123", reference="Q7K2M9X4"
    )
    assert payload == (
        "000201"
        "010212"
        "26660020ID.CO.BANKJATENG.WWW0116936001131234567302"
        "11RETPSRSKA010303URE"
        "51440014ID.CO.QRIS.WWW0215ID10261234567890303URE"
        "52049399"
        "5303360"
        "540515000"
        "5802ID"
        "5921DISDAG KOTA SURAKARTA"
        "6009SURAKARTA"
        "610557111"
        "62350119SKRD/2026/01/0001230508Q7K2M9X4"
        "6304" + crc_hex(payload[:-4])
    )
    report = decode_report(payload)
    assert report["errors"] == []
    assert report["warnings"] == []
    assert report["initiation"] == "dynamic"
    assert report["amount"] == 15000
    assert report["bill_number"] == "SKRD/2026/01/000123"
    assert report["reference_label"] == "Q7K2M9X4"
    assert report["nmid"] == "ID1026123456789"


def test_static_code_is_clean_and_carries_the_stall() -> None:
    payload = build_static(IDENTITY, stall_reference="PSLEGI-LOS-07")
    decoded = decode(payload)
    assert decoded.issues == ()
    assert decoded.crc_ok
    assert decoded.amount_idr is None
    assert decoded.value("62.07") == "PSLEGI-LOS-07"
    assert decoded.value("54") is None


def test_language_template_with_javanese_script() -> None:
    ident = identity(language="jv", name_alt="ꦥꦱꦂꦒꦺꦝꦺ", city_alt="Surakarta")
    payload = build_dynamic(ident, amount_idr=2500, bill_number="B1", reference="R1")
    assert "64300002jv0107ꦥꦱꦂꦒꦺꦝꦺ0209Surakarta6304" in payload
    assert decode(payload).issues == ()
    assert encode(parse(payload)) == payload
    without_city = identity(language="id", name_alt="Pasar Gedhé")
    assert "64210002id0111Pasar Gedhé6304" in build_static(without_city, stall_reference="A1")


def test_identity_is_a_hashable_value() -> None:
    assert identity() == IDENTITY
    assert hash(identity()) == hash(IDENTITY)
    assert "fragments" not in repr(IDENTITY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        IDENTITY.merchant_name = "X"  # type: ignore[misc]


def test_compose_merchant_pan() -> None:
    assert compose_merchant_pan("93600113", "1234567") == PAN
    with pytest.raises(QrisBuildError) as info:
        compose_merchant_pan("12345678", "1")
    assert info.value.field == "nns"
    with pytest.raises(QrisBuildError) as info:
        compose_merchant_pan("93600113", "")
    assert info.value.field == "merchant_number"


# --------------------------------------------------------------------------- properties

_ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|")


def _ans_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_ANS, min_size=1, max_size=max_size).filter(lambda s: s == s.strip())


_REFERENCE = st.from_regex(r"[0-9A-Za-z][0-9A-Za-z./_-]{0,24}", fullmatch=True)
_ALT_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=25
).filter(lambda s: s == s.strip() and not any("\x7f" <= c <= "\x9f" for c in s))


@st.composite
def identities(draw: st.DrawFn) -> MerchantIdentity:
    nns = draw(st.from_regex(r"9360[0-9]{4}", fullmatch=True))
    number = draw(st.from_regex(r"[0-9]{1,10}", fullmatch=True))
    has_alt = draw(st.booleans())
    return MerchantIdentity(
        acquirer_guid=draw(st.from_regex(r"[0-9A-Za-z][0-9A-Za-z.-]{0,31}", fullmatch=True)),
        merchant_pan=compose_merchant_pan(nns, number),
        merchant_id=draw(_ans_text(15)),
        merchant_criteria=draw(st.sampled_from(MerchantCriteria)),
        nmid=draw(st.from_regex(r"ID[0-9]{12,13}", fullmatch=True)),
        merchant_name=draw(_ans_text(25)),
        merchant_city=draw(_ans_text(15)),
        postal_code=draw(st.from_regex(r"[0-9]{5}", fullmatch=True)),
        mcc=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        language="id" if has_alt else None,
        name_alt=draw(_ALT_TEXT) if has_alt else None,
        city_alt=draw(_ALT_TEXT.filter(lambda s: len(s) <= 15)) if has_alt else None,
    )


@given(identities(), _REFERENCE)
def test_static_property(ident: MerchantIdentity, stall: str) -> None:
    payload = build_static(ident, stall_reference=stall)
    decoded = decode(payload)
    assert decoded.issues == ()
    assert encode(parse(payload)) == payload
    assert decoded.value("59") == ident.merchant_name
    assert decoded.value("62.07") == stall
    assert decoded.value("64.01") == ident.name_alt


@given(identities(), st.integers(1, QRIS_MAX_TRANSACTION_IDR), _REFERENCE, _REFERENCE)
def test_dynamic_property(ident: MerchantIdentity, amount_idr: int, bill: str, ref: str) -> None:
    payload = build_dynamic(ident, amount_idr=amount_idr, bill_number=bill, reference=ref)
    decoded = decode(payload)
    assert decoded.issues == ()
    assert encode(parse(payload)) == payload
    report = decode_report(payload)
    assert report["amount"] == amount_idr
    assert report["bill_number"] == bill
    assert report["reference_label"] == ref
    assert report["merchant_accounts"] == [
        {
            "tag": "26",
            "guid": ident.acquirer_guid,
            "pan": ident.merchant_pan,
            "merchant_id": ident.merchant_id,
            "criteria": str(ident.merchant_criteria),
        }
    ]


# ---------------------------------------------------------------------- bad identity fields

BAD_FIELDS: list[tuple[str, object]] = [
    ("acquirer_guid", ""),
    ("acquirer_guid", "ID.CO.BANK JATENG.WWW"),
    ("acquirer_guid", "X" * 33),
    ("merchant_pan", PAN[:-1] + "4"),  # bad Luhn digit
    ("merchant_pan", "4111111111111111"),  # Luhn-valid, but no QRIS NNS
    ("merchant_pan", "936001131"),  # too short for NNS + number + check digit
    ("merchant_pan", "93600113" + "1" * 12),  # 20 digits
    ("merchant_pan", 9360011312345673),
    ("merchant_id", ""),
    ("merchant_id", "X" * 16),
    ("merchant_id", "RET|01"),
    ("merchant_criteria", "XYZ"),
    ("merchant_criteria", ["UMI"]),
    ("nmid", "ID12"),
    ("nmid", "1026123456789"),
    ("nmid", "ID10261234567890"),
    ("mcc", "939"),
    ("mcc", "93a9"),
    ("mcc", "９３９９"),
    ("merchant_name", "X" * 26),
    ("merchant_name", "PASAR GEDÉ"),
    ("merchant_name", " PASAR"),
    ("merchant_name", "PASAR\n"),
    ("merchant_name", "PASAR|GEDE"),
    ("merchant_name", None),
    ("merchant_city", "X" * 16),
    ("merchant_city", ""),
    ("postal_code", "5711"),
    ("postal_code", "57111-0"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_identity_field_is_named(field: str, value: object) -> None:
    with pytest.raises(QrisBuildError) as info:
        identity(**{field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, QrisError)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_alt": "Pasar"}, "language"),
        ({"language": "id"}, "name_alt"),
        ({"language": "IND", "name_alt": "Pasar"}, "language"),
        ({"language": "id", "name_alt": "x" * 26}, "name_alt"),
        ({"language": "id", "name_alt": "Pasar\x00"}, "name_alt"),
        ({"language": "id", "name_alt": " Pasar"}, "name_alt"),
        ({"language": "id", "name_alt": "Pasar", "city_alt": "x" * 16}, "city_alt"),
        ({"city_alt": "Solo"}, "language"),
    ],
)
def test_bad_language_template(changes: dict[str, str], field: str) -> None:
    with pytest.raises(QrisBuildError) as info:
        identity(**changes)
    assert info.value.field == field


# -------------------------------------------------------------------- bad build arguments


@pytest.mark.parametrize(
    "amount", [0, -1, QRIS_MAX_TRANSACTION_IDR + 1, True, 1.0, "15000", 10**30]
)
def test_bad_amount(amount: object) -> None:
    with pytest.raises(QrisBuildError) as info:
        build_dynamic(IDENTITY, amount_idr=amount, bill_number="B1", reference="R1")  # type: ignore[arg-type]
    assert info.value.field == "amount_idr"


def test_amount_limits_accepted() -> None:
    for amount in (1, QRIS_MAX_TRANSACTION_IDR):
        payload = build_dynamic(IDENTITY, amount_idr=amount, bill_number="B1", reference="R1")
        assert decode(payload).amount_idr == amount


BAD_REFERENCES: list[object] = ["", "X" * 26, "***", "A B", "-A1", "ÄB", "A|B", "A\n", None, 12]


@pytest.mark.parametrize("value", BAD_REFERENCES)
def test_bad_references(value: object) -> None:
    with pytest.raises(QrisBuildError) as info:
        build_static(IDENTITY, stall_reference=value)  # type: ignore[arg-type]
    assert info.value.field == "stall_reference"
    with pytest.raises(QrisBuildError) as info:
        build_dynamic(IDENTITY, amount_idr=1, bill_number=value, reference="R1")  # type: ignore[arg-type]
    assert info.value.field == "bill_number"
    with pytest.raises(QrisBuildError) as info:
        build_dynamic(IDENTITY, amount_idr=1, bill_number="B1", reference=value)  # type: ignore[arg-type]
    assert info.value.field == "reference"


def test_longest_fields_still_fit() -> None:
    ident = identity(
        acquirer_guid="G" * 32,
        merchant_pan=compose_merchant_pan("93600113", "1" * 10),
        merchant_id="M" * 15,
        nmid="ID" + "1" * 13,
        merchant_name="N" * 25,
        merchant_city="C" * 15,
        language="id",
        name_alt="ñ" * 25,
        city_alt="ç" * 15,
    )
    payload = build_dynamic(
        ident, amount_idr=QRIS_MAX_TRANSACTION_IDR, bill_number="B" * 25, reference="R" * 25
    )
    assert len(payload) <= 512
    assert decode(payload).issues == ()
