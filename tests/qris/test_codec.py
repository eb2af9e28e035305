"""QRIS codec: public vectors, CRC, round trips, fuzzing, and every validation issue code."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.qris import codec
from payments.qris.codec import (
    MAX_INPUT_CHARS,
    DataObject,
    IssueCode,
    QrisError,
    QrisParseError,
    Severity,
    crc_hex,
    decode,
    decode_report,
    encode,
    parse,
    primitive,
    template,
    with_crc,
)

# qris.md §7, copied exactly.
Q01 = (
    "00020101021126570011ID.DANA.WWW011893600915302259148102090225914810303UMI51440014ID.CO.QRIS"
    ".WWW0215ID10200176114730303UMI5204581253033605802ID5922Warung Sayur Bu Sugeng6010Kab. Demak6"
    "10559567630458C7"
)
Q17 = (
    "00020101021126680016ID.CO.TELKOM.WWW011893600898026635207502150001952663520750303UMI51440014"
    "ID.CO.QRIS.WWW0215ID10211254059720303UMI5204549953033605502015802ID5906BIOLBE6011KAB. MALANG"
    "610565168622005091147938120703A03630404CB"
)
Q_MF2 = (
    "00020101021126620014COM.GO-JEK.WWW011993600914123456789010210G1234567890303UMI51440014ID.CO."
    "QRIS.WWW0215ID10200123456780303UMI5204581253033605802ID5909KOPI SÜSU6007JAKARTA61051011062"
    "120708KASIR-016304F554"
)
N04 = (
    "00020101021126620014COM.GO-JEK.WWW011993600914123456789010210G1234567890303UMI51440014ID.CO."
    "QRIS.WWW0215ID10200123456780303UMI5204581253033605802ID5911TOKO CONTOH6007JAKARTA6105101106"
    "2120708KASIR-0163040000"
)
E08 = (
    "0002010102112632002816990007000000000000446800005204510153031445802LK5910Direct Pay6010Colo"
    "mbo 0561050050062100506s.69906304106f"
)


def issue_codes(entries: object) -> list[str]:
    """Codes of a report's ``errors`` or ``warnings`` list."""
    assert isinstance(entries, list)
    return [entry["code"] for entry in entries]


# ----------------------------------------------------------------------------- public vectors


def test_q01_static_dana_code() -> None:
    report = decode_report(Q01)
    assert report["crc_ok"] is True
    assert report["errors"] == []
    assert report["initiation"] == "static"
    assert report["amount"] is None
    assert report["merchant_name"] == "Warung Sayur Bu Sugeng"
    assert report["merchant_city"] == "Kab. Demak"
    assert report["postal_code"] == "59567"
    assert report["nmid"] == "ID1020017611473"
    assert report["merchant_accounts"] == [
        {
            "tag": "26",
            "guid": "ID.DANA.WWW",
            "pan": "936009153022591481",
            "merchant_id": "022591481",
            "criteria": "UMI",
        }
    ]
    # Real acquirer PANs often fail plain Luhn; that is why it is only a warning.
    assert issue_codes(report["warnings"]) == ["pan.check_digit"]


def test_q17_crc_with_leading_zero_tip_prompt_and_labels() -> None:
    assert Q17.endswith("04CB")
    report = decode_report(Q17)
    assert report["crc_ok"] is True
    assert report["errors"] == []
    assert report["reference_label"] == "114793812"
    assert report["terminal_label"] == "A03"
    assert report["tip"] == {"indicator": "prompt", "fixed_idr": None, "percentage": None}
    assert report["merchant_city"] == "KAB. MALANG"


def test_q_mf2_non_ascii_name_counts_characters_and_crc_uses_utf8() -> None:
    name = "KOPI SÜSU"
    assert len(name) == 9
    assert len(name.encode()) == 10
    assert "5909KOPI SÜSU" in Q_MF2
    report = decode_report(Q_MF2)
    assert report["crc_ok"] is True
    assert report["errors"] == []
    assert report["merchant_name"] == name
    assert report["terminal_label"] == "KASIR-01"
    assert "charset.not_ans" in issue_codes(report["warnings"])


