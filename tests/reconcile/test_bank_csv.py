"""Bank CSV/XLSX exports through the example profiles: samples, encodings, layout errors, lines."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from reconcile.formats import (
    FileFormat,
    ImportRefused,
    KeyKind,
    Limits,
    LineReason,
    RefusalReason,
    available_profiles,
    load_profile,
    parse_bank_statement,
    parse_file,
    parse_profile,
)
from reconcile.formats.bank_csv import PROFILE_DIR, ProfileStatus

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
BNI_HEADER = "Post Date,Value Date,Branch,Journal No.,Description,Debit,Credit\n"


def bni(*rows: str) -> bytes:
    return (BNI_HEADER + "".join(row + "\n" for row in rows)).encode()


def bni_row(
    when: str = "01/12/2026",
    credit: str = '"158,000.00"',
    debit: str = "0.00",
    text: str = "TRF VA 888100123456801",
    ref: str = "J1",
) -> str:
    return f"{when},{when},0123,{ref},{text},{debit},{credit}"


def parse(data: bytes, profile: str, **kwargs: object) -> object:
    return parse_bank_statement(data, load_profile(profile), **kwargs)  # type: ignore[arg-type]


def refusal(data: bytes, profile: str, **kwargs: object) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        parse_bank_statement(data, load_profile(profile), **kwargs)  # type: ignore[arg-type]
    return caught.value


class TestSamples:
    @pytest.mark.parametrize(
        ("profile", "sample", "account", "counts", "totals"),
        [
            ("bca", "bank-bca.csv", None, (7, 6, 1), (539_000, 6_500)),
            ("bni", "bank-bni.csv", "0123456789", (4, 4, 0), (329_320, 10_000)),
            ("bri", "bank-bri.csv", "012301000123456", (4, 4, 0), (1_350_000, 1_250)),
            ("mandiri", "bank-mandiri.csv", "1380012345678", (4, 4, 0), (280_520, 2_500)),
            ("bank_jateng", "bank-jateng.csv", None, (4, 4, 0), (280_664, 7_500)),
        ],
    )
    def test_each_sample_parses(
        self,
        profile: str,
        sample: str,
        account: str | None,
        counts: tuple[int, int, int],
        totals: tuple[int, int],
    ) -> None:
        parsed = parse_file(
            (SAMPLES / sample).read_bytes(),
            FileFormat.BANK_CSV,
            profile=profile,
            account_id=account,
        )
        assert (parsed.lines_read, len(parsed.lines), len(parsed.rejected)) == counts
        assert (parsed.credit_total_idr, parsed.debit_total_idr) == totals
        assert parsed.profile_id == profile
        assert all(line.keys for line in parsed.lines if "VA" in line.description)

    def test_bca_preamble_period_pending_and_footer(self) -> None:
        parsed = parse((SAMPLES / "bank-bca.csv").read_bytes(), "bca")
        assert parsed.account_id == "1380099887"
        assert parsed.lines[0].booking_date == date(2026, 12, 1)
        assert parsed.lines[-1].booking_date == date(2026, 12, 2)
        assert parsed.rejected[0].reason is LineReason.PENDING
        assert (parsed.opening_balance_idr, parsed.closing_balance_idr) == (10_000_000, 10_532_500)

    def test_bca_identical_lines_stay_distinct(self) -> None:
        parsed = parse((SAMPLES / "bank-bca.csv").read_bytes(), "bca")
        twin_a, twin_b = parsed.lines[1], parsed.lines[2]
        assert twin_a.identity.endswith("#0") and twin_b.identity.endswith("#1")
        assert twin_a.identity[:-2] == twin_b.identity[:-2]

    def test_bni_bom_time_and_value_date(self) -> None:
        parsed = parse((SAMPLES / "bank-bni.csv").read_bytes(), "bni", account_id="0123456789")
        qris = parsed.lines[2]
        assert (qris.booking_date, qris.value_date) == (date(2026, 12, 1), date(2026, 12, 2))
        assert qris.bank_reference == "J26120100999"
        assert qris.keys_of(KeyKind.QRIS_REFERENCE) == ("B20261201-NSK01",)

    def test_mandiri_continuation_rows_join_the_description(self) -> None:
        parsed = parse((SAMPLES / "bank-mandiri.csv").read_bytes(), "mandiri", account_id="1")
        first = parsed.lines[0]
        assert first.description == "TRANSFER VA 888100123456821 SKRD/2026/12/GADING/000101 SUMARNI"
        assert first.keys_of(KeyKind.BILL_NUMBER) == ("SKRD/2026/12/GADING/000101",)
        assert [ln.line_no for ln in parsed.lines] == [2, 4, 6, 7]

    def test_bank_jateng_windows_1252_text(self) -> None:
        parsed = parse((SAMPLES / "bank-jateng.csv").read_bytes(), "bank_jateng")
        assert "–" in parsed.lines[0].description
        assert parsed.account_id == "2001234567"
        assert parsed.lines[-1].signed_amount_idr == -7_500


class TestEncodingAndLayout:
    def test_windows_1252_file_refused_by_utf8_profile(self) -> None:
        data = bni(bni_row(text="SETORAN – PASAR")).decode().encode("cp1252")
        error = refusal(data, "bni", account_id="1")
        assert error.reason is RefusalReason.ENCODING
        assert error.expected == "utf-8"

    def test_utf8_file_refused_by_windows_1252_profile(self) -> None:
        text = (SAMPLES / "bank-jateng.csv").read_bytes().decode("cp1252")
        for data in (text.encode(), b"\xef\xbb\xbf" + text.encode()):
            error = refusal(data, "bank_jateng")
            assert (error.reason, error.found) == (RefusalReason.ENCODING, error.found)
            assert error.expected == "windows-1252"

    def test_wrong_delimiter_refused_with_both_named(self) -> None:
        data = (SAMPLES / "bank-bri.csv").read_bytes().replace(b";", b",")
        error = refusal(data, "bri", account_id="1")
        assert error.reason is RefusalReason.DELIMITER
        assert (error.expected, error.found) == ("';'", "','")

    def test_wrong_header_refused_with_expected_and_found(self) -> None:
        data = b"Tgl,Ket,Jumlah\n01/12/2026,X,100\n"
        error = refusal(data, "bni", account_id="1")
        assert error.reason is RefusalReason.HEADER
        assert "Post Date" in (error.expected or "")
        assert error.found == "Tgl | Ket | Jumlah"

    def test_duplicate_header_column_refused(self) -> None:
        data = (BNI_HEADER.rstrip("\n") + ",Credit\n").encode()
        assert refusal(data, "bni", account_id="1").reason is RefusalReason.HEADER

    def test_over_sized_refused(self) -> None:
        data = bni(*[bni_row(ref=f"J{i}") for i in range(20)])
        error = refusal(data, "bni", account_id="1", limits=Limits(max_bytes=500))
        assert error.reason is RefusalReason.TOO_LARGE

    def test_row_after_footer_refused(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes() + b"'03/12,'LATE,'0000,\"1.00 CR\",\r\n"
        error = refusal(data, "bca")
        assert error.reason is RefusalReason.MALFORMED
        assert error.line_no == 18

    def test_footer_not_adding_up_refused(self) -> None:
        data = (
            (SAMPLES / "bank-bca.csv")
            .read_bytes()
            .replace(b'"10,532,500.00"\r\n', b'"10,532,501.00"\r\n')
        )
        assert refusal(data, "bca").reason is RefusalReason.BALANCE_MISMATCH

    def test_missing_footer_refused(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes().split(b"Saldo Awal")[0]
        assert refusal(data, "bca").reason is RefusalReason.BALANCE_MISSING

    def test_period_unknown_refused(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes().replace(b"Periode", b"Tanggal Cetak")
        assert refusal(data, "bca").reason is RefusalReason.PERIOD_UNKNOWN

    def test_account_missing_and_mismatch(self) -> None:
        assert refusal(bni(bni_row()), "bni").reason is RefusalReason.ACCOUNT_MISSING
        data = (SAMPLES / "bank-bca.csv").read_bytes()
        assert refusal(data, "bca", account_id="999").reason is RefusalReason.ACCOUNT_MISMATCH

    def test_unbalanced_quote_refused(self) -> None:
        data = bni(bni_row(text='"unterminated'))
        assert refusal(data, "bni", account_id="1").reason is RefusalReason.MALFORMED


class TestLines:
    def test_impossible_date_quarantined(self) -> None:
        parsed = parse(bni(bni_row(), bni_row("31/02/2026", ref="J2")), "bni", account_id="1")
        assert (len(parsed.lines), len(parsed.rejected)) == (1, 1)
        rejected = parsed.rejected[0]
        assert (rejected.line_no, rejected.field, rejected.reason) == (
            3,
            "booking_date",
            LineReason.DATE_INVALID,
        )

    def test_fractional_amount_quarantined(self) -> None:
        parsed = parse(bni(bni_row(credit='"1,500.50"')), "bni", account_id="1")
        assert parsed.rejected[0].reason is LineReason.AMOUNT_FRACTION

    def test_wrong_grouping_is_not_read_as_a_bigger_amount(self) -> None:
        data = b"Tanggal;Uraian Transaksi;Debet;Kredit\n01/12/26;X;0,00;1500000.00\n"
        parsed = parse(data, "bri", account_id="1")
        assert parsed.rejected[0].reason is LineReason.AMOUNT_INVALID

    def test_debit_and_credit_both_filled_quarantined(self) -> None:
        parsed = parse(bni(bni_row(debit='"1,000.00"')), "bni", account_id="1")
        assert parsed.rejected[0].reason is LineReason.DIRECTION_INVALID

    def test_no_amount_quarantined(self) -> None:
        parsed = parse(bni(bni_row(credit="0.00")), "bni", account_id="1")
        assert parsed.rejected[0].reason is LineReason.AMOUNT_MISSING

    def test_unquoted_delimiter_in_text_quarantined(self) -> None:
        parsed = parse(bni(bni_row(text="JL. SLAMET RIYADI, SOLO")), "bni", account_id="1")
        assert parsed.rejected[0].reason is LineReason.COLUMNS

    def test_suffix_without_marker_quarantined(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes().replace(b'"6,500.00 DB"', b'"6,500.00"')
        error = refusal(data, "bca")  # the footer balance can no longer be proven
        assert error.reason is RefusalReason.LINE_AMOUNT_UNREADABLE
        assert error.line_no == 10

    def test_long_description_quarantined(self) -> None:
        parsed = parse(bni(bni_row(text="A" * 2_100)), "bni", account_id="1")
        assert parsed.rejected[0].reason is LineReason.FIELD_TOO_LONG

    def test_orphan_continuation_quarantined(self) -> None:
        data = (
            (SAMPLES / "bank-mandiri.csv")
            .read_bytes()
            .replace(b"Credit\n", b"Credit\n,,,,LOST TEXT,,,,\n", 1)
        )
        parsed = parse(data, "mandiri", account_id="1")
        assert parsed.rejected[0].reason is LineReason.ORPHAN_CONTINUATION
        assert parsed.lines_read == 5

    def test_year_end_period_resolves_dd_mm(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes()
        data = data.replace(b"'01/12", b"'30/12").replace(b"'02/12", b"'02/01")
        parsed = parse(data, "bca", period=(date(2026, 12, 28), date(2027, 1, 3)))
        assert parsed.lines[0].booking_date == date(2026, 12, 30)
        assert parsed.lines[-1].booking_date == date(2027, 1, 2)

    def test_date_outside_period_quarantined(self) -> None:
        data = (SAMPLES / "bank-bca.csv").read_bytes().replace(b"'02/12", b"'15/12")
        parsed = parse(data, "bca")
        assert {r.reason for r in parsed.rejected} == {
            LineReason.PENDING,
            LineReason.DATE_OUTSIDE_PERIOD,
        }

    def test_overlapping_export_shares_identities(self) -> None:
        rows = [bni_row(ref=f"J{i}", when=f"0{1 + i // 2}/12/2026") for i in range(4)]
        first = parse(bni(*rows[:3]), "bni", account_id="1")
        second = parse(bni(*rows[2:]), "bni", account_id="1")
        assert first.lines[2].identity == second.lines[0].identity


def workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


JATENG_ROWS: list[list[object]] = [
    ["Rekening", "2001234567"],
    [],
    ["Tanggal", "Keterangan", "No. Referensi", "Mutasi", "Saldo"],
    # Excel date cells carry no time zone.
    [datetime(2026, 12, 1), "VA 888100123456831 SKRD/2026/12/GEDE/000210", "R1", 158000, None],  # noqa: DTZ001
    ["01-12-2026", "Biaya", "R2", -7500.0, None],
    ["Saldo Awal", None, None, 1000, None],
    ["Saldo Akhir", None, None, 151500, None],
]


class TestXlsx:
    def test_the_sample_workbook_reads_as_its_csv_twin(self) -> None:
        book = parse((SAMPLES / "bank-jateng.xlsx").read_bytes(), "bank_jateng")
        text = parse((SAMPLES / "bank-jateng.csv").read_bytes(), "bank_jateng")
        assert book.format is FileFormat.BANK_XLSX and text.format is FileFormat.BANK_CSV
        assert (book.lines_read, len(book.lines), len(book.rejected)) == (4, 4, 0)
        assert (book.credit_total_idr, book.debit_total_idr) == (280_664, 7_500)
        assert (book.opening_balance_idr, book.closing_balance_idr) == (5_000_000, 5_273_164)
        assert [(ln.booking_date, ln.signed_amount_idr, ln.keys) for ln in book.lines] == [
            (ln.booking_date, ln.signed_amount_idr, ln.keys) for ln in text.lines
        ]

    def test_workbook_parses_with_date_and_number_cells(self) -> None:
        parsed = parse(workbook(("Mutasi", JATENG_ROWS)), "bank_jateng")
        assert parsed.format is FileFormat.BANK_XLSX
        assert [(ln.line_no, ln.signed_amount_idr) for ln in parsed.lines] == [
            (4, 158_000),
            (5, -7_500),
        ]
        assert parsed.lines[0].booking_date == date(2026, 12, 1)
        assert parsed.closing_balance_idr == 151_500

    def test_formula_row_quarantined(self) -> None:
        rows = [*JATENG_ROWS[:4], ["01-12-2026", "Biaya", "R2", "=-7500", None], *JATENG_ROWS[5:]]
        error = refusal(workbook(("Mutasi", rows)), "bank_jateng")
        assert error.reason is RefusalReason.LINE_AMOUNT_UNREADABLE  # balance unprovable
        profile = parse_profile(
            (PROFILE_DIR / "bank_jateng.toml")
            .read_text()
            .replace('opening_balance_label = "Saldo Awal"\n', "")
            .replace('closing_balance_label = "Saldo Akhir"\n', "")
        )
        parsed = parse_bank_statement(workbook(("Mutasi", rows)), profile)
        assert [r.reason for r in parsed.rejected] == [LineReason.FORMULA]

    def test_named_sheet_chosen_among_several(self) -> None:
        data = workbook(("Info", [["x"]]), ("Mutasi", JATENG_ROWS))
        assert len(parse(data, "bank_jateng").lines) == 2

    def test_several_sheets_without_a_name_refused(self) -> None:
        text = (PROFILE_DIR / "bank_jateng.toml").read_text().replace('sheet = "Mutasi"', "")
        profile = parse_profile(text)
        data = workbook(("Info", [["x"]]), ("Mutasi", JATENG_ROWS))
        with pytest.raises(ImportRefused) as caught:
            parse_bank_statement(data, profile)
        assert caught.value.reason is RefusalReason.SHEET

    def test_missing_sheet_refused(self) -> None:
        error = refusal(workbook(("Sheet1", JATENG_ROWS)), "bank_jateng")
        assert (error.reason, error.expected) == (RefusalReason.SHEET, "Mutasi")

    def test_workbook_for_csv_only_profile_refused(self) -> None:
        error = refusal(workbook(("Mutasi", JATENG_ROWS)), "bni", account_id="1")
        assert error.reason is RefusalReason.FORMAT_MISMATCH

    def test_broken_workbook_refused(self) -> None:
        error = refusal(b"PK\x03\x04" + b"\x00" * 200, "bank_jateng")
        assert error.reason is RefusalReason.XLSX_INVALID

    def test_zip_bomb_bound(self) -> None:
        data = workbook(("Mutasi", JATENG_ROWS))
        error = refusal(data, "bank_jateng", limits=Limits(max_uncompressed_bytes=1_000))
        assert error.reason is RefusalReason.TOO_LARGE


class TestProfiles:
    def test_five_example_profiles_ship(self) -> None:
        assert available_profiles() == ("bank_jateng", "bca", "bni", "bri", "mandiri")
        for profile_id in available_profiles():
            profile = load_profile(profile_id)
            assert profile.status is ProfileStatus.EXAMPLE
            first = (PROFILE_DIR / f"{profile_id}.toml").read_text().splitlines()[0]
            assert first.startswith("# EXAMPLE PROFILE - NOT A CONFIRMED")

    @pytest.mark.parametrize("name", ["nope", "../bca", "BCA"])
    def test_unknown_profile_refused(self, name: str) -> None:
        with pytest.raises(ImportRefused) as caught:
            load_profile(name)
        assert caught.value.reason is RefusalReason.PROFILE_UNKNOWN

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ('mode = "split"', 'mode = "signed"'),
            ('format = "DD/MM/YYYY"', 'format = "MM/DD/YYYY"'),
            ('delimiter = ","', 'delimiter = ",,"'),
            ('thousands = ","', 'thousands = "."'),
            ('id = "bni"', 'id = "../x"'),
            ("[csv]", "[csv"),
        ],
    )
    def test_invalid_profile_refused(self, old: str, new: str) -> None:
        text = (PROFILE_DIR / "bni.toml").read_text()
        assert old in text
        with pytest.raises(ImportRefused) as caught:
            parse_profile(text.replace(old, new))
        assert caught.value.reason is RefusalReason.PROFILE_INVALID


def test_a_workbook_claiming_an_unknown_zip_version_is_refused() -> None:
    """Found by the mutation property test: zipfile raises NotImplementedError, not BadZipFile."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    data = bytearray(buffer.getvalue())
    central = data.rindex(b"PK\x01\x02")
    data[central + 6] = 64  # "version needed to extract": 6.4, which zipfile cannot read
    with pytest.raises(ImportRefused) as caught:
        parse_bank_statement(bytes(data), load_profile("bank_jateng"))
    assert caught.value.reason is RefusalReason.XLSX_INVALID
