"""The import service on a real database: idempotent files and lines, statement continuity,
quarantine, and bad files refused whole through the CLI, with nothing half-imported."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from reconcile.importing import ImportSummary, import_file, import_files
from reconcile.models import (
    ImportedFile,
    Line,
    RejectedLine,
    SettlementBatch,
    Statement,
)
from retribusi.errors import ValidationFailed
from retribusi.extensions import db
from retribusi.levy.errors import reason_of
from tests.reconcile import factories as rf

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        yield


def counts() -> tuple[int, ...]:
    return tuple(
        int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
        for model in (ImportedFile, Statement, SettlementBatch, Line, RejectedLine)
    )


def refused(data: bytes, fmt: str, reason: str, **kwargs: Any) -> dict[str, Any]:
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        import_file(data, fmt, actor="test", **kwargs)
    db.session.rollback()
    assert reason_of(caught.value) == reason, caught.value.details
    assert counts() == before, "nothing of a refused file may be stored"
    item: dict[str, Any] = caught.value.details["errors"][0]
    return item


def test_the_same_file_twice_changes_nothing() -> None:
    data = (SAMPLES / "statement.mt940").read_bytes()
    first = import_file(data, "mt940", actor="test", file_name="a.sta")
    assert (first.lines_read, first.lines_new, first.statements_new) == (6, 6, 1)
    before = counts()
    second = import_file(data, "mt940", actor="test", file_name="again.sta")
    assert second.seen_before and second.file_id == first.file_id
    assert (second.lines_new, second.lines_known) == (0, 6)
    assert counts() == before


def test_an_overlapping_export_adds_only_its_new_lines() -> None:
    head = "Post Date,Value Date,Branch,Journal No.,Description,Debit,Credit\n"

    def row(day: int, ref: str, amount: int) -> str:
        when = f"0{day}/12/2026"
        text = f"TRF VA 8881001234{day}{ref[-3:]}"
        return f'{when} 08:00:00,{when},0123,{ref},{text},0.00,"{amount:,}.00"\n'

    days_1_2 = head + row(1, "J001", 75_000) + row(2, "J002", 3_000) + row(2, "J003", 3_000)
    days_2_3 = head + row(2, "J002", 3_000) + row(2, "J003", 3_000) + row(3, "J004", 158_000)
    a = import_file(days_1_2.encode(), "bank_csv", actor="test", profile="bni", account_id="77")
    b = import_file(days_2_3.encode(), "bank_csv", actor="test", profile="bni", account_id="77")
    assert (a.lines_new, a.lines_known) == (3, 0)
    assert (b.lines_read, b.lines_new, b.lines_known) == (3, 1, 2)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Line)) == 4


def test_identical_lines_without_reference_stay_two_lines() -> None:
    data = (SAMPLES / "bank-bca.csv").read_bytes()
    summary = import_file(data, "bank_csv", actor="test", profile="bca")
    identities = list(db.session.scalars(sa.select(Line.identity).where(Line.amount_idr == 3_000)))
    assert summary.lines_new == 6 and len(identities) == 2 and len(set(identities)) == 2
    assert {i[-2:] for i in identities} == {"#0", "#1"}


def test_statements_continue_from_the_last_one_stored() -> None:
    day1 = rf.Mt940(number=330, day=date(2026, 11, 20)).credit(75_000, "TRF VA 8881")
    import_file(day1.render(), "mt940", actor="test")
    day2 = day1.next(date(2026, 11, 23)).credit(3_000, "TRF VA 8882")
    assert import_file(day2.render(), "mt940", actor="test").statements_new == 1
    # 331 then 333: 332 is missing.
    gap = day2.next(date(2026, 11, 24)).next(date(2026, 11, 25)).credit(1_000, "X")
    item = refused(gap.render(), "mt940", "statement_gap")
    assert item["expected"] == "332" and item["found"] == "333/1"
    # 332 opening at another balance than 331 closed.
    wrong = rf.Mt940(number=332, opening_idr=day2.closing_idr + 1, day=date(2026, 11, 24))
    refused(wrong.credit(1_000, "X").render(), "mt940", "balance_discontinuity")
    # 331 again, but with other balances: the bank cannot have two statements 331.
    other = rf.Mt940(number=331, opening_idr=day1.closing_idr, day=date(2026, 11, 23))
    refused(other.credit(9_000, "Y").render(), "mt940", "statement_conflict")


def test_several_files_are_stored_in_their_order_by_two_workers() -> None:
    """Each worker parses while the other stores; a statement chain only holds if the files are
    stored in the order given, and a refused file in the middle stores nothing of itself."""
    day1 = rf.Mt940(number=330, day=date(2026, 11, 20)).credit(75_000, "TRF VA 8881", ref="FTA1")
    day2 = day1.next(date(2026, 11, 23)).credit(3_000, "TRF VA 8882", ref="FTA2")
    day3 = day2.next(date(2026, 11, 24)).credit(5_000, "TRF VA 8883", ref="FTA3")
    day4 = day3.next(date(2026, 11, 25)).credit(7_500, "TRF VA 8884", ref="FTA4")
    files = [
        ("330.sta", day1.render()),
        ("331.sta", day2.render()),
        ("332-bad.sta", day3.render(closing_idr=1)),
        ("332.sta", day3.render()),
        ("333.sta", day4.render()),
        ("331-again.sta", day2.render()),
    ]
    results = import_files(files, "mt940", actor="test", jobs=2)
    assert isinstance(results[2], ValidationFailed), results[2]
    assert reason_of(results[2]) == "balance_mismatch"
    assert results[2].details["errors"][0]["field"] == "file"  # whole, across the process
    summaries = [r for i, r in enumerate(results) if i != 2 and isinstance(r, ImportSummary)]
    assert len(summaries) == 5, results
    *new, again = summaries
    assert again.seen_before and again.file_id == new[1].file_id
    assert [s.file_name for s in summaries] == [
        "330.sta",
        "331.sta",
        "332.sta",
        "333.sta",
        "331.sta",
    ]
    ids = [s.file_id or 0 for s in new]
    assert ids == sorted(ids) and [s.lines_new for s in new] == [1, 1, 1, 1]
    numbers = db.session.scalars(sa.select(Statement.number).order_by(Statement.id)).all()
    assert numbers == [330, 331, 332, 333]
    assert counts()[:2] == (4, 4)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Line)) == 4


def test_several_files_in_one_process_give_the_same_result() -> None:
    day1 = rf.Mt940(number=330, day=date(2026, 11, 20)).credit(75_000, "TRF VA 8881", ref="FTA1")
    day2 = day1.next(date(2026, 11, 23)).credit(3_000, "TRF VA 8882", ref="FTA2")
    results = import_files(
        [("a.sta", day1.render()), ("b.sta", day2.render())], "mt940", actor="test", jobs=1
    )
    assert [r.lines_new for r in results if isinstance(r, ImportSummary)] == [1, 1]
    assert db.session.scalars(sa.select(Statement.number).order_by(Statement.id)).all() == [
        330,
        331,
    ]


def test_a_file_repeating_a_stored_statement_adds_the_next_one() -> None:
    day1 = rf.Mt940(number=330, day=date(2026, 11, 20)).credit(75_000, "TRF VA 8881", ref="FTA1")
    import_file(day1.render(), "mt940", actor="test")
    day2 = day1.next(date(2026, 11, 23)).credit(3_000, "TRF VA 8882", ref="FTA2")
    both = day1.render() + day2.render()
    summary = import_file(both, "mt940", actor="test")
    assert (summary.statements_known, summary.statements_new) == (1, 1)
    assert (summary.lines_known, summary.lines_new) == (1, 1)


def test_a_line_with_an_impossible_date_is_quarantined_with_its_reason() -> None:
    text = rf.Mt940(number=330).credit(75_000, "TRF VA 8881").credit(3_000, "X").render()
    # The second :61: books on 31 November: impossible, still counted in the balance proof.
    lines = text.decode().split("\n")
    index = [i for i, ln in enumerate(lines) if ln.startswith(":61:")][1]
    lines[index] = ":61:2611311131" + lines[index][14:]
    summary = import_file("\n".join(lines).encode(), "mt940", actor="test")
    assert (summary.lines_read, summary.lines_new, summary.lines_rejected) == (2, 1, 1)
    rejected = db.session.scalars(sa.select(RejectedLine)).one()
    assert (rejected.reason, rejected.field) == ("date_invalid", "61.date")
    assert rejected.line_no == index + 1


def test_a_dry_run_import_stores_nothing() -> None:
    data = (SAMPLES / "qris-settlement.csv").read_bytes()
    summary = import_file(data, "qris_settlement", actor="test", acquirer_id="acq", dry_run=True)
    assert summary.dry_run and summary.lines_new == 5 and summary.batches_new == 2
    assert counts() == (0, 0, 0, 0, 0)


def test_a_settlement_batch_is_stored_once_and_never_changed() -> None:
    data = (SAMPLES / "qris-settlement.csv").read_bytes()
    import_file(data, "qris_settlement", actor="test", acquirer_id="acq")
    changed = data.replace(b"30000.00,210.00,29790.00", b"30000.00,200.00,29800.00").replace(
        b"263000.00,1841.00,261159.00", b"263000.00,1831.00,261169.00"
    )
    refused(changed, "qris_settlement", "batch_conflict", acquirer_id="acq")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol3;</Document>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&xxe;</Document>"""