def test_n04_wrong_crc_is_an_error() -> None:
    report = decode_report(N04)
    assert report["crc_ok"] is False
    assert report["valid"] is False
    assert issue_codes(report["errors"]) == ["crc.mismatch"]
    # Fields are still decoded, so an operator can see what the damaged code meant.
    assert report["merchant_name"] == "TOKO CONTOH"


def test_e08_lowercase_crc_is_accepted_with_a_warning() -> None:
    report = decode_report(E08)
    assert report["crc_ok"] is True
    assert report["errors"] == []
    assert issue_codes(report["warnings"]) == ["crc.lowercase"]
    assert report["country"] == "LK"
    assert report["currency"] == "144"
    assert report["reference_label"] == "s.6990"


@pytest.mark.parametrize("payload", [Q01, Q17, Q_MF2, N04, E08])
def test_vectors_round_trip_exactly(payload: str) -> None:
    assert encode(parse(payload)) == payload
    assert parse(payload).encode() == payload


# ------------------------------------------------------------------------------------- CRC


def test_crc_check_value() -> None:
    assert codec.crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc_hex("123456789") == "29B1"


def test_crc_is_over_utf8_bytes_and_zero_padded() -> None:
    # The naive "charCode << 8" loop differs from this on non-ASCII input (qris.md §1.4).
    assert crc_hex("é") == f"{codec.crc16_ccitt_false('é'.encode()):04X}"
    assert crc_hex("é") != f"{codec.crc16_ccitt_false('é'.encode('latin-1')):04X}"
    assert Q17[-4:] == crc_hex(Q17[:-4])  # "04CB": four digits, not "4CB"
    assert with_crc("000201").startswith("0002016304")
    assert len(with_crc("000201")) == 14


def test_crc_never_raises_on_lone_surrogates() -> None:
    assert len(crc_hex("\ud800" + "6304")) == 4


# ----------------------------------------------------------------------------- base payload

PAN = "9360011312345673"
Obj = tuple[str, "str | list[tuple[str, str]]"]
BASE: list[Obj] = [
    ("00", "01"),
    ("01", "11"),
    ("26", [("00", "ID.CO.BANKJATENG.WWW"), ("01", PAN), ("02", "RETPSRSKA01"), ("03", "URE")]),
    ("51", [("00", "ID.CO.QRIS.WWW"), ("02", "ID1026123456789"), ("03", "URE")]),
    ("52", "9399"),
    ("53", "360"),
    ("58", "ID"),
    ("59", "PASAR GEDE"),
    ("60", "SURAKARTA"),
    ("61", "57111"),
    ("62", [("07", "PSGEDE-K012")]),
]


def raw(tag: str, value: str) -> str:
    """TLV text without the 1-99 check, so tests can write zero-length objects."""
    return f"{tag}{len(value):02d}{value}"


def build(objects: list[Obj], *, crc: bool = True) -> str:
    parts = []
    for tag, value in objects:
        if isinstance(value, list):
            parts.append(raw(tag, "".join(raw(t, v) for t, v in value)))
        else:
            parts.append(raw(tag, value))
    body = "".join(parts)
    return with_crc(body) if crc else body


def change(tag: str, value: str | list[tuple[str, str]] | None) -> list[Obj]:
    """BASE with ``tag`` replaced (or removed if None), or inserted in ascending order."""
    out: list[Obj] = []
    placed = False
    for obj_tag, obj_value in BASE:
        if obj_tag == tag:
            placed = True
            if value is not None:
                out.append((tag, value))
            continue
        if not placed and value is not None and obj_tag > tag:
            out.append((tag, value))
            placed = True
        out.append((obj_tag, obj_value))
    if not placed and value is not None:
        out.append((tag, value))
    return out


