"""Shared rules: identities, keys, encodings, bounds, statement continuity, the invariant."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from reconcile.formats.common import (
    Direction,
    FileFormat,
    ImportRefused,
    KeyKind,
    KeyRules,
    Limits,
    LineDraft,
    ParsedFile,
    PreviousStatement,
    RefusalReason,
    StatementSummary,
    TextEncoding,
    check_size,
    check_statement_sequence,
    decode_text,
    extract_keys,
    line_identities,
)

DAY = date(2026, 12, 1)


def draft(
    amount_idr: int = 5_000,
    description: str = "TRF VA 8881001",
    ref: str | None = None,
    booking: date = DAY,
) -> LineDraft:
    return LineDraft(
        line_no=1,
        booking_date=booking,
        value_date=booking,
        amount_idr=amount_idr,
        direction=Direction.CREDIT,
        description=description,
        bank_reference=ref,
    )


def summary(
    number: int | None,
    *,
    sequence: int | None = None,
    opening_idr: int = 100,
    closing_idr: int = 100,
    opening: date = DAY,
    final: bool = True,
) -> StatementSummary:
    return StatementSummary(
        index=0,
        statement_id=None,
        number=number,
        sequence=sequence,
        opening_date=opening,
        closing_date=opening,
        opening_balance_idr=opening_idr,
        closing_balance_idr=closing_idr,
        credit_total_idr=0,
        debit_total_idr=0,
        line_count=0,
        closing_is_final=final,
    )


class TestIdentities:
    def test_identical_lines_get_distinct_occurrence_counters(self) -> None:
        first, second = line_identities("ACC", [draft(), draft()])
        assert first.endswith("#0") and second.endswith("#1")
        assert first.rsplit("#", 1)[0] == second.rsplit("#", 1)[0]

    def test_bank_reference_gives_ref_identity_independent_of_description(self) -> None:
        (a,) = line_identities("ACC", [draft(ref="FT1", description="one text")])
        (b,) = line_identities("ACC", [draft(ref="FT1", description="OTHER text")])
        assert a == b and a.startswith("ref:")

    def test_content_identity_ignores_case_and_spacing(self) -> None:
        (a,) = line_identities("ACC", [draft(description="trf  va 8881001")])
        (b,) = line_identities("ACC", [draft(description="TRF VA 8881001 ")])
        assert a == b and a.startswith("content:")

    def test_identities_hash_the_documented_basis(self) -> None:
        # Stored lines keep these identities: the basis must never change.
        ref, content = line_identities(
            "ACC", [draft(ref=" FT1 "), draft(description="trf  va ﬁ 8881001")]
        )
        ref_basis = "3:ref;3:ACC;3:FT1;10:2026-12-01;6:credit;4:5000;"
        content_basis = (
            "7:content;3:ACC;10:2026-12-01;10:2026-12-01;6:credit;4:5000;0:;17:TRF VA FI 8881001;"
        )
        assert ref == f"ref:{hashlib.sha256(ref_basis.encode()).hexdigest()}#0"
        assert content == f"content:{hashlib.sha256(content_basis.encode()).hexdigest()}#0"

    def test_account_amount_and_date_separate_identities(self) -> None:
        base = line_identities("ACC", [draft(ref="FT1")])
        assert base != line_identities("OTHER", [draft(ref="FT1")])
        assert base != line_identities("ACC", [draft(ref="FT1", amount_idr=5_001)])
        assert base != line_identities("ACC", [draft(ref="FT1", booking=date(2026, 12, 2))])

    def test_overlap_keeps_identities(self) -> None:
        day1 = [draft(description="A"), draft(description="B")]
        day2 = [draft(description="C", booking=date(2026, 12, 2))]
        assert line_identities("ACC", day1 + day2)[2:] == line_identities("ACC", day2)
        assert line_identities("ACC", day1 + day2)[:2] == line_identities("ACC", day1)


class TestKeys:
    def test_bill_va_qris_and_nmid(self) -> None:
        keys = extract_keys(
            [
                "trf va 888100123456789 skrd/2026/12/klewer/000123",
                "QRIS STL BATCH B20261201-KLW01 NMID ID1020017611473",
            ],
            KeyRules(),
        )
        assert {(k.kind, k.value) for k in keys} == {
            (KeyKind.BILL_NUMBER, "SKRD/2026/12/KLEWER/000123"),
            (KeyKind.VA_NUMBER, "888100123456789"),
            (KeyKind.QRIS_REFERENCE, "B20261201-KLW01"),
            (KeyKind.NMID, "ID1020017611473"),
        }

    def test_va_prefix_finds_unlabelled_numbers_only_with_our_prefix(self) -> None:
        rules = KeyRules(va_prefixes=("88810",))
        keys = extract_keys(["SETOR 8881001234567 REK 1380012345678"], rules)
        assert [(k.kind, k.value) for k in keys] == [(KeyKind.VA_NUMBER, "8881001234567")]

    def test_invalid_bill_month_is_not_a_key(self) -> None:
        assert extract_keys(["SKRD/2026/13/KLEWER/000123"], KeyRules()) == ()


class TestDecode:
    def test_utf8_accepts_and_drops_bom(self) -> None:
        assert decode_text(b"\xef\xbb\xbfTanggal", TextEncoding.UTF8) == "Tanggal"

    def test_windows_1252_bytes_refused_as_utf8(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            decode_text("Pasar – Gede".encode("cp1252"), TextEncoding.UTF8)
        assert caught.value.reason is RefusalReason.ENCODING
        assert "0x96" in caught.value.message

    def test_utf8_refused_when_profile_says_windows_1252(self) -> None:
        for data in ("Pasar – Gede".encode(), b"\xef\xbb\xbfTanggal"):
            with pytest.raises(ImportRefused) as caught:
                decode_text(data, TextEncoding.WINDOWS_1252)
            assert caught.value.reason is RefusalReason.ENCODING
            assert caught.value.expected == "windows-1252"

    def test_utf16_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            decode_text("Tanggal".encode("utf-16"), TextEncoding.UTF8)
        assert caught.value.found == "UTF-16 or binary"

    def test_undefined_windows_1252_byte_refused(self) -> None:
        with pytest.raises(ImportRefused):
            decode_text(b"abc\x81", TextEncoding.WINDOWS_1252)


class TestBounds:
    def test_over_sized_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_size(b"x" * 101, Limits(max_bytes=100))
        assert caught.value.reason is RefusalReason.TOO_LARGE

    def test_too_many_lines_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_size(b"a\n" * 11, Limits(max_lines=10))
        assert caught.value.reason is RefusalReason.TOO_MANY_LINES

    def test_empty_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_size(b" \r\n", Limits())
        assert caught.value.reason is RefusalReason.EMPTY


class TestContinuity:
    def test_next_number_follows(self) -> None:
        check_statement_sequence(PreviousStatement(7, closing_balance_idr=100), summary(8))

    def test_gap_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_statement_sequence(PreviousStatement(7), summary(9))
        assert caught.value.reason is RefusalReason.STATEMENT_GAP
        assert caught.value.expected == "8"

    def test_repeat_refused_as_order(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_statement_sequence(PreviousStatement(7), summary(7))
        assert caught.value.reason is RefusalReason.STATEMENT_ORDER

    def test_yearly_reset_to_one(self) -> None:
        previous = PreviousStatement(365, closing_date=date(2026, 12, 31))
        check_statement_sequence(previous, summary(1, opening=date(2027, 1, 1)))
        with pytest.raises(ImportRefused):
            check_statement_sequence(previous, summary(1, opening=date(2026, 12, 31)))

    def test_pages_after_intermediate_balance(self) -> None:
        previous = PreviousStatement(12, sequence=1, closing_is_final=False)
        check_statement_sequence(previous, summary(12, sequence=2))
        with pytest.raises(ImportRefused) as caught:
            check_statement_sequence(previous, summary(13, sequence=1))
        assert caught.value.expected == "12/2"

    def test_opening_must_equal_previous_closing(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_statement_sequence(
                PreviousStatement(7, closing_balance_idr=100), summary(8, opening_idr=99)
            )
        assert caught.value.reason is RefusalReason.BALANCE_DISCONTINUITY

    def test_missing_number_refused_when_previous_has_one(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            check_statement_sequence(PreviousStatement(7), summary(None))
        assert caught.value.reason is RefusalReason.STATEMENT_NUMBER_MISSING


def test_parsed_file_refuses_to_lose_a_line() -> None:
    with pytest.raises(AssertionError, match="lines read"):
        ParsedFile(
            format=FileFormat.MT940,
            file_sha256="0" * 64,
            account_id="ACC",
            currency="IDR",
            lines=(),
            rejected=(),
            lines_read=1,
        )
