"""Levy pages, API and CLI: who may see what, forms that refuse, the JSON summaries."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Bill, BillStatus, Notice, TariffVersion
from retribusi.levy.notices import issue_notices
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from vendors.models import StallType


@pytest.fixture
def billed(app: Flask) -> dict[str, Any]:
    with app.app_context():
        f.illustrative_tariffs()
        klewer = f.holding("KLEWER", block_code="A")
        legi = f.holding("LEGI", block_code="B")
        ground = f.holding(
            "KLEWER",
            stall_type=StallType.PELATARAN,
            area_m2="2",
            block_code="P",
            start_on=date(2026, 11, 1),
        )
        issue_bills("2026-08", actor="t", issued_on=date(2026, 8, 1))
        issue_bills("2026-11", actor="t")
        issue_notices(actor="t")
        ids = {
            "klewer_bill": db.session.scalars(
                sa.select(Bill.id).where(Bill.placement_id == klewer.placement.id).order_by(Bill.id)
            ).first(),
            "legi_bill": db.session.scalars(
                sa.select(Bill.id).where(Bill.placement_id == legi.placement.id)
            ).first(),
            "klewer_vendor": klewer.vendor.id,
            "ground_placement": ground.placement.id,
            "notice": db.session.scalars(sa.select(Notice.id).order_by(Notice.id)).first(),
        }
    return ids


def officer(auth: AuthActions, *markets: str) -> None:
    auth.login_as(Role.OFFICER, market_codes=markets or ("KLEWER",))


# --- pages ------------------------------------------------------------------------------------


def test_officer_reads_arrears_of_their_market_by_age(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth, "KLEWER")
    page = client.get("/tunggakan").get_data(as_text=True)
    assert "KLEWER" in page and "LEGI" not in page
    assert "91-180" in page and "Rp" in page
    assert 'style="' not in page and "<script>" not in page
    block = client.get("/tunggakan?market=KLEWER").get_data(as_text=True)
    assert "Blok A" in block
    vendors = client.get("/tunggakan?market=KLEWER&block=A").get_data(as_text=True)
    assert f"vendor={billed['klewer_vendor']}" in vendors
    bills = client.get(f"/tunggakan?market=KLEWER&block=A&vendor={billed['klewer_vendor']}")
    assert "SKRD/2026/08/KLEWER/000001" in bills.get_data(as_text=True)
    assert client.get("/tunggakan?market=LEGI").status_code == 403


def test_arrears_spreadsheet_download(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth)
    response = client.get("/tunggakan.xlsx?market=KLEWER")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.data[:2] == b"PK"
    assert client.get("/tunggakan.xlsx?market=LEGI").status_code == 403


def test_bill_page_shows_lines_quantity_rate_and_basis(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth)
    page = client.get(f"/tagihan/{billed['klewer_bill']}").get_data(as_text=True)
    assert "SKRD/2026/08/KLEWER/000001" in page
    assert "Perda 5/2016" in page and "Rp142.500" in page and "Rp157.500" in page
    assert "ILUSTRASI" in page or "ILLUSTRATIVE" in page
    assert client.get(f"/tagihan/{billed['legi_bill']}").status_code == 403
    pdf = client.get(f"/tagihan/{billed['klewer_bill']}/skrd.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    letter = client.get(f"/surat/{billed['notice']}.pdf")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF")


def test_finance_voids_and_reissues_from_the_bill_page(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    path = f"/tagihan/{billed['legi_bill']}"
    token = csrf_token(client, path)
    short = client.post(f"{path}/batal", data={"csrf_token": token, "reason": "oops"})
    assert short.status_code == 422
    response = client.post(
        f"{path}/batal",
        data={"csrf_token": token, "reason": "luas kios salah dicatat", "reissue": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        voided = db.session.get(Bill, billed["legi_bill"])
        assert voided is not None and voided.status is BillStatus.VOIDED
        assert voided.void_reason == "luas kios salah dicatat"
    assert "/tagihan/" in response.headers["Location"]


def test_officers_cannot_void(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth)
    token = csrf_token(client, f"/tagihan/{billed['klewer_bill']}")
    response = client.post(
        f"/tagihan/{billed['klewer_bill']}/batal",
        data={"csrf_token": token, "reason": "officer tries to void"},
    )
    assert response.status_code == 403


def test_billing_page_previews_then_issues(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    page = client.get("/penagihan")
    assert page.status_code == 200 and "2026-11" in page.get_data(as_text=True)
    token = csrf_token(client, "/penagihan")
    with app.app_context():
        before = f.count(Bill)
    preview = client.post(
        "/penagihan", data={"csrf_token": token, "period": "2026-10", "market": "", "preview": "1"}
    )
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2026-10" in body
    with app.app_context():
        assert f.count(Bill) == before
    issued = client.post(
        "/penagihan",
        data={"csrf_token": token, "period": "2026-10", "market": "KLEWER", "issue": "1"},
    )
    assert issued.status_code == 200
    with app.app_context():
        assert f.count(Bill) == before + 1
    bad = client.post("/penagihan", data={"csrf_token": token, "period": "2026-13", "issue": "1"})
    assert bad.status_code == 422


def test_close_period_and_notices_from_the_billing_page(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.ADMIN)
    token = csrf_token(client, "/penagihan")
    assert client.post("/penagihan/surat", data={"csrf_token": token}).status_code == 302
    assert (
        client.post("/penagihan/tutup", data={"csrf_token": token, "period": "2026-08"}).status_code
        == 302
    )
    again = client.post("/penagihan", data={"csrf_token": token, "period": "2026-08", "issue": "1"})
    assert again.status_code == 409


def test_admin_adds_a_tariff_version_and_bad_rates_are_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.ADMIN)
    listing = client.get("/tarif").get_data(as_text=True)
    assert "ILUSTRASI" in listing or "ILLUSTRATIVE" in listing
    token = csrf_token(client, "/tarif/baru")
    form = {
        "csrf_token": token,
        "stall_type": "kios",
        "component": "persampahan",
        "basis": "per_m2_day",
        "rate": "0",
        "legal_basis": "Perwali 3/2027",
        "valid_from": "2027-01-01",
        "market": "KLEWER",
        "market_class": "",
    }
    with app.app_context():
        before = f.count(TariffVersion)
    assert client.post("/tarif/baru", data=form).status_code == 422
    assert client.post("/tarif/baru", data={**form, "rate": "150"}).status_code == 302
    backdated = client.post(
        "/tarif/baru",
        data={
            **form,
            "rate": "160",
            "market": "",
            "market_class": "IA",
            "valid_from": "2026-11-01",
        },
    )
    assert backdated.status_code == 409
    with app.app_context():
        assert f.count(TariffVersion) == before + 1


def test_finance_reads_tariffs_but_only_admin_adds(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    assert client.get("/tarif").status_code == 200
    assert client.get("/tarif/baru").status_code == 403


def test_officer_issues_a_ticket_on_the_spot(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth)
    page = client.get("/karcis?market=KLEWER").get_data(as_text=True)
    assert "Blok P" in page
    token = csrf_token(client, "/karcis?market=KLEWER")
    # The run already ticketed 1-23 November: today's ticket exists.
    again = client.post(
        "/karcis?market=KLEWER",
        data={"csrf_token": token, "placement_id": billed["ground_placement"]},
    )
    assert again.status_code == 409
    assert client.get("/karcis?market=LEGI").status_code == 403


def test_reliefs_page_records_an_outage(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    token = csrf_token(client, "/keringanan")
    response = client.post(
        "/keringanan",
        data={
            "csrf_token": token,
            "outage-csrf_token": token,
            "outage-market": "KLEWER",
            "outage-channel": "card",
            "outage-started_on": "2026-11-01",
            "outage-reference": "mesin tapping rusak",
        },
    )
    assert response.status_code == 302
    relief = client.post(
        "/keringanan",
        data={
            "relief-csrf_token": token,
            "relief-kind": "reduction",
            "relief-decision_number": "SK 5/2026",
            "relief-decided_on": "2026-11-01",
            "relief-valid_from": "2026-12-01",
            "relief-valid_to": "2026-12-31",
            "relief-market": "KLEWER",
            "relief-reduction_pct": "150",
        },
    )
    assert relief.status_code == 422
    listing = client.get("/keringanan").get_data(as_text=True)
    assert "mesin tapping rusak" in listing and "SK 5/2026" not in listing


def test_vendor_sees_own_bill_only(
    app: Flask, client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    user = auth.login_as(Role.VENDOR)
    with app.app_context():
        from vendors.models import Vendor

        vendor = db.session.get(Vendor, billed["klewer_vendor"])
        assert vendor is not None
        vendor.user_id = user.id
        db.session.commit()
    assert client.get(f"/tagihan/{billed['klewer_bill']}").status_code == 200
    assert client.get(f"/tagihan/{billed['legi_bill']}").status_code == 403
    assert client.get("/tunggakan").status_code == 403
    own = client.get("/api/v1/bills").get_json()
    assert {b["vendor_id"] for b in own["items"]} == {billed["klewer_vendor"]}


# --- API --------------------------------------------------------------------------------------


def test_api_bills_by_market_is_scoped_and_paged(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth, "KLEWER")
    page = client.get("/api/v1/bills?market=KLEWER&page_size=5").get_json()
    assert page["page_size"] == 5 and len(page["items"]) == 5 and page["total"] > 5
    assert {b["market"] for b in page["items"]} == {"KLEWER"}
    everything = client.get("/api/v1/bills?page_size=200").get_json()
    assert {b["market"] for b in everything["items"]} == {"KLEWER"}
    assert client.get("/api/v1/bills?market=LEGI").status_code == 403
    assert client.get("/api/v1/bills?page_size=201").status_code == 422
    assert client.get("/api/v1/bills?period=2026-1").status_code == 422


def test_api_bill_detail_has_lines_and_account(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    auth.login_as(Role.FINANCE)
    body = client.get(f"/api/v1/bills/{billed['klewer_bill']}").get_json()
    assert body["principal_idr"] == 157_500
    assert [line["amount_idr"] for line in body["lines"]] == [142_500, 15_000]
    assert body["lines"][0]["legal_basis"].startswith("Perda 5/2016")
    assert body["account"]["sanction_outstanding_idr"] == 4_725
    assert body["sanction_rate_pct_per_month"] == "1.000"
    assert client.get("/api/v1/bills/999999").status_code == 404


def test_api_arrears_and_tariffs(
    client: FlaskClient, auth: AuthActions, billed: dict[str, Any]
) -> None:
    officer(auth, "KLEWER")
    body = client.get("/api/v1/arrears").get_json()
    assert body["level"] == "market" and [r["market"] for r in body["rows"]] == ["KLEWER"]
    assert body["buckets"] == ["0-30", "31-90", "91-180", "181-365", ">365"]
    assert body["rows"][0]["buckets"]["91-180"]["principal_idr"] == 157_500
    assert client.get("/api/v1/arrears?market=LEGI").status_code == 403
    tariffs = client.get("/api/v1/tariffs?page_size=50").get_json()
    assert tariffs["total"] == 21 and all(t["illustrative"] for t in tariffs["items"])


def test_api_needs_a_login(client: FlaskClient, billed: dict[str, Any]) -> None:
    assert client.get("/api/v1/bills").status_code == 401
    assert client.get("/api/v1/arrears").status_code == 401


def test_openapi_documents_the_levy(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/bills",
        "/api/v1/bills/{bill_id}",
        "/api/v1/arrears",
        "/api/v1/tariffs",
    } <= set(paths)


# --- CLI --------------------------------------------------------------------------------------


def _json(result: Any) -> dict[str, Any]:
    return dict(json.loads(result.output))


def test_cli_billing_issue_is_idempotent_and_dry_run_matches(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        f.holding("KLEWER")
    dry = runner.invoke(args=["billing", "issue", "--period", "2026-11", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    real = runner.invoke(args=["billing", "issue", "--period", "2026-11", "--json"])
    again = runner.invoke(args=["billing", "issue", "--period", "2026-11", "--json"])
    d, r, a = _json(dry), _json(real), _json(again)
    assert (d["dry_run"], d["bills"], d["principal_idr"]) == (True, 1, 157_500)
    assert (d["bills"], d["lines"], d["digest"]) == (r["bills"], r["lines"], r["digest"])
    assert (a["bills"], a["already_billed"]) == (0, 1)
    human = runner.invoke(args=["billing", "issue", "--period", "2026-11"])
    assert "already billed 1" in human.output


def test_cli_refusals_exit_non_zero_with_the_reason(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        f.holding("KLEWER")
    bad = runner.invoke(args=["billing", "issue", "--period", "2026-13", "--json"])
    assert bad.exit_code == 1
    assert _json(bad)["details"]["errors"][0]["reason"] == "malformed"
    runner.invoke(args=["billing", "issue", "--period", "2026-10", "--json"])
    assert runner.invoke(args=["billing", "close", "--period", "2026-10", "--json"]).exit_code == 0
    closed = runner.invoke(args=["billing", "issue", "--period", "2026-10", "--json"])
    assert closed.exit_code == 1 and _json(closed)["code"] == "conflict"
    zero = runner.invoke(
        args=[
            "tariffs",
            "add",
            "--stall-type",
            "kios",
            "--component",
            "persampahan",
            "--basis",
            "per_m2_day",
            "--rate",
            "0",
            "--legal-basis",
            "Perwali 1/2027",
            "--valid-from",
            "2027-01-01",
            "--json",
        ]
    )
    assert zero.exit_code == 1 and _json(zero)["details"]["errors"][0]["reason"] == "not_positive"


def test_cli_void_and_tariffs(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        f.holding("KLEWER")
    runner.invoke(args=["billing", "issue", "--period", "2026-11"])
    voided = runner.invoke(
        args=[
            "billing",
            "void",
            "SKRD/2026/11/KLEWER/000001",
            "--reason",
            "test of the void command",
            "--reissue",
            "--json",
        ]
    )
    assert voided.exit_code == 0, voided.output
    assert _json(voided)["reissued"] == "SKRD/2026/11/KLEWER/000002"
    missing = runner.invoke(
        args=["billing", "void", "NOPE", "--reason", "no such bill here", "--json"]
    )
    assert missing.exit_code == 1
    listed = json.loads(runner.invoke(args=["tariffs", "list", "--json"]).output)
    assert len(listed) == 21
    added = runner.invoke(
        args=[
            "tariffs",
            "add",
            "--stall-type",
            "kios",
            "--component",
            "lainnya",
            "--basis",
            "per_day",
            "--rate",
            "660",
            "--legal-basis",
            "Perwali listrik",
            "--valid-from",
            "2027-01-01",
            "--market",
            "KLEWER",
            "--json",
        ]
    )
    assert added.exit_code == 0 and _json(added)["scope"] == "KLEWER"
    assert runner.invoke(args=["billing", "notices", "--json"]).exit_code == 0
    arrears = runner.invoke(args=["billing", "arrears", "--json"])
    assert arrears.exit_code == 0 and _json(arrears)["level"] == "market"
    assert _json(runner.invoke(args=["tariffs", "load-illustrative", "--json"]))["added"] == 0


def test_cli_reliefs_and_outages(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        f.market("KLEWER")
    relief = runner.invoke(
        args=[
            "reliefs",
            "add",
            "--kind",
            "exemption",
            "--decision",
            "SK 1/2026",
            "--decided-on",
            "2026-11-01",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-31",
            "--market",
            "KLEWER",
            "--json",
        ]
    )
    assert relief.exit_code == 0, relief.output
    outage = runner.invoke(
        args=[
            "reliefs",
            "outage",
            "--market",
            "KLEWER",
            "--from",
            "2026-11-20",
            "--reference",
            "BA mesin rusak",
            "--json",
        ]
    )
    assert outage.exit_code == 0, outage.output
    bad = runner.invoke(
        args=[
            "reliefs",
            "outage",
            "--channel",
            "pigeon",
            "--from",
            "2026-11-20",
            "--reference",
            "abc",
            "--json",
        ]
    )
    assert bad.exit_code == 1


# --- demo -------------------------------------------------------------------------------------


def test_demo_step_without_a_registry_only_loads_tariffs(app: Flask) -> None:
    from retribusi.levy.demo import demo_step

    with app.app_context():
        assert demo_step() == {"levy": {"tariffs_added": 21, "bills": 0, "principal_idr": 0}}
        assert f.count(Bill) == 0


def test_demo_step_bills_recent_months_so_arrears_exist(app: Flask) -> None:
    from retribusi.levy.arrears import arrears
    from retribusi.levy.demo import demo_step

    with app.app_context():
        f.holding("KLEWER")
        f.holding("LEGI", stall_type=StallType.PELATARAN, area_m2="2", start_on=date(2026, 11, 20))
        first = demo_step()["levy"]
        assert first["bills"] == 4 + 4  # Aug-Nov for the kios, 20-23 Nov for the pelataran
        assert first["notices"] > 0 and first["outages_added"] == 1
        again = demo_step()["levy"]
        assert (again["bills"], again["notices"], again["outages_added"]) == (0, 0, 0)
        report = arrears(None, as_of=date(2026, 11, 23))
        assert {r.key for r in report.rows} == {"KLEWER", "LEGI"}