def _bad_files(tmp_path: Path) -> list[tuple[str, bytes, list[str], str]]:
    statement = rf.Mt940(number=330).credit(75_000, "TRF VA 8881")
    jateng = (SAMPLES / "bank-jateng.csv").read_bytes().decode("cp1252")
    bri = (SAMPLES / "bank-bri.csv").read_text(encoding="utf-8").replace(";", ",")
    return [
        (
            "no-closing.sta",
            statement.render(with_closing=False),
            ["--format", "mt940"],
            "balance_missing",
        ),
        (
            "unbalanced.sta",
            statement.render(closing_idr=1),
            ["--format", "mt940"],
            "balance_mismatch",
        ),
        ("laughs.xml", BILLION_LAUGHS, ["--format", "camt053"], "xml_forbidden"),
        ("xxe.xml", XXE, ["--format", "camt053"], "xml_forbidden"),
        (
            "jateng-utf8.csv",
            jateng.replace("SAMPLE", "SAMPLÉ").encode("utf-8"),
            ["--format", "bank_csv", "--profile", "bank_jateng"],
            "encoding",
        ),
        (
            "bri-commas.csv",
            bri.encode(),
            ["--format", "bank_csv", "--profile", "bri", "--account", "1"],
            "delimiter",
        ),
        (
            "empty.csv",
            b"\n\n",
            ["--format", "bank_csv", "--profile", "bni", "--account", "1"],
            "empty",
        ),
    ]