def sub(tag: str, sub_tag: str, value: str | None) -> list[Obj]:
    """BASE with sub-object ``sub_tag`` of template ``tag`` replaced (None removes it)."""
    out: list[Obj] = []
    for obj_tag, obj_value in BASE:
        if obj_tag == tag and isinstance(obj_value, list):
            children = [(t, v) for t, v in obj_value if t != sub_tag]
            if value is not None:
                children = sorted([*children, (sub_tag, value)])
            out.append((obj_tag, children))
        else:
            out.append((obj_tag, obj_value))
    return out


GOOD = build(BASE)


def test_base_payload_is_clean() -> None:
    decoded = decode(GOOD)
    assert decoded.issues == ()
    assert decoded.crc_ok
    assert decoded.valid


# --------------------------------------------------------------- every issue code, once each

CASES: dict[IssueCode, Callable[[], str]] = {
    IssueCode.PAYLOAD_EMPTY: lambda: " \r\n",
    IssueCode.PAYLOAD_TOO_LONG: lambda: build(
        [*BASE, *[(f"{80 + i}", [("00", "X" * 90)]) for i in range(5)]]
    ),
    IssueCode.TLV_BAD_TAG: lambda: "0002010A02" + GOOD[10:],
    IssueCode.TLV_BAD_LENGTH: lambda: "00020101x1" + GOOD[10:],
    IssueCode.TLV_TRUNCATED: lambda: GOOD[:-3],
    IssueCode.TLV_ZERO_LENGTH: lambda: build(change("80", "")),
    IssueCode.TLV_DUPLICATE: lambda: build([*BASE[:8], ("59", "PASAR LEGI"), *BASE[8:]]),
    IssueCode.TEMPLATE_MALFORMED: lambda: build(change("26", "not a TLV list")),
    IssueCode.CRC_MISSING: lambda: build(BASE, crc=False),
    IssueCode.CRC_NOT_LAST: lambda: GOOD + raw("64", raw("00", "id") + raw("01", "Pasar")),
    IssueCode.CRC_FORMAT: lambda: build(BASE, crc=False) + "6304XYZW",
    IssueCode.CRC_MISMATCH: lambda: GOOD[:-4] + ("0000" if GOOD[-4:] != "0000" else "0001"),
    IssueCode.PFI_NOT_FIRST: lambda: build([BASE[1], BASE[0], *BASE[2:]]),
    IssueCode.PFI_INVALID: lambda: build(change("00", "02")),
    IssueCode.POI_INVALID: lambda: build(change("01", "13")),
    IssueCode.TAG_MISSING: lambda: build(change("59", None)),
    IssueCode.MAI_MISSING: lambda: build([o for o in BASE if o[0] not in {"26", "51"}]),
    IssueCode.FIELD_TOO_LONG: lambda: build(change("59", "P" * 26)),
    IssueCode.FIELD_BAD_LENGTH: lambda: build(change("52", "939")),
    IssueCode.FIELD_NOT_NUMERIC: lambda: build(change("52", "93A9")),
    IssueCode.FIELD_INVALID: lambda: build(change("62", [("07", "A01"), ("09", "AA")])),
    IssueCode.CHARSET_INVALID: lambda: build(change("59", "PASAR\x00GEDE")),
    IssueCode.CHARSET_PIPE: lambda: build(change("59", "PASAR|GEDE")),
    IssueCode.CURRENCY_NOT_IDR: lambda: build(change("53", "840")),
    IssueCode.AMOUNT_INVALID: lambda: build(change("54", "15,000")),
    IssueCode.AMOUNT_ZERO: lambda: build(change("54", "0.00")),
    IssueCode.AMOUNT_FRACTION: lambda: build(change("54", "15000.50")),
    IssueCode.TIP_INDICATOR_INVALID: lambda: build(change("55", "04")),
    IssueCode.TIP_FIXED_MISSING: lambda: build(change("55", "02")),
    IssueCode.TIP_FIXED_INVALID: lambda: build([*change("55", "02")[:7], ("56", "0"), *BASE[6:]]),
    IssueCode.TIP_PERCENTAGE_MISSING: lambda: build(change("55", "03")),
    IssueCode.TIP_PERCENTAGE_INVALID: lambda: build(
        [*change("55", "03")[:7], ("57", "100"), *BASE[6:]]
    ),
    IssueCode.TIP_UNEXPECTED_VALUE: lambda: build(change("56", "500")),
    IssueCode.PAYLOAD_WHITESPACE: lambda: GOOD + "\r\n",
    IssueCode.ORDER_TAGS: lambda: build([*BASE[:7], BASE[8], BASE[7], *BASE[9:]]),
    IssueCode.CRC_LOWERCASE: lambda: E08,
    IssueCode.POI_MISSING: lambda: build(change("01", None)),
    IssueCode.STATIC_NMID_MISSING: lambda: build(change("51", None)),
    IssueCode.AMOUNT_ON_STATIC: lambda: build(change("54", "15000")),
    IssueCode.AMOUNT_MISSING_ON_DYNAMIC: lambda: build(change("01", "12")),
    IssueCode.AMOUNT_OVER_LIMIT: lambda: build(change("54", "10000001")),
    IssueCode.POSTAL_CODE_MISSING: lambda: build(change("61", None)),
    IssueCode.CHARSET_NOT_ANS: lambda: build(change("59", "PASAR GEDÉ")),
    IssueCode.CRITERIA_MISSING: lambda: build(sub("26", "03", None)),
    IssueCode.CRITERIA_UNKNOWN: lambda: build(sub("26", "03", "XYZ")),
    IssueCode.PAN_NNS: lambda: build(sub("26", "01", "4111111111111111")),
    IssueCode.PAN_CHECK_DIGIT: lambda: build(sub("26", "01", PAN[:-1] + "0")),
    IssueCode.NMID_FORMAT: lambda: build(sub("51", "02", "ID12")),
    IssueCode.NMID_GUID_UNKNOWN: lambda: build(sub("51", "00", "ID.CO.OTHER.WWW")),
    IssueCode.TEMPLATE_OPAQUE: lambda: build(change("62", [("07", "A01"), ("50", "not tlv")])),
}


