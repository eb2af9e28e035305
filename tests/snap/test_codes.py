"""SNAP response codes: the table, the BCA expected-response rows, messages and reasons."""

from __future__ import annotations

import pytest

from payments.snap.codes import (
    INQUIRY_STATUS_MEANING,
    PAYMENT_FLAG_STATUS_MEANING,
    REASON_MAX_CHARS,
    REASON_SUCCESS,
    RESPONSE_MESSAGE_MAX_CHARS,
    Case,
    InquiryStatus,
    PaymentFlagStatus,
    Reason,
    Service,
    Slot,
    SnapError,
    UnknownResponseCode,
    decode_response_code,
    http_status,
    reason_for,
    response_code,
    response_message,
)


@pytest.mark.parametrize("service", list(Service))
@pytest.mark.parametrize("case", list(Case))
def test_every_code_is_seven_digits_and_decodes_back(service: Service, case: Case) -> None:
    code = response_code(service, case)
    assert len(code) == 7
    assert code.isdigit()
    assert code.startswith(str(http_status(case)))
    assert code[3:5] == service.value
    assert decode_response_code(code) == (service, case)


def test_cases_are_unique_and_their_texts_fit() -> None:
    pairs = {(case.http_status, case.case_code) for case in Case}
    assert len(pairs) == len(Case)
    for case in Case:
        assert len(case.case_code) == 2
        assert 200 <= case.http_status <= 504
        assert case.message_en
        assert case.message_id
        assert case.message_en != case.message_id
        assert len(response_message(case, "x" * 500)) <= RESPONSE_MESSAGE_MAX_CHARS
        reason = reason_for(case, "y" * 500)
        assert len(reason.english) <= REASON_MAX_CHARS
        assert len(reason.indonesia) <= REASON_MAX_CHARS


# BCA "Expected Response from Partner" (snap-va.md §1.9): scenario → inquiry and payment codes.
BCA_ROWS = [
    ("token invalid", Case.INVALID_TOKEN, None, "4012401", "4012501", "Invalid Token (B2B)"),
    (
        "bad signature",
        Case.UNAUTHORIZED,
        "Signature",
        "4012400",
        "4012500",
        "Unauthorized. [Signature]",
    ),
    (
        "unknown client",
        Case.UNAUTHORIZED,
        "Unknown client",
        "4012400",
        "4012500",
        "Unauthorized. [Unknown client]",
    ),
    (
        "missing mandatory",
        Case.INVALID_MANDATORY_FIELD,
        "virtualAccountNo",
        "4002402",
        "4002502",
        "Invalid Mandatory Field {virtualAccountNo}",
    ),
    (
        "bad format",
        Case.INVALID_FIELD_FORMAT,
        "paidAmount.value",
        "4002401",
        "4002501",
        "Invalid Field Format {paidAmount.value}",
    ),
    ("X-EXTERNAL-ID reused", Case.CONFLICT, None, "4092400", "4092500", "Conflict"),
    ("valid VA", Case.SUCCESSFUL, None, "2002400", "2002500", "Successful"),
    ("already paid", Case.PAID_BILL, None, "4042414", "4042514", "Paid Bill"),
    (
        "expired",
        Case.BILL_EXPIRED,
        None,
        "4042419",
        "4042519",
        "Invalid Bill/Virtual Account [Expired]",
    ),
    (
        "not registered",
        Case.INVALID_BILL,
        "Not Found",
        "4042412",
        "4042512",
        "Invalid Bill/Virtual Account [Not Found]",
    ),
    (
        "double flag",
        Case.INCONSISTENT_REQUEST,
        None,
        "4042418",
        "4042518",
        "Inconsistent Request",
    ),
    ("parse error", Case.BAD_REQUEST, None, "4002400", "4002500", "Bad Request"),
    ("amount differs", Case.INVALID_AMOUNT, None, "4042413", "4042513", "Invalid Amount"),
    (
        "vendor deactivated",
        Case.INACTIVE_ACCOUNT,
        None,
        "4032418",
        "4032518",
        "Inactive Card/Account/Customer",
    ),
    ("general error", Case.GENERAL_ERROR, None, "5002400", "5002500", "General Error"),
]


@pytest.mark.parametrize(
    ("scenario", "case", "detail", "inquiry", "payment", "message"),
    BCA_ROWS,
    ids=[row[0] for row in BCA_ROWS],
)
def test_bca_expected_responses(
    scenario: str, case: Case, detail: str | None, inquiry: str, payment: str, message: str
) -> None:
    assert response_code(Service.VA_INQUIRY, case) == inquiry
    assert response_code(Service.VA_PAYMENT, case) == payment
    assert response_message(case, detail) == message


