"""MT940: the sample, our balance and continuity checks, bad files and line quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.formats import (
    Direction,
    FileFormat,
    ImportRefused,
    KeyKind,
    LineReason,
    PreviousStatement,
    RefusalReason,
    parse_file,
    parse_mt940,
)

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "statement.mt940"

VA_LINE = ":61:2612011201C158000,00NTRFNONREF//FT26335A1B2C3\n:86:TRF VA 888100123456789\n"
FEE_LINE = ":61:2612011201D5000,00NCHGNONREF//CHG1\n:86:BIAYA ADM\n"


def statement(
    lines: str = VA_LINE + FEE_LINE,
    *,
    number: str = "335",
    opening: str = ":60F:C261130IDR1000000,00",
    closing: str | None = ":62F:C261201IDR1153000,00",
    account: str = "1380012345678",
) -> str:
    text = f":20:STMT{number}\n:25:{account}\n:28C:{number}\n{opening}\n{lines}"
    return text + (f"{closing}\n" if closing else "")


def parse(text: str, **kwargs: object) -> object:
    return parse_mt940(text.encode(), **kwargs)  # type: ignore[arg-type]


def refusal(text: str, **kwargs: object) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        parse_mt940(text.encode(), **kwargs)  # type: ignore[arg-type]
    return caught.value


class TestSample:
    def test_counts_totals_and_balances(self) -> None:
        parsed = parse_file(SAMPLE.read_bytes(), FileFormat.MT940)
        assert (parsed.lines_read, len(parsed.lines), len(parsed.rejected)) == (6, 6, 0)
        assert parsed.account_id == "1380012345678"
        assert parsed.statement_numbers == (335,)
        assert parsed.opening_balance_idr == 10_000_000
        assert parsed.closing_balance_idr == 11_814_159
        assert parsed.credit_total_idr == 1_819_159
        assert parsed.debit_total_idr == 5_000
        assert parsed.currency == "IDR"

    def test_va_credits_carry_va_and_bill_keys(self) -> None:
        parsed = parse_mt940(SAMPLE.read_bytes())
        first = parsed.lines[0]
        assert first.line_no == 6
        assert first.bank_reference == "FT26335A1B2C3"
        assert first.keys_of(KeyKind.VA_NUMBER) == ("888100123456789",)
        assert first.keys_of(KeyKind.BILL_NUMBER) == ("SKRD/2026/12/KLEWER/000123",)
        qris = parsed.lines[3]
        assert qris.keys_of(KeyKind.QRIS_REFERENCE) == ("B20261201-KLW01",)
        assert qris.amount_idr == 261_159
        fee = parsed.lines[-1]
        assert fee.direction is Direction.DEBIT and fee.signed_amount_idr == -5_000

    def test_line_without_reference_gets_content_identity(self) -> None:
        parsed = parse_mt940(SAMPLE.read_bytes())
        deposit = parsed.lines[4]
        assert deposit.bank_reference is None
        assert deposit.identity.startswith("content:")

    def test_same_file_twice_same_identities(self) -> None:
        first = parse_mt940(SAMPLE.read_bytes())
        second = parse_mt940(SAMPLE.read_bytes())
        assert [ln.identity for ln in first.lines] == [ln.identity for ln in second.lines]
        assert first.file_sha256 == second.file_sha256
        assert len({ln.identity for ln in first.lines}) == len(first.lines)


class TestBalances:
    def test_missing_closing_balance_refused(self) -> None:
        error = refusal(statement(closing=None))
        assert error.reason is RefusalReason.BALANCE_MISSING
        assert "62F" in error.message

    def test_missing_opening_balance_refused(self) -> None:
        error = refusal(statement(opening=""))
        assert error.reason is RefusalReason.BALANCE_MISSING

    def test_balances_not_adding_up_refused(self) -> None:
        error = refusal(statement(closing=":62F:C261201IDR1153001,00"))
        assert error.reason is RefusalReason.BALANCE_MISMATCH
        assert (error.expected, error.found) == ("1153000", "1153001")

    def test_debit_balances_are_negative(self) -> None:
        text = statement(opening=":60F:D261130IDR10000,00", closing=":62F:C261201IDR143000,00")
        parsed = parse_mt940(text.encode())
        assert parsed.opening_balance_idr == -10_000
        assert parsed.closing_balance_idr == 143_000

    def test_other_currency_refused(self) -> None:
        error = refusal(statement(opening=":60F:C261130EUR1000000,00"))
        assert error.reason is RefusalReason.CURRENCY

    def test_fractional_line_amount_refuses_the_file(self) -> None:
        # Two half-rupiah lines: the balances are whole, the lines are not.
        lines = ":61:2612011201C158000,50NTRFNONREF//FT1\n:61:2612011201C999,50NTRF//FT2\n"
        error = refusal(statement(lines, closing=":62F:C261201IDR1159000,00"))
        assert error.reason is RefusalReason.AMOUNT_FRACTION
        assert error.line_no == 5

    def test_fractional_balance_refuses_the_file(self) -> None:
        error = refusal(statement(opening=":60F:C261130IDR1000000,01"))
        assert error.reason is RefusalReason.AMOUNT_FRACTION

    def test_decimal_comma_without_decimals(self) -> None:
        text = statement(
            ":61:2612011201C158000,NTRFNONREF//FT1\n", closing=":62F:C261201IDR1158000,"
        )
        assert parse_mt940(text.encode()).lines[0].amount_idr == 158_000


class TestStatementNumbers:
    def test_gap_relative_to_previous_refused(self) -> None:
        error = refusal(statement(), previous=PreviousStatement(333))
        assert error.reason is RefusalReason.STATEMENT_GAP
        assert (error.expected, error.found) == ("334", "335")

    def test_previous_closing_balance_must_match(self) -> None:
        parse(statement(), previous=PreviousStatement(334, closing_balance_idr=1_000_000))
        error = refusal(statement(), previous=PreviousStatement(334, closing_balance_idr=999_999))
        assert error.reason is RefusalReason.BALANCE_DISCONTINUITY

    def test_several_statements_in_one_file(self) -> None:
        second = statement(
            VA_LINE.replace("FT26335A1B2C3", "FT26336X"),
            number="336",
            opening=":60F:C261201IDR1153000,00",
            closing=":62F:C261202IDR1311000,00",
        )
        parsed = parse_mt940((statement() + second).encode())
        assert parsed.statement_numbers == (335, 336)
        assert [ln.statement_index for ln in parsed.lines] == [0, 0, 1]
        assert parsed.closing_balance_idr == 1_311_000
        assert [ln.line_no for ln in parsed.lines] == [5, 7, 14]

    def test_gap_inside_the_file_refused(self) -> None:
        second = statement(
            "",
            number="337",
            opening=":60F:C261201IDR1153000,00",
            closing=":62F:C261202IDR1153000,00",
        )
        error = refusal(statement() + second)
        assert error.reason is RefusalReason.STATEMENT_GAP

    def test_pages_with_intermediate_balances(self) -> None:
        page1 = statement(VA_LINE, closing=":62M:C261201IDR1158000,00").replace(
            ":28C:335", ":28C:335/1"
        )
        page2 = statement(
            FEE_LINE, opening=":60M:C261201IDR1158000,00", closing=":62F:C261201IDR1153000,00"
        ).replace(":28C:335", ":28C:335/2")
        parsed = parse_mt940((page1 + page2).encode())
        assert [(s.number, s.sequence, s.closing_is_final) for s in parsed.statements] == [
            (335, 1, False),
            (335, 2, True),
        ]

    def test_missing_statement_number_refused(self) -> None:
        error = refusal(statement().replace(":28C:335\n", ""))
        assert error.reason is RefusalReason.STATEMENT_NUMBER_MISSING

    def test_two_accounts_in_one_file_refused(self) -> None:
        second = statement(
            "",
            number="336",
            opening=":60F:C261201IDR1153000,00",
            closing=":62F:C261202IDR1153000,00",
            account="999",
        )
        assert refusal(statement() + second).reason is RefusalReason.ACCOUNT_MISMATCH


class TestLines:
    def test_impossible_date_quarantined_but_counted_in_balance(self) -> None:
        lines = VA_LINE.replace(":61:2612011201", ":61:2602311201") + FEE_LINE
        parsed = parse_mt940(statement(lines).encode())
        assert (parsed.lines_read, len(parsed.lines), len(parsed.rejected)) == (2, 1, 1)
        rejected = parsed.rejected[0]
        assert (rejected.line_no, rejected.reason) == (5, LineReason.DATE_INVALID)
        assert rejected.raw.startswith(":61:260231")
        assert parsed.statements[0].credit_total_idr == 158_000

    def test_impossible_date_is_not_silently_moved_to_28_february(self) -> None:
        lines = ":61:2602301201C158000,00NTRFNONREF//FT1\n" + FEE_LINE
        parsed = parse_mt940(statement(lines).encode())
        assert parsed.rejected[0].reason is LineReason.DATE_INVALID

    def test_zero_amount_quarantined(self) -> None:
        lines = VA_LINE + FEE_LINE + ":61:2612011201C0,00NTRFNONREF//Z\n"
        parsed = parse_mt940(statement(lines).encode())
        assert [r.reason for r in parsed.rejected] == [LineReason.AMOUNT_ZERO]

    def test_unreadable_line_refuses_because_balance_unprovable(self) -> None:
        lines = VA_LINE + FEE_LINE + ":61:garbage\n"
        error = refusal(statement(lines))
        assert error.reason is RefusalReason.LINE_AMOUNT_UNREADABLE
        assert error.line_no == 9

    def test_line_without_type_code_is_not_merged(self) -> None:
        lines = ":61:2612011201C100,00\n:61:2612011201C200,00\n"
        parsed = parse_mt940(statement(lines, closing=":62F:C261201IDR1000300,00").encode())
        assert [ln.amount_idr for ln in parsed.lines] == [100, 200]

    def test_reversal_of_credit_is_a_debit(self) -> None:
        lines = ":61:2612011201RC5000,00NTRFNONREF//R1\n"
        parsed = parse_mt940(statement(lines, closing=":62F:C261201IDR995000,00").encode())
        assert parsed.lines[0].direction is Direction.DEBIT and parsed.lines[0].is_reversal

    def test_wrapped_86_joins_cut_words(self) -> None:
        first = "TRF VA 88810012345 " + "X" * 46
        assert len(first) == 65
        lines = ":61:2612011201C100,00NTRFNONREF//A\n:86:" + first + "\n6789 SKRD\n"
        parsed = parse_mt940(statement(lines, closing=":62F:C261201IDR1000100,00").encode())
        assert parsed.lines[0].description.endswith("X6789 SKRD")

    def test_long_86_quarantined_not_truncated(self) -> None:
        lines = ":61:2612011201C100,00NTRFNONREF//A\n:86:" + "A" * 2_500 + "\n"
        parsed = parse_mt940(statement(lines, closing=":62F:C261201IDR1000100,00").encode())
        assert parsed.rejected[0].reason is LineReason.FIELD_TOO_LONG


class TestRefusals:
    def test_line_before_first_statement_refused(self) -> None:
        error = refusal(":61:2612011201C100,00NTRF//A\n" + statement())
        assert error.reason is RefusalReason.MALFORMED

    def test_not_mt940(self) -> None:
        assert refusal("hello world").reason is RefusalReason.MALFORMED

    def test_content_naming_a_local_file_is_not_read_as_a_path(self) -> None:
        error = refusal(str(SAMPLE))
        assert error.reason is RefusalReason.MALFORMED

    def test_windows_1252_refused(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            parse_mt940(statement().replace("BIAYA ADM", "BIAYA – ADM").encode("cp1252"))
        assert caught.value.reason is RefusalReason.ENCODING


def test_overlapping_file_shares_identities() -> None:
    day1 = statement()
    day2 = statement(
        ":61:2612021202C75000,00NTRFNONREF\n:86:TRF VA 888100123450017\n",
        number="336",
        opening=":60F:C261201IDR1153000,00",
        closing=":62F:C261202IDR1228000,00",
    )
    both = parse_mt940((day1 + day2).encode())
    only2 = parse_mt940(
        day2.encode(), previous=PreviousStatement(335, closing_balance_idr=1_153_000)
    )
    only1 = parse_mt940(day1.encode())
    assert [ln.identity for ln in both.lines] == [
        *(ln.identity for ln in only1.lines),
        *(ln.identity for ln in only2.lines),
    ]