def test_every_issue_code_has_a_case() -> None:
    # PAYLOAD_NOT_TEXT is covered by its own test (it needs a non-str argument).
    assert set(CASES) | {IssueCode.PAYLOAD_NOT_TEXT} == set(IssueCode)


@pytest.mark.parametrize("code", list(CASES), ids=str)
def test_issue_code_is_reported(code: IssueCode) -> None:
    payload = CASES[code]()
    decoded = decode(payload)
    found = [issue for issue in decoded.issues if issue.code is code]
    assert found, f"{code} not in {[str(i.code) for i in decoded.issues]}"
    assert all(issue.message for issue in found)
    assert decoded.valid is not any(i.severity is Severity.ERROR for i in decoded.issues)
    report = decode_report(payload)
    bucket = "errors" if codec.severity_of(code) is Severity.ERROR else "warnings"
    assert str(code) in issue_codes(report[bucket])


def test_issue_severities() -> None:
    assert codec.severity_of(IssueCode.CRC_MISMATCH) is Severity.ERROR
    assert codec.severity_of(IssueCode.CRC_LOWERCASE) is Severity.WARNING
    assert codec.severity_of(IssueCode.AMOUNT_FRACTION) is Severity.ERROR
    assert codec.severity_of(IssueCode.STATIC_NMID_MISSING) is Severity.WARNING
    assert codec.severity_of(IssueCode.POSTAL_CODE_MISSING) is Severity.WARNING


