"""VA numbers: Damm check digit (proven), customerNo, the triple and its padding variants."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from payments.snap.codes import Case, Service
from payments.snap.numbering import (
    _DAMM_TABLE,
    DEFAULT_CUSTOMER_NO_WIDTH,
    ReceivedTriple,
    VaErrorKind,
    VaKey,
    VaNumberError,
    check_received_triple,
    compose_virtual_account_no,
    damm_check_digit,
    damm_is_valid,
    make_customer_no,
    make_partner_service_id,
    normalize_va,
    validate_customer_no,
)

DIGITS = "0123456789"
payloads = st.text(DIGITS, min_size=1, max_size=19)

# --------------------------------------------------------------------------------- Damm


def test_damm_known_answer() -> None:
    # Damm's worked example (also Wikipedia's): 572 → 4.
    assert damm_check_digit("572") == "4"
    assert damm_is_valid("5724")
    assert not damm_is_valid("5723")


def test_damm_table_is_a_weakly_totally_antisymmetric_quasigroup() -> None:
    columns = list(zip(*_DAMM_TABLE, strict=True))
    for i in range(10):
        assert sorted(_DAMM_TABLE[i]) == list(range(10))  # rows are permutations
        assert sorted(columns[i]) == list(range(10))  # columns too: a quasigroup
        assert _DAMM_TABLE[i][i] == 0  # zero diagonal, so appending the check gives 0
    # (c*x)*y == (c*y)*x implies x == y: this is what makes every adjacent swap detectable.
    for c, x, y in itertools.product(range(10), repeat=3):
        if x != y:
            assert _DAMM_TABLE[_DAMM_TABLE[c][x]][y] != _DAMM_TABLE[_DAMM_TABLE[c][y]][x]


@given(payload=payloads, data=st.data())
def test_damm_catches_every_single_digit_error(payload: str, data: st.DataObject) -> None:
    number = payload + damm_check_digit(payload)
    assert damm_is_valid(number)
    position = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from(DIGITS.replace(number[position], "")))
    typo = number[:position] + replacement + number[position + 1 :]
    assert not damm_is_valid(typo)


@given(payload=payloads, data=st.data())
def test_damm_catches_every_adjacent_transposition(payload: str, data: st.DataObject) -> None:
    number = payload + damm_check_digit(payload)
    position = data.draw(st.integers(0, len(number) - 2))
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert not damm_is_valid(swapped)


def test_damm_exhaustively_for_every_three_digit_payload() -> None:
    for value in range(1000):
        number = f"{value:03d}" + damm_check_digit(f"{value:03d}")
        for position, char in enumerate(number):
            for digit in DIGITS.replace(char, ""):
                assert not damm_is_valid(number[:position] + digit + number[position + 1 :])
        for position in range(len(number) - 1):
            a, b = number[position], number[position + 1]
            if a != b:
                assert not damm_is_valid(number[:position] + b + a + number[position + 2 :])


def test_damm_catches_the_swap_luhn_misses() -> None:
    # Luhn gives 09 and 90 the same sum; Damm does not.
    assert damm_check_digit("1209") != damm_check_digit("1290")


@pytest.mark.parametrize("bad", ["", "12a", "١٢٣", " 1", "1.0"])
def test_damm_check_digit_refuses_non_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        damm_check_digit(bad)


@pytest.mark.parametrize("bad", ["", "0", "12a4", "５７２４", "5724 "])
def test_damm_is_valid_never_raises(bad: str) -> None:
    assert damm_is_valid(bad) is False


# ---------------------------------------------------------------------------- customerNo


def test_make_customer_no() -> None:
    assert make_customer_no(1234) == "0000012340"
    assert make_customer_no(1) == "000000001" + damm_check_digit("000000001")
    assert make_customer_no(999_999_999) == "999999999" + damm_check_digit("999999999")
    assert make_customer_no(7, width=2) == "7" + damm_check_digit("7")
    assert len(make_customer_no(5, width=20)) == 20


@given(sequence=st.integers(1, 10**9 - 1))
def test_customer_no_round_trip(sequence: int) -> None:
    customer_no = make_customer_no(sequence)
    assert len(customer_no) == DEFAULT_CUSTOMER_NO_WIDTH
    assert customer_no.isdigit()
    assert validate_customer_no(customer_no) == sequence


@pytest.mark.parametrize(("sequence", "width"), [(0, 10), (-1, 10), (10**9, 10), (10, 2)])
def test_make_customer_no_refuses_out_of_range(sequence: int, width: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        make_customer_no(sequence, width=width)


@pytest.mark.parametrize("width", [0, 1, 21])
def test_make_customer_no_refuses_bad_width(width: int) -> None:
    with pytest.raises(ValueError, match="width"):
        make_customer_no(1, width=width)


@pytest.mark.parametrize("sequence", [True, 1.0, "1"])
def test_make_customer_no_needs_an_int(sequence: object) -> None:
    with pytest.raises(TypeError):
        make_customer_no(sequence)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("customer_no", "kind"),
    [
        ("0000012341", VaErrorKind.NOT_OURS),  # check digit
        ("000012340", VaErrorKind.NOT_OURS),  # width
        ("00000123400", VaErrorKind.NOT_OURS),
        ("0000000000", VaErrorKind.NOT_OURS),  # sequence 0 has a valid check digit
        ("00000 2340", VaErrorKind.FORMAT),
        ("000001234O", VaErrorKind.FORMAT),
        ("０００００１２３４０", VaErrorKind.FORMAT),
        ("", VaErrorKind.FORMAT),
        ("1" * 21, VaErrorKind.FORMAT),
    ],
)
def test_validate_customer_no_refuses(customer_no: str, kind: VaErrorKind) -> None:
    with pytest.raises(VaNumberError) as info:
        validate_customer_no(customer_no)
    assert info.value.kind is kind
    assert info.value.field == "customerNo"


def test_not_ours_maps_to_invalid_bill() -> None:
    with pytest.raises(VaNumberError) as info:
        validate_customer_no("0000012341")
    assert info.value.case is Case.INVALID_BILL
    assert info.value.response_code(Service.VA_INQUIRY) == "4042412"
    assert info.value.response_code(Service.VA_PAYMENT) == "4042512"
    assert info.value.response_message == "Invalid Bill/Virtual Account [Not Found]"


# -------------------------------------------------------------------------- composition


@pytest.mark.parametrize(
    ("company_code", "expected"),
    [("12345", "   12345"), ("088899", "  088899"), ("7136", "    7136"), ("90100049", "90100049")],
)
def test_partner_service_id_is_space_padded(company_code: str, expected: str) -> None:
    assert make_partner_service_id(company_code) == expected


@pytest.mark.parametrize(
    "bad", ["", "123456789", "12a45", "00000", " 12345", "１２３４５", "-1234"]
)
def test_partner_service_id_refuses_bad_company_codes(bad: str) -> None:
    with pytest.raises(ValueError, match="company code"):
        make_partner_service_id(bad)


def test_compose_and_key() -> None:
    customer_no = make_customer_no(1234)
    assert compose_virtual_account_no("12345", customer_no) == "   123450000012340"
    key = VaKey(company_code="12345", customer_no=customer_no, sequence=1234)
    assert key.partner_service_id == "   12345"
    assert key.virtual_account_no == "   123450000012340"
    assert key.payable_digits == "123450000012340"
    for bad in ("", "12 4", "1" * 21):
        with pytest.raises(ValueError, match="customerNo"):
            compose_virtual_account_no("12345", bad)


# --------------------------------------------------------------------- received triples

CUSTOMER_NO = make_customer_no(1234)


def test_check_received_triple_keeps_strings_verbatim() -> None:
    triple = check_received_triple("   12345", CUSTOMER_NO, "   12345" + CUSTOMER_NO)
    assert triple == ReceivedTriple("   12345", CUSTOMER_NO, "   12345" + CUSTOMER_NO, False)
    bare = check_received_triple("12345", 12340, "123450000012340")
    assert bare == ReceivedTriple("12345", "12340", "123450000012340", True)


@pytest.mark.parametrize(
    ("psi", "customer_no", "va", "field", "kind"),
    [
        (None, CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.MISSING),
        ("", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.MISSING),
        ("        ", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.MISSING),
        ("   1234A", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.FORMAT),
        ("123456789", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.FORMAT),
        ("12345   ", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.FORMAT),
        ("\t12345", CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.FORMAT),
        (12345, CUSTOMER_NO, "x", "partnerServiceId", VaErrorKind.FORMAT),
        ("   12345", None, "x", "customerNo", VaErrorKind.MISSING),
        ("   12345", "", "x", "customerNo", VaErrorKind.MISSING),
        ("   12345", "12 34", "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", " 1234", "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", "1" * 21, "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", -1, "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", 10**20, "x", "customerNo", VaErrorKind.FORMAT),
        pytest.param(
            "   12345", 10**5000, "x", "customerNo", VaErrorKind.FORMAT, id="5001-digit-number"
        ),
        ("   12345", True, "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", 1234.0, "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", ["1"], "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", "١٢٣٤", "x", "customerNo", VaErrorKind.FORMAT),
        ("   12345", CUSTOMER_NO, None, "virtualAccountNo", VaErrorKind.MISSING),
        ("   12345", CUSTOMER_NO, "   ", "virtualAccountNo", VaErrorKind.MISSING),
        ("   12345", CUSTOMER_NO, "1" * 29, "virtualAccountNo", VaErrorKind.FORMAT),
        ("   12345", CUSTOMER_NO, "   12345-0000012340", "virtualAccountNo", VaErrorKind.FORMAT),
        ("   12345", CUSTOMER_NO, 123450000012340, "virtualAccountNo", VaErrorKind.FORMAT),
    ],
)
def test_check_received_triple_refuses(
    psi: object, customer_no: object, va: object, field: str, kind: VaErrorKind
) -> None:
    if va == "x":
        va = "   12345" + CUSTOMER_NO
    with pytest.raises(VaNumberError) as info:
        check_received_triple(psi, customer_no, va)
    assert (info.value.field, info.value.kind) == (field, kind)
    expected_code = "4002402" if kind is VaErrorKind.MISSING else "4002401"
    assert info.value.response_code(Service.VA_INQUIRY) == expected_code


# -------------------------------------------------------------------------- normalising

PREFIXES_12345 = ["   12345", "00012345", "12345", " 0012345", "012345"]


@pytest.mark.parametrize("psi", PREFIXES_12345)
@pytest.mark.parametrize("va_prefix", PREFIXES_12345)
@pytest.mark.parametrize("customer_no", [CUSTOMER_NO, int(CUSTOMER_NO), "000" + CUSTOMER_NO])
def test_padding_variants_normalise_to_one_key(
    psi: str, va_prefix: str, customer_no: str | int
) -> None:
    triple = check_received_triple(psi, customer_no, va_prefix + CUSTOMER_NO)
    key = normalize_va(triple, company_code="12345")
    assert key == VaKey(company_code="12345", customer_no=CUSTOMER_NO, sequence=1234)
    assert key.virtual_account_no == "   123450000012340"


@pytest.mark.parametrize("psi", ["  088899", "88899", "00088899", " 088899", "  88899"])
def test_company_code_with_a_leading_zero(psi: str) -> None:
    # DOKU's "  088899", ASPI's "  88899" and " 088899", DOKU-Mandiri's unpadded "88899".
    triple = check_received_triple(psi, CUSTOMER_NO, psi.strip() + CUSTOMER_NO)
    assert normalize_va(triple, company_code="088899").customer_no == CUSTOMER_NO


def test_bank_padding_customer_no_to_its_own_length() -> None:
    padded = CUSTOMER_NO.zfill(18)  # BCA-style 18-digit customerNo
    triple = check_received_triple("   12345", padded, "   12345" + padded)
    assert normalize_va(triple, company_code="12345").customer_no == CUSTOMER_NO


@pytest.mark.parametrize(
    ("psi", "customer_no", "va", "kind", "field"),
    [
        (
            "   54321",
            CUSTOMER_NO,
            "   54321" + CUSTOMER_NO,
            VaErrorKind.NOT_OURS,
            "partnerServiceId",
        ),
        (
            "  123456",
            CUSTOMER_NO,
            "  123456" + CUSTOMER_NO,
            VaErrorKind.NOT_OURS,
            "partnerServiceId",
        ),
        (
            "00000000",
            CUSTOMER_NO,
            "00000000" + CUSTOMER_NO,
            VaErrorKind.NOT_OURS,
            "partnerServiceId",
        ),
        (
            "   12345",
            CUSTOMER_NO,
            "   54321" + CUSTOMER_NO,
            VaErrorKind.INCONSISTENT,
            "virtualAccountNo",
        ),
        ("   12345", CUSTOMER_NO, "   12345", VaErrorKind.INCONSISTENT, "virtualAccountNo"),
        ("   12345", CUSTOMER_NO, CUSTOMER_NO, VaErrorKind.INCONSISTENT, "virtualAccountNo"),
        (
            "   12345",
            CUSTOMER_NO,
            "   123450000056785",
            VaErrorKind.INCONSISTENT,
            "virtualAccountNo",
        ),
        ("   12345", "0000012341", "   123450000012341", VaErrorKind.NOT_OURS, "customerNo"),
        ("   12345", "000012340", "   12345000012340", VaErrorKind.NOT_OURS, "customerNo"),
        ("   12345", "90000012340", "   1234590000012340", VaErrorKind.NOT_OURS, "customerNo"),
        ("   12345", "0000000000", "   123450000000000", VaErrorKind.NOT_OURS, "customerNo"),
    ],
)
def test_normalize_refuses(
    psi: str, customer_no: str, va: str, kind: VaErrorKind, field: str
) -> None:
    triple = check_received_triple(psi, customer_no, va)
    with pytest.raises(VaNumberError) as info:
        normalize_va(triple, company_code="12345")
    assert (info.value.kind, info.value.field) == (kind, field)
    expected = "4042412" if kind is VaErrorKind.NOT_OURS else "4002401"
    assert info.value.response_code(Service.VA_INQUIRY) == expected


def test_normalize_refuses_a_bad_profile() -> None:
    triple = check_received_triple("   12345", CUSTOMER_NO, "   12345" + CUSTOMER_NO)
    with pytest.raises(ValueError, match="company code"):
        normalize_va(triple, company_code="")
    with pytest.raises(ValueError, match="width"):
        normalize_va(triple, company_code="12345", width=1)


company_codes = st.text(DIGITS, min_size=1, max_size=8).filter(lambda c: c.strip("0") != "")


@given(company_code=company_codes, sequence=st.integers(1, 10**9 - 1), data=st.data())
def test_every_issued_va_normalises_back(
    company_code: str, sequence: int, data: st.DataObject
) -> None:
    customer_no = make_customer_no(sequence)
    canonical = compose_virtual_account_no(company_code, customer_no)
    stripped = company_code.lstrip("0")
    prefix = data.draw(
        st.sampled_from(
            [canonical[:8], company_code, stripped, stripped.rjust(8, "0"), stripped.rjust(8)]
        )
    )
    triple = check_received_triple(prefix, customer_no, prefix + customer_no)
    key = normalize_va(triple, company_code=company_code)
    assert key.sequence == sequence
    assert key.virtual_account_no == canonical


@given(sequence=st.integers(1, 10**9 - 1), data=st.data())
def test_a_mistyped_va_never_reaches_another_vendor(sequence: int, data: st.DataObject) -> None:
    # The payer types the digits; one wrong digit in the customer part must not resolve.
    customer_no = make_customer_no(sequence)
    position = data.draw(st.integers(0, len(customer_no) - 1))
    digit = data.draw(st.sampled_from(DIGITS.replace(customer_no[position], "")))
    typo = customer_no[:position] + digit + customer_no[position + 1 :]
    triple = check_received_triple("   12345", typo, "   12345" + typo)
    with pytest.raises(VaNumberError) as info:
        normalize_va(triple, company_code="12345")
    assert info.value.kind is VaErrorKind.NOT_OURS
