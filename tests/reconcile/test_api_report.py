"""The JSON API for runs and exceptions (bearer token, bounded inputs), and the daily report's
figures, PDF and XLSX."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from reconcile.importing import import_file
from reconcile.models import ReconException
from reconcile.report import daily_report, report_pdf, report_xlsx
from reconcile.runs import run_reconciliation
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import PASSWORDS
from tests.factories import make_user
from tests.reconcile import factories as rf


def token(app: Flask, client: FlaskClient, role: Role = Role.FINANCE) -> dict[str, str]:
    with app.app_context():
        user = make_user(role, secret=PASSWORDS[role])
        login = user.login_name
    response = client.post("/api/v1/tokens", json={"username": login, "password": PASSWORDS[role]})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def day(app: Flask) -> dict[str, Any]:
    with app.app_context():
        bills = rf.bills_for("KLEWER", "GEDE", "LEGI")
        rf.va_payment(bills[0], 157_500, va="88810000000001", paid_at=rf.at(rf.DAY, 8))
        rf.qris_payment(bills[1], 157_500, rrn="633400000001", paid_at=rf.at(rf.DAY, 9))
        rf.va_payment(bills[2], 20_000, va="88810000000003", paid_at=rf.at(rf.DAY, 9))
        settlement = rf.Settlement().batch("B20261123-GDE", rf.DAY)
        settlement.transaction("633400000001", bills[1].number, rf.at(rf.DAY, 9), 157_500)
        statement = (
            rf.Mt940()
            .credit(157_500, "TRF VA 88810000000001")
            .credit(157_500, "QRIS STL BATCH B20261123-GDE")
            .credit(12_000, "TRANSFER MASUK")
            .debit(5_000, "BIAYA ADM")
        )
        import_file(settlement.render(), "qris_settlement", actor="t", acquirer_id=rf.ACQUIRER)
        import_file(statement.render(), "mt940", actor="t")
        run_reconciliation(actor="t")
        return {"bills": [b.id for b in bills]}


def test_runs_and_exceptions_over_the_api(app: Flask, client: FlaskClient) -> None:
    bill_ids = day(app)["bills"]
    headers = token(app, client)
    runs = client.get("/api/v1/reconcile/runs", headers=headers).get_json()
    assert runs["total"] == 1
    run = client.get(f"/api/v1/reconcile/runs/{runs['items'][0]['id']}", headers=headers).get_json()
    assert run["matched_count"] == 3 and len(run["result_hash"]) == 64
    page = client.get("/api/v1/reconcile/exceptions?status=open", headers=headers).get_json()
    types = sorted(e["type"] for e in page["items"])
    assert types == ["unknown_credit", "unknown_debit"]
    debit = next(e for e in page["items"] if e["type"] == "unknown_debit")
    assert debit["age_days"] == 0 and debit["difference_idr"] == -5_000
    one = client.get(f"/api/v1/reconcile/exceptions/{debit['id']}", headers=headers).get_json()
    assert one["id"] == debit["id"]
    ignored = client.post(
        f"/api/v1/reconcile/exceptions/{debit['id']}/actions",
        headers=headers,
        json={"action": "ignore", "reason": "biaya administrasi bank"},
    )
    assert ignored.status_code == 200 and ignored.get_json()["status"] == "ignored"
    credit = next(e for e in page["items"] if e["type"] == "unknown_credit")
    created = client.post(
        f"/api/v1/reconcile/exceptions/{credit['id']}/actions",
        headers=headers,
        json={"action": "create_payment", "reason": "transfer pedagang tanpa VA", "vendor_id": 999},
    )
    assert created.status_code == 404  # no such vendor: nothing recorded
    with app.app_context():
        bill = db.session.get(rf.Bill, bill_ids[2])
        assert bill is not None
        vendor_id = bill.vendor_id
    created = client.post(
        f"/api/v1/reconcile/exceptions/{credit['id']}/actions",
        headers=headers,
        json={
            "action": "create_payment",
            "reason": "transfer pedagang tanpa VA",
            "vendor_id": vendor_id,
        },
    )
    assert created.status_code == 200 and created.get_json()["status"] == "resolved"


def test_the_api_checks_its_inputs_and_roles(app: Flask, client: FlaskClient) -> None:
    headers = token(app, client)
    for query in ("page=0", "page_size=201", "type=nope", "status=nope", "age=9-9"):
        response = client.get(f"/api/v1/reconcile/exceptions?{query}", headers=headers)
        assert response.status_code == 422, query
    assert client.get("/api/v1/reconcile/runs/12345", headers=headers).status_code == 404
    assert client.get("/api/v1/reconcile/exceptions/RX-X", headers=headers).status_code == 404
    bad = client.post(
        "/api/v1/reconcile/exceptions/RX-X/actions", headers=headers, json={"action": "delete"}
    )
    assert bad.status_code == 422
    assert client.get("/api/v1/reconcile/runs").status_code == 401
    officer = token(app, client, Role.OFFICER)
    assert client.get("/api/v1/reconcile/runs", headers=officer).status_code == 403


def test_the_daily_report(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    day(app)
    with app.app_context():
        report = daily_report(rf.DAY)
        assert report.statements[0]["closing_idr"] == 10_000_000 + 157_500 * 2 + 12_000 - 5_000
        assert report.batches[0]["credited"] is True
        assert report.lines["credit:matched:va"] == {"count": 1, "amount_idr": 157_500}
        assert report.lines["credit:exception:open"] == {"count": 1, "amount_idr": 12_000}
        assert report.lines["settlement:matched:reference"]["count"] == 1
        assert report.exceptions["unknown_debit"] == {"0-1": {"count": 1, "amount_idr": 5_000}}
        markets = {m["market"]: m for m in report.markets}
        assert markets["KLEWER"]["confirmed_idr"] == 157_500
        assert markets["GEDE"]["confirmed_idr"] == 157_500
        assert markets["LEGI"] == {
            "market": "LEGI",
            "collected_idr": 20_000,
            "confirmed_idr": 0,
            "unconfirmed_idr": 20_000,
        }
        assert markets["TOTAL"]["collected_idr"] == 335_000
        pdf = report_pdf(report)
        assert pdf.startswith(b"%PDF") and report_pdf(daily_report(rf.DAY)) == pdf
        book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
        assert book.sheetnames == [
            "Ringkasan",
            "Saldo",
            "Settlement",
            "Baris",
            "Pengecualian",
            "Per pasar",
        ]
        rows = list(book["Per pasar"].iter_rows(values_only=True))
        assert ("LEGI", 20_000, 0, 20_000) in rows
        assert len(db.session.scalars(sa.select(ReconException)).all()) == 2
    out_pdf, out_xlsx = tmp_path / "r.pdf", tmp_path / "r.xlsx"
    result = runner.invoke(
        args=[
            "reconcile",
            "report",
            "--date",
            "2026-11-23",
            "--pdf",
            str(out_pdf),
            "--xlsx",
            str(out_xlsx),
        ]
    )
    assert result.exit_code == 0, result.output
    assert out_pdf.read_bytes().startswith(b"%PDF") and out_xlsx.stat().st_size > 1000