def test_non_text_input_is_an_issue_not_an_exception() -> None:
    decoded = decode(b"000201")  # type: ignore[arg-type]
    assert [i.code for i in decoded.issues] == [IssueCode.PAYLOAD_NOT_TEXT]
    with pytest.raises(QrisParseError) as info:
        parse(None)  # type: ignore[arg-type]
    assert info.value.issue_code is IssueCode.PAYLOAD_NOT_TEXT


def test_issue_tags_point_at_the_field() -> None:
    issues = decode(build(sub("26", "01", PAN[:-1] + "0"))).issues
    assert [(i.code, i.tag) for i in issues] == [(IssueCode.PAN_CHECK_DIGIT, "26.01")]
    (issue,) = decode(build(change("59", "P" * 26))).issues
    assert issue.as_dict() == {
        "code": "field.too_long",
        "message": "tag 59 has 26 characters; the maximum is 25",
        "tag": "59",
    }
    issues = decode(build([o for o in BASE if o[0] not in {"26", "51"}])).issues
    assert [i.code for i in issues] == [IssueCode.MAI_MISSING, IssueCode.STATIC_NMID_MISSING]
    assert "tag" not in issues[0].as_dict()
    assert issues[1].as_dict()["tag"] == "51"


# ------------------------------------------------------------------------- amounts and tips


@pytest.mark.parametrize(
    ("value", "amount_idr"),
    [("15000", 15000), ("15000.00", 15000), ("15000.", 15000), ("000500", 500), ("1", 1)],
)
def test_amount_forms_give_whole_rupiah(value: str, amount_idr: int) -> None:
    payload = build([*change("01", "12")[:6], ("54", value), *BASE[6:]])
    decoded = decode(payload)
    assert decoded.issues == ()
    assert decoded.amount_idr == amount_idr
    assert decode_report(payload)["amount"] == amount_idr


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("15000.5", IssueCode.AMOUNT_FRACTION),
        ("0.01", IssueCode.AMOUNT_FRACTION),
        ("0", IssueCode.AMOUNT_ZERO),
        ("-15000", IssueCode.AMOUNT_INVALID),
        ("1.000.000", IssueCode.AMOUNT_INVALID),
        ("1e5", IssueCode.AMOUNT_INVALID),
        ("١٥٠٠٠", IssueCode.AMOUNT_INVALID),  # Arabic-Indic digits: not ASCII digits
        (" 15000", IssueCode.AMOUNT_INVALID),
        ("99999999999999", IssueCode.FIELD_TOO_LONG),
    ],
)
def test_bad_amounts_are_error_issues(value: str, code: IssueCode) -> None:
    decoded = decode(build([*change("01", "12")[:6], ("54", value), *BASE[6:]]))
    assert code in [i.code for i in decoded.issues]
    assert not decoded.valid
    assert decoded.amount_idr is None


def test_amount_of_another_currency_is_not_rupiah() -> None:
    decoded = decode(E08[:-4].replace("5303144", "5303144540512.50") + "0000")
    assert decoded.amount_idr is None
    assert IssueCode.AMOUNT_FRACTION not in [i.code for i in decoded.issues]
    assert decode(build(change("53", "840"))).amount_idr is None


TIP_FORMS: list[list[Obj]] = [
    [("55", "01")],
    [("55", "02"), ("56", "500")],
    [("55", "02"), ("56", "2500.00")],
    [("55", "03"), ("57", "0.7")],
    [("55", "03"), ("57", "05.00")],
    [("55", "03"), ("57", "99.99")],
]


@pytest.mark.parametrize("tip", TIP_FORMS, ids=lambda t: "+".join(f"{a}={b}" for a, b in t))
def test_every_tip_form_decodes_and_round_trips(tip: list[Obj]) -> None:
    objects = [*change("01", "12")[:6], ("54", "15000"), *tip, *BASE[6:]]
    payload = build(objects)
    assert encode(parse(payload)) == payload
    decoded = decode(payload)
    assert decoded.issues == ()
    report = decode_report(payload)
    kind = {"01": "prompt", "02": "fixed", "03": "percentage"}[str(tip[0][1])]
    assert report["tip"] == {
        "indicator": kind,
        "fixed_idr": int(str(tip[1][1]).split(".")[0]) if kind == "fixed" else None,
        "percentage": tip[1][1] if kind == "percentage" else None,
    }


