"""The same inputs and rules give the same result hash, byte for byte, on another database whose
ids are all different (DESIGN.md invariant); the hash is SHA-256 of a documented text."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from payments.ledger import reverse_payment
from payments.models import Deposit, Payment
from reconcile.importing import import_file
from reconcile.models import Line, Match, ReconException, Run, SettlementBatch
from reconcile.runs import (
    batch_key,
    deposit_key,
    line_key,
    payment_key,
    result_text,
    run_reconciliation,
)
from retribusi import clock, create_app
from retribusi.auth.models import User
from retribusi.extensions import db
from retribusi.levy.models import Bill
from tests.conftest import PG_URL, _pg_worker_url, base_config
from tests.levy import factories as f
from tests.reconcile import factories as rf

DAY = rf.DAY


def scenario(decoys: bool) -> tuple[str, list[int], list[str]]:
    """Payments, files and a run; ``decoys`` first shifts every id (other markets' vendors and
    bills, a reversed payment) without changing anything reconciliation sees."""
    if decoys:
        f.illustrative_tariffs()
        for _ in range(3):
            f.holding("JEBRES", area_m2="4")
        f.holding("JEBRES", area_m2="4")
    bills = [
        b
        for b in rf.bills_for("KLEWER", "KLEWER", "GEDE", "LEGI", "GEDE")
        if "/JEBRES/" not in b.number
    ]
    if decoys:
        jebres = db.session.scalars(sa.select(Bill).where(Bill.number.like("%/JEBRES/%"))).first()
        assert jebres is not None
        decoy = rf.va_payment(jebres, 1_000, va="99900000000001", paid_at=rf.at(DAY, 6), ref="D-1")
        reverse_payment(decoy.payment_id, reference="RV-D", reason="uji pergeseran id", actor="t")
    rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(DAY, 8), ref="PRQ-1")
    rf.va_payment(bills[1], 100_000, va="88810000000002", paid_at=rf.at(DAY, 8), ref="PRQ-2")
    rf.qris_payment(bills[2], 157_500, rrn="633400000001", paid_at=rf.at(DAY, 9))
    rf.va_payment(bills[4], 100_000, va="88810000000009", paid_at=rf.at(DAY, 8), ref="PRQ\\9")
    deposit = rf.cash_deposit(
        [(bills[3], 157_500)], slip_ref="DEP-LEGI-01", deposited_on=DAY, paid_at=rf.at(DAY, 7)
    )
    settlement = rf.Settlement().batch("B20261123-KLW", DAY)
    settlement.transaction("633400000001", bills[2].number, rf.at(DAY, 9), 157_500, 1_103)
    statement = (
        rf.Mt940()
        .credit(157_500, "TRF VA 88810000000001", ref="FT1")
        .credit(157_500, "TRF VA 88810000000001", ref="FT2")
        .credit(90_000, "TRF VA 88810000000002", ref="FT3")
        .credit(100_000, "TRF VA 88810000000009", ref="FT9")
        .credit(settlement.net("B20261123-KLW"), "QRIS STL BATCH B20261123-KLW", ref="FT4")
        .credit(deposit.amount_idr, "SETORAN DEP-LEGI-01", ref="FT5")
        .credit(12_345, "TRANSFER DARI PIHAK LAIN", ref="FT6")
        .debit(5_000, "BIAYA ADM", ref="CHG1")
    )
    import_file(settlement.render(), "qris_settlement", actor="t", acquirer_id=rf.ACQUIRER)
    import_file(statement.render(), "mt940", actor="t")
    result = run_reconciliation(actor="t")
    payment_ids = sorted(db.session.scalars(sa.select(Payment.id)))
    run = db.session.get(Run, result.run_id)
    assert run is not None and run.result_hash == result.result_hash
    return result.result_hash, payment_ids, run.input_files


@pytest.fixture
def twin(
    database: str, tmp_path: Path, worker_id: str, frozen_clock: clock.FrozenClock
) -> Iterator[Flask]:
    """A second application on its own freshly migrated database."""
    if PG_URL:
        url = _pg_worker_url(f"{worker_id}_twin")
        other = create_app(base_config(url))
        with other.app_context():
            upgrade()
    else:
        path = tmp_path / "twin.db"
        shutil.copyfile(sa.make_url(database).database or "", path)
        other = create_app(base_config(f"sqlite:///{path}"))
    other.extensions[clock.EXTENSION_KEY] = frozen_clock
    yield other
    with other.app_context():
        db.engine.dispose()


def test_the_same_inputs_give_the_same_result_hash_on_another_database(
    app: Flask, twin: Flask
) -> None:
    with app.app_context():
        first, first_ids, files = scenario(decoys=False)
    with twin.app_context():
        second, second_ids, twin_files = scenario(decoys=True)
    assert first_ids != second_ids  # every payment has another id...
    assert files == twin_files
    assert first == second  # ...and the result is the same, byte for byte


def test_the_hash_is_sha256_of_the_documented_text() -> None:
    chunks = result_text(
        as_of=DAY,
        rules_version="1-abc",
        input_files=["f2", "f1"],
        matches=[("line:b", "payment:x", "va"), ("line:a", "batch:y", "batch")],
        exceptions=[("RX-2", "duplicate", "open", 5), ("RX-1", "unknown_debit", "ignored", -1)],
    )
    text = b"".join(chunks).decode()
    assert text == (
        "reconcile-result v1\nas_of\t2026-11-23\nrules\t1-abc\n"
        "F\tf1\nF\tf2\n"
        "M\tline:a\tbatch:y\tbatch\nM\tline:b\tpayment:x\tva\n"
        "X\tRX-1\tunknown_debit\tignored\t-1\nX\tRX-2\tduplicate\topen\t5\n"
    )


def test_the_run_hash_is_the_documented_text_of_its_matches_and_exceptions(app: Flask) -> None:
    """The run names its matches in SQL: the names are the documented keys, escapes included
    (the scenario's payment reference holds a backslash)."""
    with app.app_context():
        result_hash, _ids, _files = scenario(decoys=False)
        run = db.session.scalars(sa.select(Run)).one()
        officer = sa.orm.aliased(User)
        rows = db.session.execute(
            sa.select(Match, Line, Payment, Deposit, officer.username, SettlementBatch)
            .join(Line, Line.id == Match.line_id)
            .outerjoin(Payment, Payment.id == Match.payment_id)
            .outerjoin(Deposit, Deposit.id == Match.deposit_id)
            .outerjoin(officer, officer.id == Deposit.officer_id)
            .outerjoin(SettlementBatch, SettlementBatch.id == Match.batch_id)
            .where(Match.run_id == run.id)
        )
        matches = []
        for match, line, payment, deposit, login, batch in rows:
            if payment is not None:
                target = payment_key(payment.channel.value, payment.sender, payment.external_ref)
            elif deposit is not None:
                target = deposit_key(login, deposit.slip_ref)
            else:
                target = batch_key(batch.acquirer_id, batch.batch_ref)
            matches.append((line_key(line.source.value, line.account_id, line.identity), target))
            matches[-1] += (match.rule.value,)
        assert {rule for _line, _target, rule in matches} == {"va", "reference", "batch", "deposit"}
        assert "payment:va:bank_jateng:PRQ\\\\9" in {target for _l, target, _r in matches}
        standing = [
            (e.id, e.type.value, e.status.value, e.difference_idr)
            for e in db.session.scalars(sa.select(ReconException))
        ]
        text = b"".join(
            result_text(
                as_of=run.as_of,
                rules_version=run.rules_version,
                input_files=run.input_files,
                matches=matches,
                exceptions=standing,
            )
        )
        assert result_hash == hashlib.sha256(text).hexdigest()
