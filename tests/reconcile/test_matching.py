"""The matching rules on a real database, with payments made through the ledger: VA, reference,
QRIS by reference and by bill number, settlement batches with their MDR, cash deposits, and what
is left becoming typed exceptions under stable ids."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.ledger import reverse_payment
from reconcile.importing import import_file
from reconcile.models import (
    Claim,
    ExceptionStatus,
    ExceptionType,
    ImportedFile,
    Line,
    Match,
    ReconException,
    Run,
)
from reconcile.runs import RunResult, run_reconciliation
from retribusi import clock
from retribusi.extensions import db
from retribusi.levy.models import Bill
from tests.reconcile import factories as rf

MONDAY = rf.DAY  # 2026-11-23


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        yield


@pytest.fixture
def bills() -> list[Bill]:
    return rf.bills_for("KLEWER", "KLEWER", "GEDE", "GEDE", "LEGI")


def load(data: bytes, fmt: str = "mt940", **kwargs: Any) -> None:
    import_file(data, fmt, actor="test", **kwargs)


def run(**kwargs: Any) -> RunResult:
    return run_reconciliation(actor="test", **kwargs)


def standing() -> dict[str, ReconException]:
    """Standing exceptions by a readable key: the line's description or the subject kind+id."""
    db.session.expire_all()
    found: dict[str, ReconException] = {}
    for exc in db.session.scalars(
        sa.select(ReconException).where(ReconException.status != ExceptionStatus.RESOLVED)
    ):
        if exc.line_id is not None:
            line = db.session.get(Line, exc.line_id)
            assert line is not None
            found[line.description] = exc
        else:
            found[f"{exc.subject.value}:{exc.payment_id or exc.deposit_id or exc.batch_id}"] = exc
    return found


def counts() -> dict[str, int]:
    return {
        name: int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
        for name, model in (("claims", Claim), ("matches", Match), ("runs", Run))
    }


def test_va_credits_match_by_number_amount_and_business_day_window(
    bills: list[Bill], frozen_clock: clock.FrozenClock
) -> None:
    friday = MONDAY - timedelta(days=3)
    frozen_clock.set(rf.at(friday, 12))
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(friday, 9))
    rf.va_payment(bills[1], 157_500, va="88810000000002", paid_at=rf.at(friday, 9))
    frozen_clock.set(rf.at(MONDAY + timedelta(days=4), 12))
    # Friday's payments booked Wednesday (3 business days: in the window) and the next Friday
    # (5 business days: outside it).
    wednesday = rf.Mt940(day=MONDAY + timedelta(days=2)).credit(157_500, "TRF VA 88810000000001")
    load(wednesday.render())
    late = wednesday.next(MONDAY + timedelta(days=4)).credit(157_500, "TRF VA 88810000000002")
    load(late.render())
    result = run()
    assert result.matched == {"va": {"count": 1, "amount_idr": 157_500}}
    left = standing()
    assert left["TRF VA 88810000000002"].type is ExceptionType.UNKNOWN_CREDIT
    assert left[f"payment:{2}"].type is ExceptionType.MISSING_BANK_LINE


def test_amount_mismatch_duplicate_and_stable_ids(bills: list[Bill]) -> None:
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    rf.va_payment(bills[1], 100_000, va="88810000000002", paid_at=rf.at(MONDAY, 8))
    statement = (
        rf.Mt940()
        .credit(157_500, "TRF VA 88810000000001 PERTAMA")
        .credit(157_500, "TRF VA 88810000000001 KEDUA")
        .credit(90_000, "TRF VA 88810000000002")
    )
    load(statement.render())
    first = run()
    assert first.matched_count == 1
    left = standing()
    # Which of two lines the rule cannot tell apart is paired is fixed by their identities.
    (duplicate,) = [e for k, e in left.items() if k.startswith("TRF VA 88810000000001 ")]
    mismatch = left["TRF VA 88810000000002"]
    assert duplicate.type is ExceptionType.DUPLICATE
    assert duplicate.detail["of_lines"][0].startswith("line:bank:1380012345678:ref:")
    assert (mismatch.type, mismatch.difference_idr) == (ExceptionType.AMOUNT_MISMATCH, -10_000)
    assert mismatch.detail["candidates"][0]["amount_idr"] == 100_000
    ids = {key: exc.id for key, exc in left.items()}
    second = run()
    assert second.matched_count == 0 and (second.opened, second.resolved) == (0, 0)
    assert {key: exc.id for key, exc in standing().items()} == ids
    assert all(exc.id.startswith("RX-") and len(exc.id) == 23 for exc in left.values())