@given(
    fee_idr=st.integers(1, 99_999),
    percent=st.decimals("0.01", "99.99", places=2),
    indicator=st.sampled_from(["01", "02", "03"]),
)
def test_tip_property(fee_idr: int, percent: object, indicator: str) -> None:
    tip: list[Obj] = [("55", indicator)]
    if indicator == "02":
        tip.append(("56", str(fee_idr)))
    elif indicator == "03":
        tip.append(("57", f"{percent:05.2f}"))
    payload = build([*change("01", "12")[:6], ("54", "15000"), *tip, *BASE[6:]])
    assert encode(parse(payload)) == payload
    assert decode(payload).issues == ()


@pytest.mark.parametrize("percent", ["0", "00.00", "100", "5%", "5,5", "1.234"])
def test_bad_percentages(percent: str) -> None:
    payload = build([*change("55", "03")[:7], ("57", percent), *BASE[6:]])
    found = {i.code for i in decode(payload).issues}
    assert found & {IssueCode.TIP_PERCENTAGE_INVALID, IssueCode.FIELD_TOO_LONG}


# ------------------------------------------------------------------------------ structure


def test_templates_are_nested_and_unknown_tags_kept_in_order() -> None:
    payload = build(
        [
            *BASE[:10],
            ("62", [("07", "A01"), ("05", "REF1"), ("50", "0003ABC0102XY"), ("99", "0002000101Z")]),
            ("70", "rfu-kept"),
            ("85", [("00", "COM.EXAMPLE"), ("42", "x")]),
        ]
    )
    tree = parse(payload)
    assert tree.encode() == payload
    assert [o.tag for o in tree.objects][-4:] == ["62", "70", "85", "63"]
    additional = tree.find("62")
    assert additional is not None
    assert additional.children is not None
    assert [c.tag for c in additional.children] == ["07", "05", "50", "99"]
    assert tree.find("62.50") == DataObject(
        "50", "0003ABC0102XY", (DataObject("00", "ABC"), DataObject("01", "XY"))
    )
    assert tree.value("70") == "rfu-kept"
    assert tree.value("85.42") == "x"
    assert tree.find("15") is None
    # Primitive merchant accounts (02-25) are never parsed as templates (dongri/emv-qrcode#28).
    primitive_mai = parse(build(change("15", "0001A0102BC")))
    found = primitive_mai.find("15")
    assert found is not None
    assert found.children is None


def test_malformed_template_is_kept_raw() -> None:
    payload = build(change("26", "not a TLV list"))
    tree = parse(payload)
    found = tree.find("26")
    assert found == DataObject("26", "not a TLV list", None)
    assert tree.encode() == payload


def test_zero_length_objects_parse_and_round_trip() -> None:
    payload = build(change("80", ""))
    assert "8000" in payload
    assert encode(parse(payload)) == payload


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", IssueCode.PAYLOAD_EMPTY),
        ("0", IssueCode.TLV_TRUNCATED),
        ("000201010", IssueCode.TLV_TRUNCATED),
        ("0002019999", IssueCode.TLV_TRUNCATED),
        ("00050A", IssueCode.TLV_TRUNCATED),
        ("000201X1020", IssueCode.TLV_BAD_TAG),
        ("０００２01", IssueCode.TLV_BAD_TAG),  # full-width digits are not ASCII digits
        ("00+2010", IssueCode.TLV_BAD_LENGTH),
        ("00 201", IssueCode.TLV_BAD_LENGTH),
        ("0" * (MAX_INPUT_CHARS + 1), IssueCode.PAYLOAD_TOO_LONG),
    ],
)
def test_parse_raises_typed_errors(text: str, code: IssueCode) -> None:
    with pytest.raises(QrisParseError) as info:
        parse(text)
    assert info.value.issue_code is code
    assert isinstance(info.value, QrisError)
    assert isinstance(info.value, ValueError)
    assert 0 <= info.value.position <= len(text)


