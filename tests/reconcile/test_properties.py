"""Properties: no input makes an importer fail in any way but ImportRefused, nothing is lost."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from reconcile.formats import (
    Direction,
    ImportRefused,
    ParsedFile,
    RefusalReason,
    line_identities,
    load_profile,
    parse_bank_statement,
    parse_camt053,
    parse_mt940,
    parse_qris_settlement,
)
from reconcile.formats.bank_csv import _number
from reconcile.formats.common import LineDraft

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
FUZZ = settings(max_examples=150)

Parser = Callable[[bytes], ParsedFile]
PARSERS: dict[str, tuple[Parser, str]] = {
    "mt940": (parse_mt940, "statement.mt940"),
    "camt053": (parse_camt053, "statement-camt053.xml"),
    "qris": (lambda data: parse_qris_settlement(data, acquirer_id="ACQ"), "qris-settlement.csv"),
    **{
        profile: (
            lambda data, p=profile: (
                parse_bank_statement(data, load_profile(p), account_id="1")
                if p in {"bni", "bri", "mandiri"}
                else parse_bank_statement(data, load_profile(p))
            ),
            sample,
        )
        for profile, sample in [
            ("bca", "bank-bca.csv"),
            ("bni", "bank-bni.csv"),
            ("bri", "bank-bri.csv"),
            ("mandiri", "bank-mandiri.csv"),
            ("bank_jateng", "bank-jateng.csv"),
        ]
    },
}


def check(parser: Parser, data: bytes) -> None:
    """The property: a ParsedFile that accounts for every line, or ImportRefused."""
    outcome: ParsedFile | ImportRefused
    try:
        outcome = parser(data)
    except ImportRefused as refused:
        outcome = refused
    if isinstance(outcome, ImportRefused):
        assert isinstance(outcome.reason, RefusalReason)
        return
    parsed = outcome
    assert parsed.lines_read == len(parsed.lines) + len(parsed.rejected)
    assert [ln.seq for ln in parsed.lines] == sorted(ln.seq for ln in parsed.lines)
    assert len({ln.identity for ln in parsed.lines}) == len(parsed.lines)
    assert all(ln.amount_idr > 0 for ln in parsed.lines)


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, position, chunk in edits:
        at = position % (len(out) + 1)
        if kind == 0:
            out[at : at + len(chunk)] = chunk  # overwrite
        elif kind == 1:
            out[at:at] = chunk  # insert
        else:
            del out[at : at + len(chunk) + 1]  # delete
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.binary(min_size=1, max_size=6)),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=2_000))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    check(PARSERS[name][0], data)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=500))
def test_arbitrary_bytes_as_workbook(name: str, data: bytes) -> None:
    check(PARSERS[name][0], b"PK\x03\x04" + data)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), edits=EDITS)
def test_mutated_samples(name: str, edits: list[tuple[int, int, bytes]]) -> None:
    parser, sample = PARSERS[name]
    check(parser, mutate((SAMPLES / sample).read_bytes(), edits))


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), line=st.integers(0, 40), copies=st.integers(1, 3))
def test_duplicated_or_dropped_lines(name: str, line: int, copies: int) -> None:
    parser, sample = PARSERS[name]
    lines = (SAMPLES / sample).read_bytes().splitlines(keepends=True)
    at = line % len(lines)
    check(parser, b"".join(lines[:at] + [lines[at]] * copies + lines[at + 1 :]))
    check(parser, b"".join(lines[:at] + lines[at + 1 :]))


AMOUNTS = st.lists(
    st.tuples(st.integers(1, 10**9), st.booleans(), st.sampled_from(["A", "B", "SKRD"])),
    max_size=25,
)


def mt940(lines: list[tuple[int, bool, str]], opening: int, closing_delta: int = 0) -> bytes:
    body = "".join(
        f":61:2612011201{'C' if credit else 'D'}{amount},00NTRFNONREF\n:86:{text}\n"
        for amount, credit, text in lines
    )
    closing = opening + sum(a if c else -a for a, c, _ in lines) + closing_delta
    mark = "C" if closing >= 0 else "D"
    return (
        ":20:S\n:25:ACC\n:28C:1\n"
        f":60F:C261130IDR{opening},00\n{body}:62F:{mark}261201IDR{abs(closing)},00\n"
    ).encode()


@FUZZ
@given(lines=AMOUNTS, opening=st.integers(0, 10**12))
def test_generated_statements_balance_and_keep_every_line(
    lines: list[tuple[int, bool, str]], opening: int
) -> None:
    parsed = parse_mt940(mt940(lines, opening))
    assert parsed.lines_read == len(parsed.lines) == len(lines)
    assert parsed.credit_total_idr == sum(a for a, c, _ in lines if c)
    assert parsed.debit_total_idr == sum(a for a, c, _ in lines if not c)
    # identical lines (same amount, direction, text) stay distinct
    assert len({ln.identity for ln in parsed.lines}) == len(lines)


@FUZZ
@given(lines=AMOUNTS, opening=st.integers(0, 10**12), delta=st.integers(-1000, 1000).filter(bool))
def test_generated_statements_off_by_any_amount_are_refused(
    lines: list[tuple[int, bool, str]], opening: int, delta: int
) -> None:
    with pytest.raises(ImportRefused) as caught:
        parse_mt940(mt940(lines, opening, delta))
    assert caught.value.reason is RefusalReason.BALANCE_MISMATCH


DRAFTS = st.lists(
    st.builds(
        LineDraft,
        line_no=st.just(1),
        booking_date=st.sampled_from([date(2026, 12, 1), date(2026, 12, 2)]),
        value_date=st.just(date(2026, 12, 1)),
        amount_idr=st.sampled_from([2_000, 3_000, 5_000]),
        direction=st.sampled_from(list(Direction)),
        description=st.sampled_from(["RETRIBUSI", "retribusi ", "BIAYA"]),
        bank_reference=st.sampled_from([None, "FT1", "FT2"]),
    ),
    max_size=30,
)


@FUZZ
@given(drafts=DRAFTS, cut=st.integers(0, 30))
def test_identities_unique_and_stable_under_prefix(drafts: list[LineDraft], cut: int) -> None:
    identities = line_identities("ACC", drafts)
    assert len(set(identities)) == len(identities)
    assert line_identities("ACC", drafts[:cut]) == identities[:cut]


@FUZZ
@given(
    amount_idr=st.integers(0, 10**12),
    convention=st.sampled_from([("bri", ".", ","), ("bni", ",", ".")]),
    decimals=st.sampled_from(["", "00", "0"]),
)
def test_amount_conventions_round_trip(
    amount_idr: int, convention: tuple[str, str, str], decimals: str
) -> None:
    profile_id, thousands, decimal = convention
    grouped = f"{amount_idr:,}".replace(",", thousands)
    text = grouped + (decimal + decimals if decimals else "")
    assert _number(text, load_profile(profile_id)) == Decimal(amount_idr)
    # the other convention never reads it as a different whole amount
    plain = str(amount_idr) + ("." + decimals if decimals else "")
    assert _number(plain, load_profile("bri")) in (None, Decimal(amount_idr))


def _workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Mutasi"
    for row in [
        ["Rekening", "2001234567"],
        ["Tanggal", "Keterangan", "No. Referensi", "Mutasi"],
        ["01-12-2026", "VA 888100123456831", "R1", 158000],
        ["02-12-2026", "Biaya", "R2", "-7.500,00"],
        ["Saldo Awal", None, None, 0],
        ["Saldo Akhir", None, None, 150500],
    ]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


WORKBOOK = _workbook()


@settings(max_examples=60)
@given(edits=EDITS)
def test_mutated_workbooks(edits: list[tuple[int, int, bytes]]) -> None:
    check(PARSERS["bank_jateng"][0], mutate(WORKBOOK, edits))


def test_the_fuzzed_workbook_is_valid() -> None:
    parsed = PARSERS["bank_jateng"][0](WORKBOOK)
    assert [ln.signed_amount_idr for ln in parsed.lines] == [158_000, -7_500]