def test_bad_files_are_refused_by_the_cli_naming_the_reason(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    for name, content, options, reason in _bad_files(tmp_path):
        path = tmp_path / name
        path.write_bytes(content)
        before = counts()
        result = runner.invoke(args=["reconcile", "import", str(path), *options, "--json"])
        assert result.exit_code == 1, (name, result.output)
        body = json.loads(result.output)
        assert body["ok"] is False and body["details"]["errors"][0]["reason"] == reason, name
        assert counts() == before, name
        human = runner.invoke(args=["reconcile", "import", str(path), *options])
        assert human.exit_code == 1 and "error:" in human.output, name


def test_an_oversized_file_is_refused_before_it_is_read(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from reconcile.formats.common import MAX_FILE_BYTES

    path = tmp_path / "huge.sta"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    result = runner.invoke(args=["reconcile", "import", str(path), "--format", "mt940", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["details"]["errors"][0]["reason"] == "too_large"
    assert counts() == (0, 0, 0, 0, 0)


def test_the_service_refuses_a_file_over_its_bound() -> None:
    refused(b"x" * 101, "mt940", "too_large", max_bytes=100)


def test_unknown_format_and_missing_profile_are_refused() -> None:
    refused(b"a,b\n", "ofx", "profile_unknown")
    refused(b"a,b\n", "bank_csv", "profile_unknown")
    refused(b"a,b\n", "bank_csv", "profile_unknown", profile="no_such_bank")
    with pytest.raises(ValidationFailed) as caught:
        import_file(b"x\n", "qris_settlement", actor="test", acquirer_id="bad id!")
    assert reason_of(caught.value) == "invalid"


def test_a_file_seen_before_is_reported_by_the_cli(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "s.sta"
    path.write_bytes((SAMPLES / "statement.mt940").read_bytes())
    first = runner.invoke(args=["reconcile", "import", str(path), "--format", "mt940"])
    assert first.exit_code == 0 and "6 new" in first.output
    again = runner.invoke(args=["reconcile", "import", str(path), "--format", "mt940"])
    assert again.exit_code == 0 and "seen before" in again.output


def test_the_cli_imports_several_files_and_names_the_refused_one(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    day1 = rf.Mt940(number=330, day=date(2026, 11, 20)).credit(75_000, "TRF VA 8881", ref="FTA1")
    day2 = day1.next(date(2026, 11, 23)).credit(3_000, "TRF VA 8882", ref="FTA2")
    paths = []
    for name, data in (
        ("330.sta", day1.render()),
        ("bad.sta", day2.render(with_closing=False)),
        ("331.sta", day2.render()),
    ):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    args = ["reconcile", "import", *map(str, paths), "--format", "mt940"]
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.output)
    assert body["ok"] is False
    assert [(f["ok"], f["file_name"]) for f in body["files"]] == [
        (True, "330.sta"),
        (False, "bad.sta"),
        (True, "331.sta"),
    ]
    assert body["files"][1]["details"]["errors"][0]["reason"] == "balance_missing"
    assert [f.get("lines_new") for f in body["files"]] == [1, None, 1]
    again = runner.invoke(args=[*args, "--jobs", "1"])
    assert again.exit_code == 1
    assert again.output.count("seen before") == 2 and "error: bad.sta:" in again.output


def test_a_worker_that_fails_unexpectedly_stops_the_import_and_stores_nothing_half() -> None:
    """Not a refusal but a bug (here: a period of numbers, not dates, which no caller sends): the
    worker's traceback is raised in the caller, and a file is stored whole or not at all."""
    head = "Post Date,Value Date,Branch,Journal No.,Description,Debit,Credit\n"
    row = '01/12/2026 08:00:00,01/12/2026,0123,J1,TRF VA 8881,0.00,"1,000.00"\n'
    files = [("a.csv", (head + row).encode()), ("b.csv", (head + row + row).encode())]
    with pytest.raises(RuntimeError, match=r"(?s)an import worker failed:\n.*AttributeError"):
        import_files(
            files, "bank_csv", actor="t", profile="bni", account_id="1", period=(1, 2), jobs=2
        )
    db.session.rollback()
    assert counts() == (0, 0, 0, 0, 0)


def test_the_cli_refuses_bad_jobs_and_an_oversized_file_among_several(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from reconcile.formats.common import MAX_FILE_BYTES

    good = tmp_path / "s.sta"
    good.write_bytes((SAMPLES / "statement.mt940").read_bytes())
    huge = tmp_path / "huge.sta"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    for jobs in ("0", "9", "two"):
        args = ["reconcile", "import", str(good), "--format", "mt940", "--jobs", jobs]
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and "--jobs" in result.output, (jobs, result.output)
    assert counts() == (0, 0, 0, 0, 0)
    args = ["reconcile", "import", str(huge), str(good), "--format", "mt940", "--json"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    first, second = json.loads(result.output)["files"]
    assert (first["ok"], first["file_name"]) == (False, "huge.sta")
    assert first["details"]["errors"][0]["reason"] == "too_large"
    assert (second["ok"], second["lines_new"]) == (True, 6)