def test_structural_error_keeps_the_parsed_prefix_and_checks_the_crc_text() -> None:
    damaged = GOOD[:40] + "XX" + GOOD[42:]
    decoded = decode(damaged)
    assert decoded.payload.objects[0] == DataObject("00", "01")
    assert not decoded.crc_ok
    assert IssueCode.CRC_MISMATCH in [i.code for i in decoded.issues]
    # A structurally broken payload whose CRC matches was broken by its generator, not in transit.
    rebuilt = with_crc(GOOD[:60] + "9")
    assert decode(rebuilt).crc_ok


def test_huge_input_is_refused_without_parsing() -> None:
    decoded = decode("0" * 5_000_000)
    assert [i.code for i in decoded.issues] == [IssueCode.PAYLOAD_TOO_LONG]
    assert decoded.payload.objects == ()
    assert not decoded.crc_ok


def test_whitespace_is_stripped_only_ascii() -> None:
    assert decode("\t" + GOOD + "\n").valid
    assert [i.code for i in decode(GOOD + "\n").issues] == [IssueCode.PAYLOAD_WHITESPACE]
    assert not decode(GOOD + "\u3000").valid  # ideographic space is not pasted whitespace


def test_factories_check_lengths() -> None:
    assert primitive("59", "X").encode() == "5901X"
    node = template("62", [primitive("01", "B1"), primitive("05", "R1")])
    assert node.encode() == "62120102B10502R1"
    assert codec.tlv("54", "15000") == "540515000"
    with pytest.raises(QrisError) as info:
        primitive("59", "")
    assert info.value.code == "tlv.zero_length"
    with pytest.raises(QrisError) as info:
        primitive("59", "x" * 100)
    assert info.value.code == "field.too_long"
    with pytest.raises(QrisError):
        template("62", [primitive("01", "x" * 99)])
    with pytest.raises(QrisError):
        codec.tlv("5", "x")


def test_luhn_helpers() -> None:
    assert codec.luhn_check_digit("7992739871") == "3"
    assert codec.luhn_ok("79927398713")
    assert not codec.luhn_ok("79927398710")
    assert not codec.luhn_ok("")
    assert not codec.luhn_ok("1")
    assert not codec.luhn_ok("७९९२७३९८७१३")  # Devanagari digits
    with pytest.raises(QrisError):
        codec.luhn_check_digit("12a")


# ----------------------------------------------------------------------------------- report

REPORT_KEYS = [
    "crc_ok",
    "valid",
    "errors",
    "warnings",
    "initiation",
    "amount",
    "currency",
    "country",
    "merchant_name",
    "merchant_city",
    "postal_code",
    "mcc",
    "nmid",
    "merchant_accounts",
    "bill_number",
    "reference_label",
    "terminal_label",
    "tip",
    "tags",
]


def test_report_key_order_and_tree() -> None:
    report = decode_report(GOOD)
    assert list(report) == REPORT_KEYS
    assert report["tags"][:3] == [  # type: ignore[index]
        {"tag": "00", "length": 2, "value": "01"},
        {"tag": "01", "length": 2, "value": "11"},
        {
            "tag": "26",
            "length": 66,
            "children": [
                {"tag": "00", "length": 20, "value": "ID.CO.BANKJATENG.WWW"},
                {"tag": "01", "length": 16, "value": PAN},
                {"tag": "02", "length": 11, "value": "RETPSRSKA01"},
                {"tag": "03", "length": 3, "value": "URE"},
            ],
        },
    ]
    assert report["terminal_label"] == "PSGEDE-K012"
    assert report["initiation"] == "static"


