"""SNAP VA request parsing and response building, including every bad form of every field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.snap.codes import Case, PaymentFlagStatus, Reason, Service, SnapError
from payments.snap.messages import (
    MAX_BILL_DETAILS,
    BillLine,
    FlagAdvise,
    MessageErrorKind,
    PaidBill,
    SnapMessageError,
    build_access_token_response,
    build_error_response,
    build_inquiry_response,
    build_payment_response,
    build_status_response,
    decode_json_body,
    error_response_for,
    parse_access_token_request,
    parse_inquiry_request,
    parse_payment_request,
    parse_status_request,
)
from payments.snap.numbering import make_customer_no, normalize_va
from payments.snap.signature import (
    MAX_BODY_BYTES,
    SecurityErrorKind,
    SnapSecurityError,
    parse_service_headers,
    sign_symmetric,
    verify_symmetric,
)
from retribusi.money import MAX_AMOUNT_IDR, format_idr_plain

WIB = timezone(timedelta(hours=7))
CUSTOMER_NO = make_customer_no(1234)  # "0000012340"
VA = "   12345" + CUSTOMER_NO


def inquiry_payload(**changes: Any) -> dict[str, object]:
    payload: dict[str, object] = {
        "partnerServiceId": "   12345",
        "customerNo": CUSTOMER_NO,
        "virtualAccountNo": VA,
        "trxDateInit": "2022-02-12T17:29:57+07:00",
        "channelCode": 6011,
        "language": "ID",
        "amount": {"value": "0.00", "currency": "IDR"},
        "additionalInfo": {"deviceId": "12345679237", "channel": "mobilephone"},
        "inquiryRequestId": "202202110909311234500001136962",
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not _DROP}


def payment_payload(**changes: Any) -> dict[str, object]:
    payload: dict[str, object] = {
        "partnerServiceId": "   12345",
        "customerNo": CUSTOMER_NO,
        "virtualAccountNo": VA,
        "virtualAccountName": "Bu Siti Rahayu – Kios A/12",
        "paymentRequestId": "202202110909311234500001136962",
        "trxId": "BRI-TRX-0001",
        "paidAmount": {"value": "215670.00", "currency": "IDR"},
        "cumulativePaymentAmount": {"value": "215670.00", "currency": "IDR"},
        "paidBills": "95000",
        "totalAmount": {"value": "215670.00", "currency": "IDR"},
        "trxDateTime": "2022-02-12T17:30:57+07:00",
        "referenceNo": "00113696201",
        "journalNum": "123456",
        "paymentType": 1,
        "flagAdvise": "N",
        "subCompany": "00000",
        "billDetails": [{"billNo": "SKRD-2026-11-0001", "billReferenceNo": "0001"}],
        "additionalInfo": {},
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not _DROP}


_DROP = object()


def _error(parse: Any, payload: dict[str, object]) -> SnapMessageError:
    with pytest.raises(SnapMessageError) as info:
        parse(payload)
    return info.value


# ------------------------------------------------------------------------------ decode JSON


def test_decode_json_body_keeps_exact_numbers() -> None:
    decoded = decode_json_body(b'{"a":1,"b":10000.00,"c":"x","d":{"e":[1,2]}}')
    assert decoded == {"a": 1, "b": Decimal("10000.00"), "c": "x", "d": {"e": [1, 2]}}
    assert isinstance(decoded["b"], Decimal)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"string"',
        b"42",
        b"null",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1,"a":2}',
        b'{"x":{"a":1,"a":1}}',
        b'{"a":"\xff"}',
        b'\xef\xbb\xbf{"a":1}',  # UTF-8 BOM
        b'{"a":' + b"1" * 5000 + b"}",  # over Python's int-string limit
        b"[" * 50_000 + b"]" * 50_000,  # recursion
        b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}',
        b'{"a":1}garbage',
    ],
)
def test_decode_json_body_refuses_with_bad_request(body: bytes) -> None:
    with pytest.raises(SnapMessageError) as info:
        decode_json_body(body)
    assert info.value.kind is MessageErrorKind.BAD_REQUEST
    assert info.value.response_code(Service.VA_PAYMENT) == "4002500"


# ---------------------------------------------------------------------------------- inquiry


def test_parse_inquiry_request() -> None:
    request = parse_inquiry_request(inquiry_payload())
    assert request.triple.partner_service_id == "   12345"
    assert request.triple.customer_no == CUSTOMER_NO
    assert request.triple.virtual_account_no == VA
    assert request.inquiry_request_id == "202202110909311234500001136962"
    assert request.trx_date_init == "2022-02-12T17:29:57+07:00"
    assert request.trx_date_init_at == datetime(2022, 2, 12, 17, 29, 57, tzinfo=WIB)
    assert request.channel_code == 6011
    assert request.language == "ID"
    assert request.amount_idr == 0
    assert request.additional_info == {"deviceId": "12345679237", "channel": "mobilephone"}


def test_parse_minimal_inquiry_request() -> None:
    minimal = {
        "partnerServiceId": "12345",
        "customerNo": CUSTOMER_NO,
        "virtualAccountNo": "12345" + CUSTOMER_NO,
        "inquiryRequestId": "r",
    }
    request = parse_inquiry_request(minimal)  # type: ignore[arg-type]
    assert request.trx_date_init is None
    assert request.channel_code is None
    assert request.amount_idr is None
    assert request.additional_info == {}
    assert parse_inquiry_request(inquiry_payload(channelCode="6010")).channel_code == 6010
    basic = parse_inquiry_request(inquiry_payload(trxDateInit="20201231T235959Z"))
    assert basic.trx_date_init_at == datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "field", ["partnerServiceId", "customerNo", "virtualAccountNo", "inquiryRequestId"]
)
@pytest.mark.parametrize("absent", [_DROP, None, "", "   "])
def test_inquiry_missing_mandatory_field(field: str, absent: object) -> None:
    error = _error(parse_inquiry_request, inquiry_payload(**{field: absent}))
    assert error.kind is MessageErrorKind.MISSING_FIELD
    assert error.field == field
    assert error.response_code(Service.VA_INQUIRY) == "4002402"
    assert error.response_message == f"Invalid Mandatory Field {{{field}}}"


INQUIRY_FORMAT_ERRORS = [
    ("partnerServiceId", "ABCDE", "partnerServiceId"),
    ("partnerServiceId", "123456789", "partnerServiceId"),
    ("customerNo", "12-34", "customerNo"),
    ("customerNo", "1" * 21, "customerNo"),
    ("virtualAccountNo", "   12345 0000012340", "virtualAccountNo"),
    ("virtualAccountNo", "1" * 29, "virtualAccountNo"),
    ("inquiryRequestId", "r" * 129, "inquiryRequestId"),
    ("inquiryRequestId", "réq", "inquiryRequestId"),
    ("inquiryRequestId", "a\nb", "inquiryRequestId"),
    ("inquiryRequestId", 12345, "inquiryRequestId"),
    ("trxDateInit", "2022-02-12 17:29:57", "trxDateInit"),
    ("trxDateInit", "2022-02-12T17:29:57", "trxDateInit"),
    ("trxDateInit", 1644661797, "trxDateInit"),
    ("channelCode", "abcd", "channelCode"),
    ("channelCode", 12345, "channelCode"),
    ("channelCode", -1, "channelCode"),
    ("channelCode", True, "channelCode"),
    ("language", "indonesian", "language"),
    ("amount", "10000.00", "amount"),
    ("amount", {"value": "-1", "currency": "IDR"}, "amount.value"),
    ("amount", {"value": "10000.00", "currency": "USD"}, "amount.currency"),
    ("additionalInfo", [], "additionalInfo"),
    ("additionalInfo", "x", "additionalInfo"),
]


@pytest.mark.parametrize(("field", "value", "reported"), INQUIRY_FORMAT_ERRORS)
def test_inquiry_invalid_field_format(field: str, value: object, reported: str) -> None:
    error = _error(parse_inquiry_request, inquiry_payload(**{field: value}))
    assert error.kind is MessageErrorKind.INVALID_FIELD
    assert error.field == reported
    assert error.response_code(Service.VA_INQUIRY) == "4002401"
    assert error.response_message == f"Invalid Field Format {{{reported}}}"


def test_inquiry_reports_the_first_bad_field_in_table_order() -> None:
    payload = inquiry_payload(customerNo="x", inquiryRequestId=_DROP)
    assert _error(parse_inquiry_request, payload).field == "customerNo"


# ---------------------------------------------------------------------------------- payment


def test_parse_payment_request() -> None:
    request = parse_payment_request(payment_payload())
    assert request.payment_request_id == "202202110909311234500001136962"
    assert request.paid_amount_idr == 215670
    assert request.total_amount_idr == 215670
    assert request.cumulative_payment_amount_idr == 215670
    assert request.virtual_account_name == "Bu Siti Rahayu – Kios A/12"
    assert request.trx_id == "BRI-TRX-0001"
    assert request.paid_bills == "95000"
    assert request.trx_date_time_at == datetime(2022, 2, 12, 17, 30, 57, tzinfo=WIB)
    assert request.reference_no == "00113696201"
    assert request.journal_num == "123456"
    assert request.payment_type == "1"  # ASPI sample sends a bare number
    assert request.flag_advise is FlagAdvise.NEW
    assert request.sub_company == "00000"
    assert request.bill_details == ({"billNo": "SKRD-2026-11-0001", "billReferenceNo": "0001"},)
    assert parse_payment_request(payment_payload(flagAdvise="Y")).flag_advise is FlagAdvise.RETRY


def test_parse_minimal_payment_request() -> None:
    minimal = {
        "partnerServiceId": "   12345",
        "customerNo": CUSTOMER_NO,
        "virtualAccountNo": VA,
        "paymentRequestId": "p",
        "paidAmount": {"value": "15000", "currency": "IDR"},
    }
    request = parse_payment_request(minimal)  # type: ignore[arg-type]
    assert request.paid_amount_idr == 15000
    assert request.flag_advise is FlagAdvise.NEW
    assert request.total_amount_idr is None
    assert request.bill_details == ()


@pytest.mark.parametrize(
    "name",
    [
        "Bu Siti Rahayu – Kios A/12",
        "Ngatmi Ñoño Pâtisserie é",
        "Warung 🍜 Mbok Darmi",
        "Ibu ‘Ani’ “Los” 12",
        "x" * 255,
    ],
)
def test_non_ascii_names_are_tolerated(name: str) -> None:
    assert parse_payment_request(payment_payload(virtualAccountName=name)).virtual_account_name == (
        name
    )


@pytest.mark.parametrize(
    "field",
    [
        "partnerServiceId",
        "customerNo",
        "virtualAccountNo",
        "paymentRequestId",
        "paidAmount",
    ],
)
def test_payment_missing_mandatory_field(field: str) -> None:
    for absent in (_DROP, None):
        error = _error(parse_payment_request, payment_payload(**{field: absent}))
        assert error.kind is MessageErrorKind.MISSING_FIELD
        assert error.field == field
        assert error.response_code(Service.VA_PAYMENT) == "4002502"


@pytest.mark.parametrize(
    ("amount", "reported"),
    [
        ({"currency": "IDR"}, "paidAmount.value"),
        ({"value": "", "currency": "IDR"}, "paidAmount.value"),
        ({"value": "10000.00"}, "paidAmount.currency"),
        ({"value": "10000.00", "currency": ""}, "paidAmount.currency"),
    ],
)
def test_payment_missing_amount_parts(amount: dict[str, object], reported: str) -> None:
    error = _error(parse_payment_request, payment_payload(paidAmount=amount))
    assert error.kind is MessageErrorKind.MISSING_FIELD
    assert error.field == reported
    assert error.response_message == f"Invalid Mandatory Field {{{reported}}}"


@pytest.mark.parametrize(
    "value",
    [
        "10000.5",
        "10000.01",
        "-1",
        "-10000.00",
        "1e9",
        "1E3",
        "1,000.00",
        "10.000,00",
        "Rp10000",
        " 10000.00",
        "10000.00 ",
        "0.00",
        "0",
        "NaN",
        "Infinity",
        "0x10",
        "١٠٠٠٠",
        str(MAX_AMOUNT_IDR + 1) + ".00",
        "9" * 50,
        10000,
        10000.0,
        Decimal("10000.00"),
        True,
        None,
        ["10000.00"],
    ],
)
def test_payment_refuses_bad_paid_amounts(value: object) -> None:
    amount = {"value": value, "currency": "IDR"}
    error = _error(parse_payment_request, payment_payload(paidAmount=amount))
    assert error.field == "paidAmount.value"
    expected = "4002502" if value is None else "4002501"
    assert error.response_code(Service.VA_PAYMENT) == expected


@pytest.mark.parametrize("currency", ["USD", "idr", "Rp", 360, ["IDR"]])
def test_payment_refuses_other_currencies(currency: object) -> None:
    amount = {"value": "10000.00", "currency": currency}
    error = _error(parse_payment_request, payment_payload(paidAmount=amount))
    assert (error.kind, error.field) == (MessageErrorKind.INVALID_FIELD, "paidAmount.currency")


PAYMENT_FORMAT_ERRORS = [
    ("virtualAccountName", "x" * 256, "virtualAccountName"),
    ("virtualAccountName", "Bu\x00Siti", "virtualAccountName"),
    ("virtualAccountName", "Bu\u0085Siti", "virtualAccountName"),
    ("virtualAccountName", "lone \ud800 surrogate", "virtualAccountName"),
    ("virtualAccountName", 42, "virtualAccountName"),
    ("paymentRequestId", "p" * 129, "paymentRequestId"),
    ("paymentRequestId", ["p"], "paymentRequestId"),
    ("trxId", "t" * 65, "trxId"),
    ("paidAmount", ["215670.00", "IDR"], "paidAmount"),
    (
        "cumulativePaymentAmount",
        {"value": "-5", "currency": "IDR"},
        "cumulativePaymentAmount.value",
    ),
    ("paidBills", "XYZ", "paidBills"),
    ("paidBills", "1234567", "paidBills"),
    ("totalAmount", {"value": "1.5", "currency": "IDR"}, "totalAmount.value"),
    ("trxDateTime", "yesterday", "trxDateTime"),
    ("trxDateTime", "2022-02-30T17:30:57+07:00", "trxDateTime"),
    ("referenceNo", "r" * 65, "referenceNo"),
    ("journalNum", "1234567", "journalNum"),
    ("paymentType", "12", "paymentType"),
    ("paymentType", 10, "paymentType"),
    ("flagAdvise", "X", "flagAdvise"),
    ("flagAdvise", "y", "flagAdvise"),
    ("flagAdvise", True, "flagAdvise"),
    ("subCompany", "123456", "subCompany"),
    ("billDetails", {"billNo": "1"}, "billDetails"),
    ("billDetails", ["SKRD-1"], "billDetails"),
    ("billDetails", [{}] * (MAX_BILL_DETAILS + 1), "billDetails"),
    ("additionalInfo", [], "additionalInfo"),
]


@pytest.mark.parametrize(("field", "value", "reported"), PAYMENT_FORMAT_ERRORS)
def test_payment_invalid_field_format(field: str, value: object, reported: str) -> None:
    error = _error(parse_payment_request, payment_payload(**{field: value}))
    assert error.kind is MessageErrorKind.INVALID_FIELD
    assert error.field == reported
    assert error.response_code(Service.VA_PAYMENT) == "4002501"


def test_zero_totals_are_allowed_for_multi_bill() -> None:
    zero = {"value": "0.00", "currency": "IDR"}
    request = parse_payment_request(payment_payload(totalAmount=zero, cumulativePaymentAmount=zero))
    assert request.total_amount_idr == 0
    assert request.cumulative_payment_amount_idr == 0


@given(amount_idr=st.integers(1, MAX_AMOUNT_IDR))
def test_formatted_amounts_parse_back(amount_idr: int) -> None:
    amount = {"value": format_idr_plain(amount_idr), "currency": "IDR"}
    assert parse_payment_request(payment_payload(paidAmount=amount)).paid_amount_idr == amount_idr


_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
_json = st.recursive(
    _json_scalars | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
_field_names = st.sampled_from([*payment_payload(), "amount", "inquiryRequestId"])


@given(changes=st.dictionaries(_field_names, _json, max_size=4))
def test_parsers_raise_only_typed_errors(changes: dict[str, object]) -> None:
    for parse, base in (
        (parse_payment_request, payment_payload()),
        (parse_inquiry_request, inquiry_payload()),
        (parse_status_request, inquiry_payload()),
    ):
        error: SnapMessageError | None = None
        try:
            parse({**base, **changes})
        except SnapMessageError as exc:  # anything else fails the test
            error = exc
        if error is not None:
            assert error.case in (Case.INVALID_FIELD_FORMAT, Case.INVALID_MANDATORY_FIELD)
            assert error.field


# ----------------------------------------------------------------------------- status, token


def test_parse_status_request() -> None:
    request = parse_status_request(
        {
            "partnerServiceId": "   12345",
            "customerNo": 12340,  # ASPI's status sample sends a bare number
            "virtualAccountNo": VA,
            "inquiryRequestId": "abc",
            "paymentRequestId": "abc",
            "additionalInfo": {},
        }
    )
    assert request.triple.customer_no == "12340"
    assert request.triple.customer_no_was_number
    assert request.payment_request_id == "abc"
    assert normalize_va(request.triple, company_code="12345").customer_no == CUSTOMER_NO
    bare = parse_status_request(
        {"partnerServiceId": "   12345", "customerNo": CUSTOMER_NO, "virtualAccountNo": VA}
    )
    assert (bare.inquiry_request_id, bare.payment_request_id) == (None, None)
    with pytest.raises(SnapMessageError) as info:
        parse_status_request({"partnerServiceId": "   12345", "customerNo": CUSTOMER_NO})
    assert info.value.response_code(Service.VA_STATUS) == "4002602"


def test_parse_access_token_request() -> None:
    body = {"grantType": "client_credentials", "additionalInfo": {}}
    assert parse_access_token_request(body).grant_type == "client_credentials"  # type: ignore[arg-type]
    legacy = {"granttype": "client_credentials"}
    assert parse_access_token_request(legacy).grant_type == "client_credentials"  # type: ignore[arg-type]
    for payload, code in [
        ({}, "4007302"),
        ({"grantType": ""}, "4007302"),
        ({"grantType": "password"}, "4007301"),
        ({"grantType": 1}, "4007301"),
        ({"grantType": "client_credentials", "additionalInfo": "x"}, "4007301"),
    ]:
        with pytest.raises(SnapMessageError) as info:
            parse_access_token_request(payload)  # type: ignore[arg-type]
        assert info.value.response_code(Service.ACCESS_TOKEN_B2B) == code


# -------------------------------------------------------------------------------- responses

BILL = BillLine(
    bill_no="SKRD-2026-11-00001",
    amount_idr=215_670,
    name="Retribusi Kios November 2026",
    short_name="Kios Nov 2026",
    description=Reason("Kiosk A/12 November 2026", "Kios A/12 November 2026"),
)


def test_inquiry_response_shape() -> None:
    request = parse_inquiry_request(inquiry_payload())
    response = build_inquiry_response(
        request,
        virtual_account_name="Bu Siti Rahayu – Kios A/12 Pasar Gede Hardjonagoro",
        bills=[BILL, BillLine(bill_no="STRD-2026-10-00001", amount_idr=2_157)],
    )
    assert response.http_status == 200
    assert response.response_code == "2002400"
    assert response.body == {
        "responseCode": "2002400",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "inquiryStatus": "00",
            "inquiryReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": "   12345",
            "customerNo": CUSTOMER_NO,
            "virtualAccountNo": VA,
            "virtualAccountName": "Bu Siti Rahayu – Kios A/12 Pas",
            "inquiryRequestId": "202202110909311234500001136962",
            "totalAmount": {"value": "217827.00", "currency": "IDR"},
            "billDetails": [
                {
                    "billCode": "01",
                    "billNo": "SKRD-2026-11-00001",
                    "billName": "Retribusi Kios Novem",
                    "billShortName": "Kios Nov 2",
                    "billAmount": {"value": "215670.00", "currency": "IDR"},
                    "billDescription": {
                        "english": "Kiosk A/12 Novembe",
                        "indonesia": "Kios A/12 November",
                    },
                },
                {
                    "billCode": "02",
                    "billNo": "STRD-2026-10-00001",
                    "billName": "",
                    "billShortName": "",
                    "billAmount": {"value": "2157.00", "currency": "IDR"},
                },
            ],
            "additionalInfo": {},
        },
    }
    sent = response.json_bytes()
    assert "–".encode() in sent  # UTF-8, not \u2013
    assert json.loads(sent) == response.body


@pytest.mark.parametrize("psi", ["00012345", "12345"])
def test_inquiry_response_echoes_the_received_padding(psi: str) -> None:
    request = parse_inquiry_request(
        inquiry_payload(partnerServiceId=psi, virtualAccountNo=psi + CUSTOMER_NO)
    )
    data = build_inquiry_response(request, virtual_account_name="Siti", bills=[BILL]).body[
        "virtualAccountData"
    ]
    assert isinstance(data, dict)
    assert data["partnerServiceId"] == psi
    assert data["virtualAccountNo"] == psi + CUSTOMER_NO


def test_inquiry_response_bounds() -> None:
    request = parse_inquiry_request(inquiry_payload())
    with pytest.raises(ValueError, match="bills"):
        build_inquiry_response(request, virtual_account_name="x", bills=[])
    with pytest.raises(ValueError, match="bills"):
        build_inquiry_response(
            request, virtual_account_name="x", bills=[BILL] * 6, max_bill_details=5
        )
    with pytest.raises(ValueError, match="subCompany"):
        build_inquiry_response(
            request, virtual_account_name="x", bills=[BILL], sub_company="123456"
        )
    with_sub = build_inquiry_response(
        request, virtual_account_name="x", bills=[BILL], sub_company="00000"
    ).body["virtualAccountData"]
    assert isinstance(with_sub, dict)
    assert with_sub["subCompany"] == "00000"
    big = BillLine(bill_no="1", amount_idr=MAX_AMOUNT_IDR)
    with pytest.raises(ValueError, match="amount"):
        build_inquiry_response(request, virtual_account_name="x", bills=[big, big])


@pytest.mark.parametrize(
    ("bill_no", "amount_idr", "error"),
    [
        ("", 1, ValueError),
        ("1" * 19, 1, ValueError),
        ("1", 0, ValueError),
        ("1", -5, ValueError),
        ("1", MAX_AMOUNT_IDR + 1, ValueError),
        ("1", True, TypeError),
        ("1", 1.0, TypeError),
    ],
)
def test_bill_line_guards(bill_no: str, amount_idr: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        BillLine(bill_no=bill_no, amount_idr=amount_idr)


def test_payment_response_shape() -> None:
    request = parse_payment_request(payment_payload())
    response = build_payment_response(
        request,
        virtual_account_name="ignored: the bank sent a name",
        paid_bills=[PaidBill("SKRD-2026-11-00001", 215_670, "PAY-2026-000001")],
    )
    assert response.http_status == 200
    assert response.body == {
        "responseCode": "2002500",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "paymentFlagStatus": "00",
            "paymentFlagReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": "   12345",
            "customerNo": CUSTOMER_NO,
            "virtualAccountNo": VA,
            "virtualAccountName": "Bu Siti Rahayu – Kios A/12",
            "paymentRequestId": "202202110909311234500001136962",
            "paidAmount": {"value": "215670.00", "currency": "IDR"},
            "totalAmount": {"value": "215670.00", "currency": "IDR"},
            "trxDateTime": "2022-02-12T17:30:57+07:00",
            "referenceNo": "00113696201",
            "billDetails": [
                {
                    "billNo": "SKRD-2026-11-00001",
                    "billAmount": {"value": "215670.00", "currency": "IDR"},
                    "billerReferenceId": "PAY-2026-000001",
                    "status": "00",
                    "reason": {"english": "Success", "indonesia": "Sukses"},
                }
            ],
            "additionalInfo": {},
        },
    }


def test_payment_response_without_a_received_name_uses_ours() -> None:
    request = parse_payment_request(
        payment_payload(virtualAccountName=_DROP, totalAmount=_DROP, referenceNo=_DROP)
    )
    data = build_payment_response(request, virtual_account_name="N" * 40).body["virtualAccountData"]
    assert isinstance(data, dict)
    assert data["virtualAccountName"] == "N" * 30
    assert "totalAmount" not in data
    assert "referenceNo" not in data
    bare = build_payment_response(request).body["virtualAccountData"]
    assert isinstance(bare, dict)
    assert "virtualAccountName" not in bare


def test_payment_double_flag_answers_inconsistent_request_with_the_first_status() -> None:
    request = parse_payment_request(payment_payload(flagAdvise="Y"))
    first = Reason("Bill already paid", "Tagihan sudah dibayar")
    response = build_payment_response(
        request,
        case=Case.INCONSISTENT_REQUEST,
        flag_status=PaymentFlagStatus.REJECTED,
        reason=first,
        paid_bills=[PaidBill("SKRD-1", 215_670, "PAY-1")],
    )
    assert response.http_status == 404
    assert response.response_code == "4042518"
    data = response.body["virtualAccountData"]
    assert isinstance(data, dict)
    assert data["paymentFlagStatus"] == "01"
    assert data["paymentFlagReason"] == first.as_json()
    assert data["billDetails"][0]["status"] == "01"


def test_rejected_flag_needs_a_reason() -> None:
    request = parse_payment_request(payment_payload())
    for status in (PaymentFlagStatus.REJECTED, PaymentFlagStatus.TIMEOUT):
        with pytest.raises(ValueError, match="reason"):
            build_payment_response(request, flag_status=status)


def test_paid_bill_guards() -> None:
    with pytest.raises(ValueError, match="billerReferenceId"):
        PaidBill("1", 1, "")
    with pytest.raises(ValueError, match="billerReferenceId"):
        PaidBill("1", 1, "r" * 65)
    with pytest.raises(ValueError, match="amount"):
        PaidBill("1", 0, "r")


def test_status_response() -> None:
    request = parse_status_request(
        {
            "partnerServiceId": "   12345",
            "customerNo": CUSTOMER_NO,
            "virtualAccountNo": VA,
            "inquiryRequestId": "INQ-1",
        }
    )
    response = build_status_response(
        request,
        payment_request_id="INQ-1",
        paid_amount_idr=215_670,
        transaction_at=datetime(2026, 11, 23, 10, 0, 5, 123, tzinfo=WIB),
        virtual_account_name="Bu Siti Rahayu – Kios A/12 Pasar Gede",
    )
    assert response.body == {
        "responseCode": "2002600",
        "responseMessage": "Successful",
        "virtualAccountData": {
            "paymentFlagStatus": "00",
            "paymentFlagReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": "   12345",
            "customerNo": CUSTOMER_NO,
            "virtualAccountNo": VA,
            "virtualAccountName": "Bu Siti Rahayu – Kios A/12 Pas",
            "paymentRequestId": "INQ-1",
            "inquiryRequestId": "INQ-1",
            "paidAmount": {"value": "215670.00", "currency": "IDR"},
            "transactionDate": "2026-11-23T10:00:05+07:00",
            "additionalInfo": {},
        },
    }
    with pytest.raises(ValueError, match="aware"):
        build_status_response(
            request,
            payment_request_id="INQ-1",
            paid_amount_idr=1,
            transaction_at=datetime(2026, 11, 23),  # noqa: DTZ001
        )


def test_access_token_response() -> None:
    response = build_access_token_response("opaque-token")
    assert response.body == {
        "responseCode": "2007300",
        "responseMessage": "Successful",
        "accessToken": "opaque-token",
        "tokenType": "Bearer",
        "expiresIn": "900",
        "additionalInfo": {},
    }
    for token, expires_in_s in (("", 900), ("t" * 2049, 900), ("tökén", 900), ("t", 0)):
        with pytest.raises(ValueError, match=r"access token|expires_in_s"):
            build_access_token_response(token, expires_in_s=expires_in_s)


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("case", "detail", "code", "status_field", "reason_en"),
    [
        (
            Case.INVALID_BILL,
            "Not Found",
            "4042412",
            "inquiryStatus",
            "Invalid Bill/Virtual Account [Not Found]",
        ),
        (Case.PAID_BILL, None, "4042414", "inquiryStatus", "Paid Bill"),
        (
            Case.BILL_EXPIRED,
            None,
            "4042419",
            "inquiryStatus",
            "Invalid Bill/Virtual Account [Expired]",
        ),
        (Case.CONFLICT, None, "4092400", "inquiryStatus", "Conflict"),
        (Case.INACTIVE_ACCOUNT, None, "4032418", "inquiryStatus", "Inactive Card/Account/Customer"),
        (Case.GENERAL_ERROR, None, "5002400", "inquiryStatus", "General Error"),
    ],
)
def test_inquiry_error_response_carries_status_reason_and_echo(
    case: Case, detail: str | None, code: str, status_field: str, reason_en: str
) -> None:
    payload = inquiry_payload(
        partnerServiceId="00012345", virtualAccountNo="00012345" + CUSTOMER_NO
    )
    response = build_error_response(Service.VA_INQUIRY, case, detail=detail, payload=payload)
    assert response.http_status == case.http_status
    assert response.response_code == code
    data = response.body["virtualAccountData"]
    assert isinstance(data, dict)
    assert data[status_field] == "01"
    assert data["inquiryReason"]["english"] == reason_en
    assert data["inquiryReason"]["indonesia"]
    assert data["partnerServiceId"] == "00012345"
    assert data["customerNo"] == CUSTOMER_NO
    assert data["virtualAccountNo"] == "00012345" + CUSTOMER_NO
    assert data["inquiryRequestId"] == "202202110909311234500001136962"


def test_payment_error_response_uses_the_payment_fields() -> None:
    payload = payment_payload()
    response = build_error_response(
        Service.VA_PAYMENT,
        Case.INVALID_AMOUNT,
        payload=payload,
        reason=Reason(
            "Paid amount differs from the bill", "Jumlah bayar tidak sama dengan tagihan"
        ),
    )
    assert response.response_code == "4042513"
    assert response.body["virtualAccountData"] == {
        "paymentFlagStatus": "01",
        "paymentFlagReason": {
            "english": "Paid amount differs from the bill",
            "indonesia": "Jumlah bayar tidak sama dengan tagihan",
        },
        "partnerServiceId": "   12345",
        "customerNo": CUSTOMER_NO,
        "virtualAccountNo": VA,
        "paymentRequestId": "202202110909311234500001136962",
    }


@pytest.mark.parametrize("service", [Service.VA_INQUIRY, Service.VA_PAYMENT])
@pytest.mark.parametrize("case", [Case.UNAUTHORIZED, Case.INVALID_TOKEN])
def test_authentication_failures_carry_no_account_data(service: Service, case: Case) -> None:
    response = build_error_response(service, case, detail="Signature", payload=payment_payload())
    assert response.http_status == 401
    assert set(response.body) == {"responseCode", "responseMessage"}


@pytest.mark.parametrize("service", [Service.VA_STATUS, Service.ACCESS_TOKEN_B2B])
def test_status_and_token_errors_are_code_and_message(service: Service) -> None:
    response = build_error_response(service, Case.TRANSACTION_NOT_FOUND, payload=payment_payload())
    assert set(response.body) == {"responseCode", "responseMessage"}
    assert response.body["responseMessage"] == "Transaction Not Found"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "x",
        {"partnerServiceId": 5, "customerNo": True, "virtualAccountNo": ["x"]},
        {"partnerServiceId": "123456789", "customerNo": "1" * 21, "virtualAccountNo": "\x00"},
    ],
)
def test_error_echo_of_unusable_payloads_is_empty(payload: object) -> None:
    response = build_error_response(Service.VA_PAYMENT, Case.BAD_REQUEST, payload=payload)
    assert response.response_code == "4002500"
    data = response.body["virtualAccountData"]
    assert isinstance(data, dict)
    assert data["partnerServiceId"] == data["customerNo"] == data["virtualAccountNo"] == ""
    assert data["paymentRequestId"] == ""


def test_error_echo_of_a_bare_customer_number() -> None:
    payload = {"customerNo": 12340, "paymentRequestId": "p"}
    data = build_error_response(Service.VA_PAYMENT, Case.GENERAL_ERROR, payload=payload).body[
        "virtualAccountData"
    ]
    assert isinstance(data, dict)
    assert data["customerNo"] == "12340"


def test_success_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="failures"):
        build_error_response(Service.VA_INQUIRY, Case.SUCCESSFUL)


def test_error_response_for_each_error_type() -> None:
    errors: list[tuple[SnapError, str]] = [
        (SnapMessageError(MessageErrorKind.MISSING_FIELD, "m", field="paidAmount"), "4002502"),
        (SnapSecurityError(SecurityErrorKind.INVALID_SIGNATURE, "s"), "4012500"),
        (SnapSecurityError(SecurityErrorKind.INVALID_TOKEN, "t"), "4012501"),
    ]
    for error, code in errors:
        response = error_response_for(Service.VA_PAYMENT, error, payload=payment_payload())
        assert response.response_code == code
        assert response.body["responseMessage"] == error.response_message


# ------------------------------------------------------------------------------- end to end


def test_bank_to_biller_round_trip() -> None:
    """The simulator signs a payment; the biller checks, parses, normalises and answers."""
    secret, token, path = "shared-secret", "opaque-token", "/snap/v1.0/transfer-va/payment"
    timestamp = "2026-11-23T10:00:00+07:00"
    body = json.dumps(
        payment_payload(partnerServiceId="12345", virtualAccountNo="12345" + CUSTOMER_NO),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    signature = sign_symmetric(
        client_secret=secret,
        method="POST",
        endpoint_url=path,
        access_token=token,
        body=body,
        timestamp=timestamp,
    )
    headers = parse_service_headers(
        {
            "X-TIMESTAMP": timestamp,
            "X-SIGNATURE": signature,
            "Authorization": f"Bearer {token}",
            "X-PARTNER-ID": "12345",
            "X-EXTERNAL-ID": "EXT-1",
        }
    )
    verify_symmetric(
        client_secret=secret,
        method="POST",
        endpoint_url=path,
        access_token=headers.access_token,
        body=body,
        timestamp=headers.timestamp,
        signature=headers.signature,
    )
    request = parse_payment_request(decode_json_body(body))
    key = normalize_va(request.triple, company_code="12345")
    assert (key.sequence, key.customer_no) == (1234, CUSTOMER_NO)
    response = build_payment_response(request)
    data = response.body["virtualAccountData"]
    assert isinstance(data, dict)
    assert data["partnerServiceId"] == "12345"  # echoed as received, not re-padded
    assert data["virtualAccountNo"] == "12345" + CUSTOMER_NO