def test_identical_tickets_match_one_to_one(bills: list[Bill]) -> None:
    for minute in (1, 2):
        rf.va_payment(bills[4], 3_000, va="88810000000005", paid_at=rf.at(MONDAY, 8, minute))
    statement = (
        rf.Mt940().credit(3_000, "TRF VA 88810000000005").credit(3_000, "TRF VA 88810000000005")
    )
    load(statement.render())
    result = run()
    assert result.matched == {"va": {"count": 2, "amount_idr": 6_000}}
    assert standing() == {}


def test_an_ambiguous_group_is_left_to_a_person(
    bills: list[Bill], frozen_clock: clock.FrozenClock
) -> None:
    tuesday = MONDAY + timedelta(days=1)
    rf.va_payment(bills[0], 75_000, va="88810000000009", paid_at=rf.at(MONDAY, 8))
    frozen_clock.set(rf.at(tuesday, 12))
    rf.va_payment(bills[0], 75_000, va="88810000000009", paid_at=rf.at(tuesday, 8))
    # Monday's line can only be Monday's payment; Tuesday's could be either.
    load(rf.Mt940(day=MONDAY).credit(75_000, "TRF VA 88810000000009 SENIN").render())
    load(
        rf.Mt940(number=331, day=tuesday, opening_idr=10_075_000)
        .credit(75_000, "TRF VA 88810000000009 SELASA")
        .render()
    )
    result = run()
    assert result.matched_count == 0
    left = standing()
    assert left["TRF VA 88810000000009 SENIN"].type is ExceptionType.AMBIGUOUS
    assert len(left["TRF VA 88810000000009 SELASA"].detail["candidates"]) == 2