@pytest.mark.parametrize("payload", [GOOD, Q01, N04, "", "garbage", GOOD[:-9]])
def test_report_is_deterministic_json(payload: str) -> None:
    first = json.dumps(decode_report(payload), ensure_ascii=False)
    assert first == json.dumps(decode_report(payload), ensure_ascii=False)
    assert list(json.loads(first)) == REPORT_KEYS


def test_report_of_garbage() -> None:
    report = decode_report("hello")
    assert report["crc_ok"] is False
    assert report["valid"] is False
    assert report["initiation"] is None
    assert report["tags"] == []
    assert issue_codes(report["errors"]) == ["tlv.bad_tag"]


# ------------------------------------------------------------------- round trips and fuzzing

_VALUE_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
_PRIMITIVE_TAGS = [f"{i:02d}" for i in range(26)] + [f"{i:02d}" for i in range(52, 80)]
_PRIMITIVE_TAGS.remove("62")
_PRIMITIVE_TAGS.remove("64")


@st.composite
def _children(draw: st.DrawFn, tags: list[str]) -> list[DataObject]:
    chosen = draw(st.lists(st.sampled_from(tags), min_size=1, max_size=4))
    return [primitive(tag, draw(_VALUE_TEXT)) for tag in chosen]


@st.composite
def _payload_objects(draw: st.DrawFn) -> list[DataObject]:
    objects: list[DataObject] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["primitive", "mai", "62", "64", "unreserved"]))
        if kind == "primitive":
            objects.append(primitive(draw(st.sampled_from(_PRIMITIVE_TAGS)), draw(_VALUE_TEXT)))
        elif kind == "62":
            # Sub-tags 50-99 would be parsed one level deeper; keep this generator at one level.
            kids = draw(_children([f"{i:02d}" for i in range(1, 50)]))
            objects.append(template("62", kids))
        else:
            tag = {
                "mai": draw(st.sampled_from([f"{i:02d}" for i in range(26, 52)])),
                "64": "64",
                "unreserved": draw(st.sampled_from([f"{i:02d}" for i in range(80, 100)])),
            }[kind]
            objects.append(template(tag, draw(_children([f"{i:02d}" for i in range(100)]))))
    return objects


@given(_payload_objects())
def test_round_trip_property(objects: list[DataObject]) -> None:
    payload = with_crc(encode(objects))
    tree = parse(payload)
    assert tree.encode() == payload
    assert list(tree.objects[:-1]) == objects
    assert tree.objects[-1].tag == "63"
    assert decode(payload).crc_ok


# Alphabets that reach the interesting states: digits build plausible TLV headers.
_FUZZ_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=300),
    st.text("0123456789", max_size=300),
    st.text("0123456789ABCDEF.|\n ", max_size=300),
)


def _never_raises(text: str) -> None:
    decoded = decode(text)
    assert decoded.valid is (not decoded.errors)
    json.dumps(decode_report(text))
    try:
        tree = parse(text)
    except QrisParseError:
        return
    assert tree.encode() == text


@settings(max_examples=400)
@given(_FUZZ_TEXT)
def test_fuzz_random_text(text: str) -> None:
    _never_raises(text)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([GOOD, Q01, Q17, Q_MF2, N04, E08]))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        char = draw(st.characters(exclude_categories=()))
        if action == "delete":
            text = text[:position] + text[position + 1 :]
        elif action == "insert":
            text = text[:position] + char + text[position:]
        elif action == "replace":
            text = text[:position] + char + text[position + 1 :]
        else:
            text = text[:position]
    return text


@settings(max_examples=400)
@given(_mutated())
def test_fuzz_mutated_payloads(text: str) -> None:
    _never_raises(text)


@settings(max_examples=200)
@given(_mutated())
def test_mutation_with_recomputed_crc(text: str) -> None:
    # A CRC recomputed after the damage (what a naive converter does) must still be checked.
    candidate = with_crc(text[:-8]) if len(text) > 8 else text
    _never_raises(candidate)
