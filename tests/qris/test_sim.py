"""The simulated acquirer: reads our codes as a payer's app does, signs, and settles the day in
the layout reconciliation reads (parsed here by the real importer)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.models import Payment
from payments.qris import build_dynamic, build_static
from payments.qris.services import dynamic_code_for, stall_label
from payments.sim.qris import (
    SETTLEMENT_COLUMNS,
    SignMode,
    SimError,
    SimJournal,
    SimProfile,
    body_bytes,
    notification_for,
    payment_for,
    settlement_batches,
    settlement_csv,
    signed_headers,
)
from payments.snap.signature import verify_asymmetric, verify_symmetric
from reconcile.formats.qris_settlement import COLUMNS, parse_qris_settlement
from retribusi import clock
from retribusi.extensions import db
from tests.qris.conftest import Billed
from tests.qris.test_scan import IDENTITY

WIB_NOON = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
DYNAMIC = build_dynamic(
    IDENTITY, amount_idr=159_075, bill_number="S2610KLEWER000001", reference="Q0123456789AB"
)
STATIC = build_static(IDENTITY, stall_reference="KLEWER-A-001")


def test_reads_codes_as_a_payers_app() -> None:
    paid = payment_for(DYNAMIC, paid_at=clock.to_wib(WIB_NOON), rrn="R1")
    assert (paid.amount_idr, paid.reference_label, paid.bill_number, paid.store_label) == (
        159_075,
        "Q0123456789AB",
        "S2610KLEWER000001",
        "",
    )
    body = notification_for(paid)
    assert body["originalPartnerReferenceNo"] == "Q0123456789AB"
    assert body["amount"] == {"value": "159075.00", "currency": "IDR"}
    typed = payment_for(STATIC, paid_at=clock.to_wib(WIB_NOON), amount_idr=20_000)
    assert notification_for(typed)["externalStoreId"] == "KLEWER-A-001"
    with pytest.raises(SimError, match="amount"):
        payment_for(STATIC, paid_at=WIB_NOON)
    with pytest.raises(SimError, match=r"crc\.mismatch"):
        payment_for(DYNAMIC[:-4] + "0000", paid_at=WIB_NOON)


def test_signatures_verify_with_the_snap_library() -> None:
    body = body_bytes(notification_for(payment_for(DYNAMIC, paid_at=WIB_NOON)))
    symmetric = SimProfile("SIMQRIS", SignMode.SYMMETRIC, client_secret="s3cret-0123456789")
    headers = signed_headers(symmetric, body, now=WIB_NOON, access_token="tok123")
    verify_symmetric(
        client_secret="s3cret-0123456789",
        method="POST",
        endpoint_url="/snap/v1.0/qr/qr-mpm-notify",
        access_token="tok123",
        body=body,
        timestamp=headers["X-TIMESTAMP"],
        signature=headers["X-SIGNATURE"],
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    asymmetric = SimProfile("SIMQRIS", SignMode.ASYMMETRIC, private_key=key)
    headers = signed_headers(asymmetric, body, now=WIB_NOON)
    assert "Authorization" not in headers
    verify_asymmetric(
        public_key=key.public_key(),
        method="POST",
        endpoint_url="/snap/v1.0/qr/qr-mpm-notify",
        body=body,
        timestamp=headers["X-TIMESTAMP"],
        signature=headers["X-SIGNATURE"],
    )
    with pytest.raises(SimError):
        signed_headers(symmetric, body, now=WIB_NOON)  # no token


def test_settlement_is_read_by_reconciliation(tmp_path: Path) -> None:
    assert SETTLEMENT_COLUMNS == COLUMNS
    journal = SimJournal(tmp_path / "journal.jsonl")
    day = clock.to_wib(WIB_NOON)
    for i in range(5):
        journal.append(payment_for(DYNAMIC, paid_at=day + timedelta(minutes=i), rrn=f"R{i}"))
    journal.append(payment_for(STATIC, paid_at=day, amount_idr=3_000, rrn="R-static"))
    journal.append(
        payment_for(STATIC, paid_at=day - timedelta(days=1), amount_idr=3_000, rrn="R-old")
    )
    assert journal.find("R3") is not None and journal.last().rrn == "R-old"  # type: ignore[union-attr]
    batches = settlement_batches(
        journal.payments(), settlement_date=date(2026, 11, 24), mdr_pct=Decimal("0.7"), batch_size=4
    )
    report = settlement_csv(batches)
    parsed = parse_qris_settlement(report, acquirer_id="SIM")
    assert parsed.lines_read == 6 and not parsed.rejected
    assert [b.transaction_count for b in parsed.batches] == [4, 2]
    fees = [line.fee_idr for line in parsed.lines]
    assert fees == [21] + [1114] * 5  # 0.7 % of 3 000 and of 159 075, half up; time order
    assert sum(b.net_idr for b in parsed.batches) == 5 * 159_075 + 3_000 - sum(fees)
    assert {line.bank_reference for line in parsed.lines} == {
        "R0",
        "R1",
        "R2",
        "R3",
        "R4",
        "R-static",
    }
    assert parsed.lines[1].customer_reference == "Q0123456789AB"
    assert parsed.lines[0].customer_reference is None  # a static code has no 62-05
    free = parse_qris_settlement(
        settlement_csv(settlement_batches(journal.payments(), settlement_date=date(2026, 11, 24))),
        acquirer_id="SIM",
    )
    assert {line.fee_idr for line in free.lines} == {0}  # MDR 0 % for government levies
    with pytest.raises(SimError):
        settlement_batches([], settlement_date=date(2026, 11, 24), mdr_pct=Decimal("-1"))


# ------------------------------------------------------------------ through the CLI, end to end


def test_demo_acquirer_pays_repeats_and_settles(
    app: Flask, runner: FlaskCliRunner, billed: Billed, tmp_path: Path
) -> None:
    app.instance_path = str(tmp_path)
    setup = runner.invoke(args=["sim", "qris", "setup", "--json"])
    assert setup.exit_code == 0, setup.output
    assert json.loads(setup.output)["sim_acquirer"] == {"code": "SIMQRIS", "created": True}
    again = runner.invoke(args=["sim", "qris", "setup", "--json"])
    assert json.loads(again.output)["sim_acquirer"]["created"] is False
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    db.session.commit()
    paid = runner.invoke(
        args=["sim", "qris", "pay", "--code", code.reference, "--repeat", "2", "--json"]
    )
    assert paid.exit_code == 0, paid.output
    replies = json.loads(paid.output)["replies"]
    assert [r["response_code"] for r in replies] == ["2005200"] * 3
    label = stall_label(billed.holding.stall)
    typed = runner.invoke(
        args=["sim", "qris", "pay", "--stall", label, "--amount", "20000", "--json"]
    )
    assert typed.exit_code == 0, typed.output
    assert runner.invoke(args=["sim", "qris", "repeat"]).exit_code == 0
    wrong = runner.invoke(args=["sim", "qris", "pay", "--code", code.reference, "--status", "06"])
    assert wrong.exit_code == 1  # 4045200: refused, nothing recorded
    payments = list(db.session.scalars(sa.select(Payment).where(Payment.sender == "SIMQRIS")))
    assert sorted(p.amount_idr for p in payments) == sorted([code.amount_idr, 20_000])
    out = tmp_path / "settle.csv"
    day = clock.today_wib().isoformat()
    settled = runner.invoke(args=["sim", "qris", "settle", "--date", day, "--out", str(out)])
    assert settled.exit_code == 0, settled.output
    parsed = parse_qris_settlement(out.read_bytes(), acquirer_id="SIMQRIS")
    assert parsed.lines_read == 2 and not parsed.rejected
    # What the acquirer settles is what the platform recorded: same references, same amounts.
    assert {(line.bank_reference, line.amount_idr) for line in parsed.lines} == {
        (p.external_ref, p.amount_idr) for p in payments
    }
    assert (
        next(line for line in parsed.lines if line.customer_reference).customer_reference
        == code.reference
    )
    assert runner.invoke(args=["sim", "qris", "pay"]).exit_code == 2  # nothing to pay


def test_demo_registers_the_acquirer(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    app.instance_path = str(tmp_path)
    result = runner.invoke(args=["demo", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["sim_acquirer"]["code"] == "SIMQRIS"
    assert summary["qris"]["enabled"] is True


def test_settling_books_each_batch_at_the_simulated_bank_once(
    app: Flask, runner: FlaskCliRunner, billed: Billed, tmp_path: Path
) -> None:
    app.instance_path = str(tmp_path)
    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    assert runner.invoke(args=["sim", "qris", "setup"]).exit_code == 0
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    db.session.commit()
    assert runner.invoke(args=["sim", "qris", "pay", "--code", code.reference]).exit_code == 0
    day = clock.today_wib()
    for _ in range(2):  # settling the same day again books nothing new
        settle = ["sim", "qris", "settle", "--date", day.isoformat(), "--out", str(tmp_path / "s")]
        assert runner.invoke(args=settle).exit_code == 0
    settled_on = (day + timedelta(days=1)).isoformat()
    statement = runner.invoke(args=["sim", "statement", "--date", settled_on])
    assert statement.exit_code == 0, statement.output
    credits = [line for line in statement.output.splitlines() if line.startswith(":86:QRIS STL")]
    assert len(credits) == 1 and f":61:{settled_on[2:].replace('-', '')}" in statement.output
    assert f"C{code.amount_idr},00NTRF" in statement.output  # MDR 0 %: the net is the gross