def test_references_match_settlement_and_bank_lines(bills: list[Bill]) -> None:
    rf.qris_payment(bills[0], 157_500, rrn="633400000001", paid_at=rf.at(MONDAY, 9))
    rf.va_payment(bills[1], 50_000, va="77700000000001", paid_at=rf.at(MONDAY, 9), ref="PRQ-XYZ-1")
    settlement = (
        rf.Settlement()
        .batch("B20261123-01", MONDAY)
        .transaction("633400000001", bills[0].number, rf.at(MONDAY, 9), 157_500)
    )
    load(settlement.render(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    # A bank that writes the payment request id where MT940 keeps the customer reference.
    text = rf.Mt940().credit(50_000, "TRANSFER MASUK").render().decode()
    text = text.replace("NTRFNONREF//", "NTRFPRQ-XYZ-1//")
    load(text.encode())
    result = run()
    assert result.matched == {"reference": {"count": 2, "amount_idr": 207_500}}


def test_qris_settlement_line_by_bill_number_when_the_reference_is_unknown(
    bills: list[Bill],
) -> None:
    rf.qris_payment(bills[2], 157_500, rrn="633400000077", paid_at=rf.at(MONDAY, 9))
    # The acquirer reports its own RRN, not the one the notification carried.
    settlement = (
        rf.Settlement()
        .batch("B20261123-02", MONDAY)
        .transaction("999999999999", bills[2].number, rf.at(MONDAY, 9), 157_500)
    )
    load(settlement.render(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    assert run().matched == {"qris_bill": {"count": 1, "amount_idr": 157_500}}


def test_settlement_batch_explained_to_the_rupiah_or_a_residual(
    app: Flask, bills: list[Bill]
) -> None:
    rf.qris_payment(bills[0], 157_500, rrn="633400000001", paid_at=rf.at(MONDAY, 9))
    rf.qris_payment(bills[1], 50_000, rrn="633400000002", paid_at=rf.at(MONDAY, 9))
    settlement = (
        rf.Settlement()
        .batch("B20261123-03", MONDAY)
        .transaction("633400000001", bills[0].number, rf.at(MONDAY, 9), 157_500, 1_103)
        .transaction("633400000002", bills[1].number, rf.at(MONDAY, 9), 50_000, 350)
    )
    load(settlement.render(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    net = settlement.net("B20261123-03")
    load(rf.Mt940().credit(net, f"QRIS STL BATCH B20261123-03 NMID {rf.NMID}").render())
    # With no MDR configured the acquirer was expected to charge 0 % (P2G): 1 453 unexplained.
    first = run()
    assert first.matched == {
        "batch": {"count": 1, "amount_idr": net},
        "reference": {"count": 2, "amount_idr": 207_500},
    }
    residual = standing()[f"batch:{1}"]
    assert residual.type is ExceptionType.SETTLEMENT_RESIDUAL
    assert residual.detail["fee_variance_idr"] == 1_453 and residual.difference_idr == -1_453
    # The acquirer's contract is 0.7 %: configured, the batch is explained and the residual goes.
    app.config["RECONCILE_MDR"] = {rf.ACQUIRER: [["2023-07-01", "0.7"]]}
    second = run()
    assert second.resolved == 1 and second.rules_version != first.rules_version
    assert standing() == {}


def test_a_quarantined_settlement_row_leaves_a_residual(bills: list[Bill]) -> None:
    rf.qris_payment(bills[0], 157_500, rrn="633400000001", paid_at=rf.at(MONDAY, 9))
    settlement = (
        rf.Settlement()
        .batch("B20261123-04", MONDAY)
        .transaction("633400000001", bills[0].number, rf.at(MONDAY, 9), 157_500)
        .transaction("633400000002", bills[1].number, rf.at(MONDAY, 9), 20_000)
    )
    text = settlement.render().decode().replace(",633400000002,", ",,")  # no RRN: quarantined
    load(text.encode(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    load(rf.Mt940().credit(settlement.net("B20261123-04"), "QRIS STL BATCH B20261123-04").render())
    run()
    residual = standing()[f"batch:{1}"]
    assert residual.detail["missing_rows_idr"] == 20_000 and residual.difference_idr == 20_000


def test_a_bank_credit_that_is_not_its_batchs_net_is_an_amount_mismatch(bills: list[Bill]) -> None:
    rf.qris_payment(bills[0], 157_500, rrn="633400000001", paid_at=rf.at(MONDAY, 9))
    settlement = (
        rf.Settlement()
        .batch("B20261123-05", MONDAY)
        .transaction("633400000001", bills[0].number, rf.at(MONDAY, 9), 157_500)
    )
    load(settlement.render(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    load(rf.Mt940().credit(150_000, "QRIS STL BATCH B20261123-05").render())
    run()
    assert standing()["QRIS STL BATCH B20261123-05"].type is ExceptionType.AMOUNT_MISMATCH


def test_cash_deposit_matches_by_slip_reference_and_amount(bills: list[Bill]) -> None:
    deposit = rf.cash_deposit(
        [(bills[3], 157_500)], slip_ref="DEP-GEDE-01", deposited_on=MONDAY, paid_at=rf.at(MONDAY, 7)
    )
    other = rf.cash_deposit(
        [(bills[4], 20_000)], slip_ref="DEP-LEGI-07", deposited_on=MONDAY, paid_at=rf.at(MONDAY, 7)
    )
    statement = (
        rf.Mt940()
        .credit(deposit.amount_idr, "SETORAN TUNAI NO SETORAN DEP-GEDE-01.")
        .credit(19_000, "SETORAN TUNAI DEP-LEGI-07")
    )
    load(statement.render())
    assert run().matched == {"deposit": {"count": 1, "amount_idr": 157_500}}
    mismatch = standing()["SETORAN TUNAI DEP-LEGI-07"]
    assert mismatch.type is ExceptionType.AMOUNT_MISMATCH
    assert mismatch.detail["candidates"][0]["kind"] == "deposit"
    assert other.amount_idr == 20_000


def test_a_payment_without_bank_line_is_an_exception_after_its_grace_period(
    bills: list[Bill], frozen_clock: clock.FrozenClock
) -> None:
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    reversed_one = rf.va_payment(bills[1], 157_500, va="88810000000002", paid_at=rf.at(MONDAY, 8))
    reverse_payment(
        reversed_one.payment_id, reference="RV-1", reason="dibatalkan oleh bank", actor="test"
    )
    for day in (1, 3):  # Tuesday, Thursday: within 3 business days
        frozen_clock.set(rf.at(MONDAY + timedelta(days=day), 12))
        run()
        assert standing() == {}
    frozen_clock.set(rf.at(MONDAY + timedelta(days=7), 12))  # next Monday
    run()
    left = standing()
    assert list(left) == ["payment:1"] and left["payment:1"].type is ExceptionType.MISSING_BANK_LINE
    # The bank line arrives late: matched, and the exception is resolved.
    load(rf.Mt940(day=MONDAY + timedelta(days=2)).credit(157_500, "TRF VA 88810000000001").render())
    later = run()
    assert later.matched_count == 1 and later.resolved == 1 and standing() == {}


def test_a_deposit_and_a_batch_without_bank_credit_become_exceptions(
    bills: list[Bill], frozen_clock: clock.FrozenClock
) -> None:
    rf.cash_deposit(
        [(bills[3], 157_500)], slip_ref="DEP-1", deposited_on=MONDAY, paid_at=rf.at(MONDAY, 7)
    )
    rf.qris_payment(bills[0], 157_500, rrn="633400000001", paid_at=rf.at(MONDAY, 9))
    settlement = (
        rf.Settlement()
        .batch("B20261123-06", MONDAY)
        .transaction("633400000001", bills[0].number, rf.at(MONDAY, 9), 157_500)
    )
    load(settlement.render(), "qris_settlement", acquirer_id=rf.ACQUIRER)
    frozen_clock.set(rf.at(MONDAY + timedelta(days=7), 12))
    run()
    kinds = {key.split(":")[0]: exc.type for key, exc in standing().items()}
    assert kinds == {
        "deposit": ExceptionType.MISSING_BANK_LINE,
        "batch": ExceptionType.MISSING_BANK_LINE,
    }


def test_a_dry_run_writes_nothing_and_predicts_the_run(bills: list[Bill]) -> None:
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(MONDAY, 8))
    load(rf.Mt940().credit(157_500, "TRF VA 88810000000001").credit(1, "X").render())
    before = counts()
    exceptions = db.session.scalar(sa.select(sa.func.count()).select_from(ReconException))
    preview = run(dry_run=True)
    assert counts() == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconException)) == exceptions
    real = run()
    assert (preview.result_hash, preview.matched, preview.opened) == (
        real.result_hash,
        real.matched,
        real.opened,
    )
    stored = db.session.get(Run, real.run_id)
    assert stored is not None and stored.result_hash == real.result_hash
    assert stored.input_files == sorted(db.session.scalars(sa.select(ImportedFile.sha256)))
    assert stored.rules["windows"]["va"] == 3


def test_a_run_cannot_be_dated_in_the_future() -> None:
    from retribusi.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        run(as_of=date(2027, 1, 1))
