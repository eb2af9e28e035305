"""Finance pages through the Flask test client: upload (good, bad, seen before, over-sized),
runs, run detail, the exception queue and its resolve actions, the daily report; roles."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reconcile.models import Claim, ExceptionStatus, ImportedFile, Line, ReconException
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.reconcile import factories as rf
from tests.reconcile.test_import_service import XXE

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
WHY = "cocok dengan slip setoran dari bank"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RECONCILE_UPLOAD_MAX_BYTES": 4096}


@pytest.fixture
def finance(auth: AuthActions) -> None:
    auth.login_as(Role.FINANCE)


def upload(client: FlaskClient, data: bytes, name: str, **fields: str) -> Any:
    form: dict[str, Any] = {
        "csrf_token": csrf_token(client, "/rekonsiliasi/unggah"),
        "format": "mt940",
        "profile": "",
        "account": "",
        "acquirer": "",
        **fields,
        "file": (io.BytesIO(data), name),
    }
    return client.post("/rekonsiliasi/unggah", data=form, content_type="multipart/form-data")


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.mark.usefixtures("finance")
def test_upload_a_statement_then_the_same_again(app: Flask, client: FlaskClient) -> None:
    data = (SAMPLES / "statement.mt940").read_bytes()
    first = upload(client, data, "statement.mt940")
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and "Sudah diimpor" in page
    assert count(app, Line) == 6
    again = upload(client, data, "copy.sta")
    assert again.status_code == 200 and "Pernah diimpor" in again.get_data(as_text=True)
    assert count(app, ImportedFile) == 1


@pytest.mark.usefixtures("finance")
def test_bad_uploads_are_refused_with_the_reason_and_store_nothing(
    app: Flask, client: FlaskClient
) -> None:
    xxe = upload(client, XXE, "evil.xml", format="camt053")
    assert xxe.status_code == 422
    assert "xml_forbidden" in xxe.get_data(as_text=True)
    jateng = (SAMPLES / "bank-jateng.csv").read_bytes().decode("cp1252").replace("SAMPLE", "SAMPLÉ")
    wrong = upload(
        client, jateng.encode("utf-8"), "jateng.csv", format="bank_csv", profile="bank_jateng"
    )
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "encoding" in body and "Ditolak" in body
    big = upload(client, b"x" * 5000, "big.sta")
    assert big.status_code == 413 and "4096" in big.get_data(as_text=True)
    no_profile = upload(client, b"a;b\n", "x.csv", format="bank_csv")
    assert no_profile.status_code == 422
    unbalanced = rf.Mt940(number=330).credit(75_000, "TRF VA 8881").render(closing_idr=1)
    assert upload(client, unbalanced, "bad.sta").status_code == 422
    assert count(app, ImportedFile) == 0 and count(app, Line) == 0
    no_file = client.post(
        "/rekonsiliasi/unggah",
        data={"csrf_token": csrf_token(client, "/rekonsiliasi/unggah"), "format": "mt940"},
    )
    assert no_file.status_code == 422


@pytest.mark.usefixtures("finance")
def test_an_upload_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/rekonsiliasi/unggah",
        data={"format": "mt940", "file": (io.BytesIO(b"x"), "a.sta")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


def test_officers_and_vendors_may_not_open_the_pages(
    auth: AuthActions, client: FlaskClient
) -> None:
    assert client.get("/rekonsiliasi/").status_code == 302  # signed out: to the login page
    auth.login_as(Role.OFFICER)
    for path in ("/rekonsiliasi/", "/rekonsiliasi/unggah", "/rekonsiliasi/pengecualian"):
        assert client.get(path).status_code == 403


@pytest.mark.usefixtures("finance")
def test_run_from_the_page_work_the_queue_and_resolve(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        bills = rf.bills_for("LEGI")
        deposit = rf.cash_deposit(
            [(bills[0], 157_500)], slip_ref="DEP-9", deposited_on=rf.DAY, paid_at=rf.at(rf.DAY, 7)
        )
        deposit_id = deposit.id
    statement = rf.Mt940().credit(157_500, "SETORAN TUNAI TANPA NOMOR").debit(5_000, "BIAYA ADM")
    assert upload(client, statement.render(), "day.sta").status_code == 200
    index = client.get("/rekonsiliasi/")
    assert index.status_code == 200
    token = csrf_token(client, "/rekonsiliasi/")
    preview = client.post("/rekonsiliasi/jalankan", data={"csrf_token": token, "preview": "1"})
    assert preview.status_code == 200 and "Pratinjau" in preview.get_data(as_text=True)
    done = client.post("/rekonsiliasi/jalankan", data={"csrf_token": token, "run": "1"})
    assert done.status_code == 302 and "/rekonsiliasi/run/" in done.headers["Location"]
    assert client.get(done.headers["Location"]).status_code == 200

    queue = client.get("/rekonsiliasi/pengecualian?type=unknown_credit")
    ids = re.findall(r"/rekonsiliasi/pengecualian/(RX-[0-9A-F]{20})", queue.get_data(as_text=True))
    assert len(ids) == 1
    for query in ("status=all", "status=live&age=0-1", "assignee=me", "assignee=none", "age=%3E30"):
        assert client.get(f"/rekonsiliasi/pengecualian?{query}").status_code == 200
    assert client.get("/rekonsiliasi/pengecualian?type=bogus").status_code == 302
    detail_path = f"/rekonsiliasi/pengecualian/{ids[0]}"
    detail = client.get(detail_path).get_data(as_text=True)
    assert "DEP-9" in detail  # the deposit of the same amount, suggested
    action = f"{detail_path}/tindakan"
    short = client.post(
        action,
        data={
            "csrf_token": csrf_token(client, detail_path),
            "action": "match",
            "reason": "x",
            "deposit_id": str(deposit_id),
        },
    )
    assert short.status_code == 422 and count(app, Claim) == 0
    matched = client.post(
        action,
        data={
            "csrf_token": csrf_token(client, detail_path),
            "action": "match",
            "reason": WHY,
            "deposit_id": str(deposit_id),
        },
    )
    assert matched.status_code == 302 and count(app, Claim) == 1
    with app.app_context():
        exc = db.session.get(ReconException, ids[0])
        assert exc is not None and exc.status is ExceptionStatus.RESOLVED
        line_id = exc.line_id
    line_page = f"/rekonsiliasi/baris/{line_id}"
    assert "Lepaskan pencocokan" in client.get(line_page).get_data(as_text=True)  # matched
    released = client.post(
        f"{line_page}/lepas", data={"csrf_token": csrf_token(client, line_page), "reason": WHY}
    )
    assert released.status_code == 302 and count(app, Claim) == 0

    debit = client.get("/rekonsiliasi/pengecualian?type=unknown_debit").get_data(as_text=True)
    (fee_id,) = re.findall(r"/rekonsiliasi/pengecualian/(RX-[0-9A-F]{20})", debit)
    fee_path = f"/rekonsiliasi/pengecualian/{fee_id}"
    ignored = client.post(
        f"{fee_path}/tindakan",
        data={
            "csrf_token": csrf_token(client, fee_path),
            "action": "ignore",
            "reason": "biaya administrasi bulanan",
        },
    )
    assert ignored.status_code == 302
    with app.app_context():
        fee = db.session.get(ReconException, fee_id)
        assert fee is not None and fee.status is ExceptionStatus.IGNORED
    page = client.get(fee_path).get_data(as_text=True)
    assert "biaya administrasi bulanan" in page  # the history shows the reason
    assert client.get("/rekonsiliasi/pengecualian/RX-NOTHING").status_code == 404


@pytest.mark.usefixtures("finance")
def test_daily_report_page_and_files(app: Flask, client: FlaskClient) -> None:
    upload(client, (SAMPLES / "statement.mt940").read_bytes(), "s.sta")
    page = client.get("/rekonsiliasi/laporan?date=2026-12-01")
    assert page.status_code == 200 and "1380012345678" in page.get_data(as_text=True)
    pdf = client.get("/rekonsiliasi/laporan/2026-12-01.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    xlsx = client.get("/rekonsiliasi/laporan/2026-12-01.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    assert client.get("/rekonsiliasi/laporan/2026-12-01.doc").status_code == 404
    assert client.get("/rekonsiliasi/laporan?date=kemarin").status_code == 400