@pytest.mark.parametrize(
    ("service", "case", "code"),
    [
        (Service.ACCESS_TOKEN_B2B, Case.SUCCESSFUL, "2007300"),
        (Service.ACCESS_TOKEN_B2B, Case.INVALID_FIELD_FORMAT, "4007301"),
        (Service.ACCESS_TOKEN_B2B, Case.INVALID_MANDATORY_FIELD, "4007302"),
        (Service.ACCESS_TOKEN_B2B, Case.UNAUTHORIZED, "4017300"),
        (Service.ACCESS_TOKEN_B2B, Case.TIMEOUT, "5047300"),
        (Service.VA_STATUS, Case.BAD_REQUEST, "4002600"),
        (Service.VA_STATUS, Case.INVALID_FIELD_FORMAT, "4002601"),
        (Service.VA_STATUS, Case.INVALID_MANDATORY_FIELD, "4002602"),
        (Service.VA_STATUS, Case.UNAUTHORIZED, "4012600"),
        (Service.VA_STATUS, Case.INVALID_TOKEN, "4012601"),
        (Service.VA_STATUS, Case.TRANSACTION_NOT_FOUND, "4042601"),
        (Service.VA_STATUS, Case.GENERAL_ERROR, "5002600"),
        (Service.VA_STATUS, Case.TIMEOUT, "5042600"),
        (Service.QR_MPM_NOTIFY, Case.SUCCESSFUL, "2005200"),
        (Service.VA_PAYMENT, Case.IN_PROGRESS, "2022500"),
    ],
)
def test_token_status_and_qr_codes(service: Service, case: Case, code: str) -> None:
    assert response_code(service, case) == code


@pytest.mark.parametrize(
    "code", ["", "200240", "20024000", "abcdefg", "2009900", "2002499", "6002400", "٢٠٠٢٤٠٠"]
)
def test_decode_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(UnknownResponseCode):
        decode_response_code(code)


def test_message_slots() -> None:
    assert response_message(Case.UNAUTHORIZED) == "Unauthorized."
    assert response_message(Case.FEATURE_NOT_ALLOWED, "Cut-off") == "Feature Not Allowed [Cut-off]"
    assert response_message(Case.PAID_BILL, "ignored") == "Paid Bill"
    assert Case.PAID_BILL.slot is Slot.NONE
    clipped = response_message(Case.INVALID_FIELD_FORMAT, "f" * 200)
    assert len(clipped) == RESPONSE_MESSAGE_MAX_CHARS
    assert clipped.isascii()


def test_reasons() -> None:
    assert reason_for(Case.SUCCESSFUL) is REASON_SUCCESS
    assert REASON_SUCCESS.as_json() == {"english": "Success", "indonesia": "Sukses"}
    assert reason_for(Case.PAID_BILL) == Reason("Paid Bill", "Tagihan sudah dibayar")
    assert reason_for(Case.INVALID_MANDATORY_FIELD, "paidAmount") == Reason(
        "Invalid Mandatory Field {paidAmount}",
        "Isian wajib tidak ada atau tidak valid {paidAmount}",
    )
    assert reason_for(Case.INVALID_BILL, "Not Found", "Tidak Ditemukan") == Reason(
        "Invalid Bill/Virtual Account [Not Found]",
        "Tagihan/virtual account tidak valid [Tidak Ditemukan]",
    )


def test_status_values() -> None:
    assert [s.value for s in InquiryStatus] == ["00", "01"]
    assert [s.value for s in PaymentFlagStatus] == ["00", "01", "02"]
    assert set(INQUIRY_STATUS_MEANING) == set(InquiryStatus)
    assert set(PAYMENT_FLAG_STATUS_MEANING) == set(PaymentFlagStatus)
    for reason in [*INQUIRY_STATUS_MEANING.values(), *PAYMENT_FLAG_STATUS_MEANING.values()]:
        assert reason.english
        assert reason.indonesia


def test_snap_error_carries_its_case() -> None:
    error = SnapError(Case.INVALID_FIELD_FORMAT, "customerNo", "customerNo has letters")
    assert str(error) == "customerNo has letters"
    assert error.http_status == 400
    assert error.response_code(Service.VA_PAYMENT) == "4002501"
    assert error.response_message == "Invalid Field Format {customerNo}"
    assert error.reason.indonesia == "Format isian tidak valid {customerNo}"
