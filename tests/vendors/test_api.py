"""The registry API: OpenAPI, bounded pagination, officers' scope, the SHP lifecycle."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import PASSWORDS
from tests.factories import make_user
from tests.vendors import factories as f
from vendors.models import Vendor
from vendors.services import register_summary_part


def token(app: Flask, client: FlaskClient, role: Role, **kwargs: object) -> dict[str, str]:
    with app.app_context():
        user = make_user(role, secret=PASSWORDS[role], **kwargs)
        name = user.login_name
    response = client.post("/api/v1/tokens", json={"username": name, "password": PASSWORDS[role]})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def registry(app: Flask) -> dict[str, int]:
    with app.app_context():
        f.markets()
        sri = f.vendor(1, name="Sri Rahayu")
        budi = f.vendor(2, name="Budi Santoso")
        shp = f.placement(sri, f.stall("KLEWER", "A", "012"), number="SHP-K-12")
        legi = f.placement(budi, f.stall("LEGI", "B-LD", "L012", stall_type="los", area="3"))
        f.stall("KLEWER", "A", "013")
        return {"sri": sri.id, "budi": budi.id, "shp": shp.id, "legi_shp": legi.id}


def test_openapi_documents_the_registry(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/markets",
        "/api/v1/markets/{code}",
        "/api/v1/stalls",
        "/api/v1/stalls/{stall_id}",
        "/api/v1/vendors",
        "/api/v1/vendors/{vendor_id}",
        "/api/v1/placements",
        "/api/v1/placements/{placement_id}",
        "/api/v1/placements/{placement_id}/transfer",
    ):
        assert path in paths, path


def test_lists_are_paginated_and_bounded(app: Flask, client: FlaskClient) -> None:
    registry(app)
    headers = token(app, client, Role.FINANCE)
    body = client.get("/api/v1/markets?page_size=10&page=5", headers=headers).get_json()
    assert (body["total"], len(body["items"]), body["page"]) == (44, 4, 5)
    for query in ("page_size=201", "page_size=0", "page=0", "page=abc"):
        response = client.get(f"/api/v1/vendors?{query}", headers=headers)
        assert response.status_code == 422, query
    stalls = client.get("/api/v1/stalls?market=KLEWER&status=vacant", headers=headers).get_json()
    assert [s["reference"] for s in stalls["items"]] == ["KLEWER-A-013"]
    assert client.get("/api/v1/stalls?status=burnt", headers=headers).status_code == 422


def test_officers_see_only_their_markets(app: Flask, client: FlaskClient) -> None:
    ids = registry(app)
    headers = token(app, client, Role.OFFICER, market_codes=("KLEWER",))
    vendors = client.get("/api/v1/vendors", headers=headers).get_json()
    assert [v["full_name"] for v in vendors["items"]] == ["Sri Rahayu"]
    assert vendors["items"][0]["stalls"] == ["KLEWER-A-012"]
    other = client.get(f"/api/v1/vendors/{ids['budi']}", headers=headers)
    assert other.status_code == 403 and other.get_json()["code"] == "forbidden"
    assert client.get(f"/api/v1/placements/{ids['legi_shp']}", headers=headers).status_code == 403
    assert client.get("/api/v1/markets/LEGI", headers=headers).status_code == 403
    markets = client.get("/api/v1/markets", headers=headers).get_json()
    assert [m["code"] for m in markets["items"]] == ["KLEWER"]
    edit = client.put(
        f"/api/v1/vendors/{ids['budi']}",
        headers=headers,
        json={"nik": f.nik(2), "full_name": "Hijacked", "phone": "081300000002"},
    )
    assert edit.status_code == 403
    with app.app_context():
        assert db.session.get(Vendor, ids["budi"]).full_name == "Budi Santoso"  # type: ignore[union-attr]


def test_vendor_detail_matches_vendors_show(app: Flask, client: FlaskClient) -> None:
    ids = registry(app)
    # A later package adds to the summary (VA numbers, bills, balance).
    register_summary_part(app, lambda vendor: {"balance_idr": 0, "va_numbers": []})
    headers = token(app, client, Role.ADMIN)
    body = client.get(f"/api/v1/vendors/{ids['sri']}", headers=headers).get_json()
    assert body["balance_idr"] == 0 and body["va_numbers"] == []
    assert body["vendor"]["nik"] == f.nik(1)
    assert [s["reference"] for s in body["stalls"]] == ["KLEWER-A-012"]
    assert body["placements"][0]["events"][0]["action"] == "issued"


def test_the_shp_lifecycle_over_the_api(app: Flask, client: FlaskClient) -> None:
    ids = registry(app)
    headers = token(app, client, Role.OFFICER, market_codes=("KLEWER",))
    created = client.post(
        "/api/v1/vendors",
        headers=headers,
        json={
            "nik": f.nik(3),
            "full_name": "Tumini",
            "phone": "0813 0000 0003",
            "stall": "KLEWER-A-013",
            "shp_start": "2026-11-01",
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["stalls"][0]["reference"] == "KLEWER-A-013"
    renewed = client.post(
        f"/api/v1/placements/{ids['shp']}/renew", headers=headers, json={"on": "2026-11-20"}
    )
    assert renewed.status_code == 201
    new = renewed.get_json()
    assert new["start_on"] == "2026-11-20" and new["chain"] == ["SHP-K-12", new["number"]]
    moved = client.post(
        f"/api/v1/placements/{new['id']}/transfer",
        headers=headers,
        json={"nik": f.nik(4), "full_name": "Joko", "phone": "081300000004", "fee_idr": 0},
    )
    assert moved.status_code == 201 and moved.get_json()["transfer_fee_idr"] == 0
    occupant = client.put(
        f"/api/v1/placements/{moved.get_json()['id']}/occupant",
        headers=headers,
        json={"occupant_name": "Tini"},
    )
    assert occupant.get_json()["occupant_name"] == "Tini"
    revoked = client.post(
        f"/api/v1/placements/{moved.get_json()['id']}/revoke",
        headers=headers,
        json={"reason": "breach", "note": "sublet"},
    )
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    again = client.post(
        f"/api/v1/placements/{moved.get_json()['id']}/return", headers=headers, json={}
    )
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"


def test_bad_input_gets_specific_errors(app: Flask, client: FlaskClient) -> None:
    ids = registry(app)
    headers = token(app, client, Role.ADMIN)
    bad = client.post(
        "/api/v1/vendors",
        headers=headers,
        json={"nik": "3372014703800000", "full_name": "X", "phone": "12"},
    )
    assert bad.status_code == 422
    assert bad.get_json()["details"]["errors"] == [
        {"field": "nik", "reason": "NIK sequence number 0000 is never issued"},
        {"field": "phone", "reason": "12 is not an Indonesian phone number (e.g. 0812-3456-7890)"},
    ]
    taken = client.post(
        "/api/v1/placements",
        headers=headers,
        json={"vendor_id": ids["budi"], "stall": "KLEWER-A-012", "start_on": "2026-11-01"},
    )
    assert taken.status_code == 409
    assert "already has SHP SHP-K-12 in force" in taken.get_json()["message"]
    stall = client.post(
        "/api/v1/stalls",
        headers=headers,
        json={
            "market": "KLEWER",
            "block": "A",
            "number": "099",
            "type": "kios",
            "area_m2": "10000",
        },
    )
    assert stall.status_code == 422
    assert stall.get_json()["details"]["errors"][0]["field"] == "area_m2"
    too_long = client.get("/api/v1/vendors?q=" + "x" * 81, headers=headers)
    assert too_long.status_code == 422
    finance = token(app, client, Role.FINANCE)
    assert client.post("/api/v1/stalls", headers=finance, json={}).status_code == 422
    patch = client.patch(
        f"/api/v1/stalls/{ids['shp']}", headers=finance, json={"reason": "x", "status": "closed"}
    )
    assert patch.status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vendor)) == 2


def test_shps_are_listed_by_market_stall_vendor_and_status_within_scope(
    app: Flask, client: FlaskClient
) -> None:
    ids = registry(app)
    staff = token(app, client, Role.FINANCE)
    every = client.get("/api/v1/placements", headers=staff).get_json()
    assert [p["id"] for p in every["items"]] == [ids["legi_shp"], ids["shp"]]  # newest first
    assert every["total"] == 2 and every["items"][1]["number"] == "SHP-K-12"

    def numbers(query: str, headers: dict[str, str] = staff) -> list[str]:
        body = client.get(f"/api/v1/placements?{query}", headers=headers).get_json()
        return [p["number"] for p in body["items"]]

    assert numbers("market=klewer") == ["SHP-K-12"]
    assert numbers("stall=KLEWER-A-012") == ["SHP-K-12"]
    assert numbers(f"vendor_id={ids['budi']}") == [every["items"][0]["number"]]
    assert numbers("status=active&market=KLEWER") == ["SHP-K-12"]
    assert numbers("status=revoked") == []
    officer = token(app, client, Role.OFFICER, market_codes=("KLEWER",))
    assert numbers("", officer) == ["SHP-K-12"]
    assert client.get("/api/v1/placements?market=LEGI", headers=officer).status_code == 403
    for query, status in (
        ("status=lost", 422),
        ("vendor_id=0", 422),
        (f"vendor_id={2**60}", 422),
        ("market=NOWHERE", 404),
        ("stall=KLEWER-Z-999", 422),
        ("page_size=1000", 422),
    ):
        assert client.get(f"/api/v1/placements?{query}", headers=staff).status_code == status, query
