"""QRIS settlement reports: the sample, batch proofs, row quarantine and refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconcile.formats import (
    FileFormat,
    ImportRefused,
    KeyKind,
    LineReason,
    RefusalReason,
    parse_file,
    parse_qris_settlement,
)
from reconcile.formats.qris_settlement import COLUMNS

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "qris-settlement.csv"
HEADER = ",".join(COLUMNS)
WIB = timezone(timedelta(hours=7))


def trx(
    rrn: str = "1",
    gross: str = "10000.00",
    fee: str = "70.00",
    net: str = "9930.00",
    batch: str = "B1",
    time: str = "2026-12-01T08:00:00+07:00",
) -> str:
    where = f"{batch},2026-12-02,ID1020017611473"
    return f"TRX,{where},{rrn},L{rrn},SKRD/2026/12/GEDE/{rrn},{time},{gross},{fee},{net},"


def total(
    gross: str = "20000.00",
    fee: str = "140.00",
    net: str = "19860.00",
    count: str = "2",
    batch: str = "B1",
) -> str:
    return f"BATCH,{batch},2026-12-02,ID1020017611473,,,,,{gross},{fee},{net},{count}"


def report(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows, ""]).encode()


def refusal(data: bytes) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        parse_qris_settlement(data, acquirer_id="ACQ")
    return caught.value


class TestSample:
    def test_counts_batches_and_totals(self) -> None:
        parsed = parse_file(SAMPLE.read_bytes(), FileFormat.QRIS_SETTLEMENT, acquirer_id="ACQ")
        assert (parsed.lines_read, len(parsed.lines), len(parsed.rejected)) == (5, 5, 0)
        assert [
            (b.batch_id, b.transaction_count, b.gross_idr, b.fee_idr, b.net_idr)
            for b in parsed.batches
        ] == [
            ("B20261201-KLW01", 3, 263_000, 1_841, 261_159),
            ("B20261201-GED01", 2, 48_000, 336, 47_664),
        ]
        assert sum(line.net_idr for line in parsed.lines) == 261_159 + 47_664
        assert parsed.account_id == "ACQ"

    def test_line_fields(self) -> None:
        line = parse_qris_settlement(SAMPLE.read_bytes(), acquirer_id="ACQ").lines[0]
        assert (line.amount_idr, line.fee_idr, line.net_idr) == (158_000, 1_106, 156_894)
        assert line.bank_reference == "633412345601"
        assert line.transaction_time == datetime(2026, 11, 30, 8, 15, 22, tzinfo=WIB)
        assert (line.booking_date, line.value_date) == (date(2026, 11, 30), date(2026, 12, 1))
        assert line.keys_of(KeyKind.BILL_NUMBER) == ("SKRD/2026/11/KLEWER/000088",)
        assert line.keys_of(KeyKind.QRIS_REFERENCE) == ("KLW-000088",)
        assert line.keys_of(KeyKind.NMID) == ("ID1020017611473",)
        assert line.identity.startswith("ref:")

    def test_the_mt940_sample_credit_is_the_first_batch_net(self) -> None:
        statement = (SAMPLE.parent / "statement.mt940").read_text()
        assert ":61:2612011201C261159,00" in statement
        assert "B20261201-KLW01" in statement


class TestBatchProofs:
    def test_batch_not_adding_up_refused_with_batch_id(self) -> None:
        error = refusal(report(trx("1"), trx("2"), total(net="19861.00")))
        assert error.reason is RefusalReason.BATCH_MISMATCH
        assert error.subject == "B1"
        assert "B1" in error.message

    def test_batch_gross_fee_and_count_checked(self) -> None:
        for row in (total(gross="20001.00", net="19861.00"), total(count="3")):
            assert refusal(report(trx("1"), trx("2"), row)).reason is RefusalReason.BATCH_MISMATCH

    def test_transactions_without_total_row_refused(self) -> None:
        error = refusal(report(trx("1"), trx("2")))
        assert (error.reason, error.subject) == (RefusalReason.BATCH_MISSING, "B1")

    def test_total_row_without_transactions_refused(self) -> None:
        error = refusal(report(trx("1"), trx("2"), total(), total(batch="B2")))
        assert (error.reason, error.subject) == (RefusalReason.BATCH_MISSING, "B2")

    def test_duplicate_total_row_refused(self) -> None:
        error = refusal(report(trx("1"), trx("2"), total(), total()))
        assert error.reason is RefusalReason.BATCH_DUPLICATE

    def test_fractional_amount_makes_batch_unverifiable(self) -> None:
        rows = (trx("1", fee="70.50", net="9929.50"), trx("2"), total())
        error = refusal(report(*rows))
        assert (error.reason, error.line_no) == (RefusalReason.BATCH_UNVERIFIABLE, 2)

    def test_unreadable_total_row_refused(self) -> None:
        error = refusal(report(trx("1"), trx("2"), total(net="abc")))
        assert error.reason is RefusalReason.BATCH_UNVERIFIABLE

    def test_mixed_settlement_date_in_a_batch_refused(self) -> None:
        other = trx("2").replace("2026-12-02", "2026-12-03")
        assert refusal(report(trx("1"), other, total())).reason is RefusalReason.BATCH_MISMATCH


class TestRows:
    def test_negative_amounts_make_the_batch_unverifiable(self) -> None:
        rows = (
            trx("1", gross="100.00", fee="200.00", net="-100.00"),
            trx("2", gross="19900.00", fee="-60.00", net="19960.00"),
        )
        assert refusal(report(*rows, total())).reason is RefusalReason.BATCH_UNVERIFIABLE

    def test_fee_above_gross_refuses_through_the_batch_proof(self) -> None:
        rows = (trx("1", gross="100.00", fee="150.00", net="0.00"), trx("2"))
        error = refusal(report(*rows, total(gross="10100.00", fee="220.00", net="9930.00")))
        assert error.reason is RefusalReason.BATCH_MISMATCH

    def test_bad_rows_quarantined_but_counted_in_the_batch(self) -> None:
        rows = (
            trx("1", gross="100.00", fee="150.00", net="0.00"),
            trx("2", gross="19900.00", fee="0.00", net="19850.00"),
        )
        parsed = parse_qris_settlement(
            report(*rows, total(gross="20000.00", fee="150.00", net="19850.00")), acquirer_id="A"
        )
        assert [r.reason for r in parsed.rejected] == [
            LineReason.FEE_EXCEEDS_GROSS,
            LineReason.NET_MISMATCH,
        ]
        assert parsed.lines_read == 2
        assert parsed.batches[0].net_idr == 19_850

    def test_bad_time_and_missing_rrn_quarantined(self) -> None:
        rows = (trx("1", time="2026-12-01 08:00:00"), trx("2").replace(",2,L2,", ",,L2,"))
        parsed = parse_qris_settlement(report(*rows, total()), acquirer_id="A")
        assert [(r.field, r.reason) for r in parsed.rejected] == [
            ("transaction_time", LineReason.DATE_INVALID),
            ("rrn", LineReason.FIELD_MISSING),
        ]

    def test_unknown_record_type_is_a_quarantined_line(self) -> None:
        parsed = parse_qris_settlement(
            report(trx("1"), trx("2"), total(), "XYZ,B9"), acquirer_id="A"
        )
        assert parsed.lines_read == 3
        assert parsed.rejected[0].reason is LineReason.FIELD_INVALID

    def test_extra_column_makes_the_batch_unverifiable(self) -> None:
        error = refusal(report(trx("1") + ",surprise", trx("2"), total()))
        assert (error.reason, error.line_no) == (RefusalReason.BATCH_UNVERIFIABLE, 2)

    def test_row_without_batch_quarantined(self) -> None:
        parsed = parse_qris_settlement(
            report(trx("1"), trx("2"), total(), trx("3", batch="")), acquirer_id="A"
        )
        assert [(r.field, r.reason) for r in parsed.rejected] == [
            ("batch_id", LineReason.FIELD_MISSING)
        ]


class TestFile:
    def test_wrong_header_refused(self) -> None:
        error = refusal(b"type,batch\nTRX,B1\n")
        assert error.reason is RefusalReason.HEADER
        assert error.expected == HEADER

    def test_wrong_delimiter_refused(self) -> None:
        error = refusal(SAMPLE.read_bytes().replace(b",", b";"))
        assert error.reason is RefusalReason.DELIMITER

    def test_acquirer_id_required(self) -> None:
        with pytest.raises(ImportRefused) as caught:
            parse_file(SAMPLE.read_bytes(), FileFormat.QRIS_SETTLEMENT)
        assert caught.value.reason is RefusalReason.ACCOUNT_MISSING
