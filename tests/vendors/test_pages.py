"""Officer and admin pages: search, vendor and SHP pages, forms with audit events, import."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from retribusi.audit import AuditEvent
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.vendors import factories as f
from vendors.models import MarketClass, Placement, PlacementStatus, Stall, StallStatus, Vendor

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "vendors-sample.csv"


def setup_registry(app: Flask) -> dict[str, int]:
    """Sri in Klewer, Budi in Legi."""
    with app.app_context():
        f.markets()
        sri = f.vendor(1, name="Sri Rahayu")
        budi = f.vendor(2, name="Budi Santoso")
        shp = f.placement(sri, f.stall("KLEWER", "A", "012"), number="SHP-K-12")
        f.placement(budi, f.stall("LEGI", "B-LD", "L012", stall_type="los", area="3"))
        free = f.stall("KLEWER", "A", "013")
        return {"sri": sri.id, "budi": budi.id, "shp": shp.id, "free": free.id}


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def page_text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined,no-any-return]


def test_an_officer_finds_only_their_markets_vendors(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    listing = page_text(client.get("/pedagang"))
    assert "Sri Rahayu" in listing and "Budi Santoso" not in listing
    assert "Sri Rahayu" in page_text(client.get("/pedagang?q=KLEWER-A-012"))
    assert "Budi" not in page_text(client.get("/pedagang?q=budi"))
    assert client.get(f"/pedagang/{ids['budi']}").status_code == 403
    assert client.get("/pasar/LEGI").status_code == 403
    page = page_text(client.get(f"/pedagang/{ids['sri']}"))
    assert "KLEWER-A-012" in page and "SHP-K-12" in page and "Riwayat" in page  # History
    assert client.get("/pasar/KLEWER").status_code == 200
    assert "Pasar Legi" not in page_text(client.get("/pasar"))


def test_other_roles(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.FINANCE)
    assert client.get(f"/pedagang/{ids['budi']}").status_code == 200
    assert client.get("/pedagang/baru").status_code == 403  # finance reads, does not edit
    auth.logout()
    auth.login_as(Role.VENDOR)
    assert client.get("/pedagang").status_code == 403


def test_registering_a_vendor_with_their_first_stall(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    token = csrf_token(client, "/pedagang/baru")
    form = {
        "csrf_token": token,
        "nik": "123",
        "full_name": "Tumini",
        "phone": "0813 7777 0001",
        "stall": "KLEWER-A-013",
        "start_on": "2026-11-01",
    }
    refused = client.post("/pedagang/baru", data=form)
    assert refused.status_code == 422
    assert "NIK harus 16 angka, bukan 3" in page_text(refused)  # said in Indonesian
    form["nik"] = f.nik(7)
    done = client.post("/pedagang/baru", data=form)
    assert done.status_code == 302
    with app.app_context():
        vendor = db.session.scalar(sa.select(Vendor).where(Vendor.nik == f.nik(7)))
        assert vendor is not None and vendor.phone == "6281377770001"
        stall = db.session.get(Stall, ids["free"])
        assert stall is not None and stall.status is StallStatus.ACTIVE
    assert [e.details["nik"] for e in audit(app, "vendor.created")][-1] == f.nik(7)
    taken = client.post("/pedagang/baru", data={**form, "nik": f.nik(8), "phone": "081377770002"})
    assert taken.status_code == 409 and "sudah memiliki SHP" in page_text(taken)


def test_editing_a_vendor_is_audited(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.ADMIN)
    path = f"/pedagang/{ids['sri']}/ubah"
    form = {
        "csrf_token": csrf_token(client, path),
        "nik": f.nik(1),
        "full_name": "Sri Rahayu Wulandari",
        "phone": "0813 0000 0001",
        "proxy_name": "Agus (anak)",
        "proxy_phone": "0857 1234 5678",
    }
    assert client.post(path, data=form).status_code == 302
    (event,) = audit(app, "vendor.updated")
    assert event.details["changes"]["full_name"]["to"] == "Sri Rahayu Wulandari"
    assert event.actor.startswith("user:")
    bad = client.post(path, data={**form, "phone": "12"})
    assert bad.status_code == 422 and "aria-invalid" in page_text(bad)


def test_the_shp_lifecycle_from_its_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    path = f"/shp/{ids['shp']}"
    page = page_text(client.get(path))
    assert "Perpanjang" in page and "Balik nama" in page
    token = csrf_token(client, path)
    renewed = client.post(f"{path}/perpanjang", data={"csrf_token": token, "on": "2026-11-01"})
    assert renewed.status_code == 302
    with app.app_context():
        new = db.session.scalar(sa.select(Placement).where(Placement.previous_id == ids["shp"]))
        assert new is not None and new.start_on == date(2026, 11, 1)
        new_id = new.id
    transfer = client.post(
        f"/shp/{new_id}/balik-nama",
        data={"csrf_token": token, "nik": f.nik(9), "full_name": "Budi", "phone": "0813 9"},
    )
    assert transfer.status_code == 422 and "bukan nomor HP Indonesia" in page_text(transfer)
    transfer = client.post(
        f"/shp/{new_id}/balik-nama",
        data={"csrf_token": token, "nik": f.nik(9), "full_name": "Joko", "phone": "081399990009"},
    )
    assert transfer.status_code == 302
    with app.app_context():
        last = db.session.scalar(sa.select(Placement).where(Placement.previous_id == new_id))
        assert last is not None and last.transfer_fee_idr == 475_000
        last_id = last.id
    revoke = client.post(
        f"/shp/{last_id}/cabut",
        data={"csrf_token": token, "reason": "vacancy", "vacant_since": "2026-10-01"},
    )
    assert revoke.status_code == 422 and "2 bulan" in page_text(revoke)
    gone = client.post(f"/shp/{last_id}/kembali", data={"csrf_token": token})
    assert gone.status_code == 302
    with app.app_context():
        statuses = [
            p.status for p in db.session.scalars(sa.select(Placement).order_by(Placement.id))
        ]
    assert statuses[0] is PlacementStatus.EXPIRED and statuses[-1] is PlacementStatus.RETURNED
    history = page_text(client.get(f"/shp/{new_id}"))
    assert "balik nama" in history.lower()


def test_stalls_and_the_market_class(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    setup_registry(app)
    auth.login_as(Role.ADMIN)
    path = "/pasar/GEDE/tempat/baru"
    form = {
        "csrf_token": csrf_token(client, path),
        "block": "c",
        "stall_number": "k100",
        "stall_type": "kios",
        "area_m2": "0",
    }
    assert client.post(path, data=form).status_code == 422
    created = client.post(path, data={**form, "area_m2": "4.5", "tntd_idr_per_m2": "800000"})
    assert created.status_code == 302
    with app.app_context():
        stall = db.session.scalar(sa.select(Stall).where(Stall.number == "K100"))
        assert stall is not None and stall.reference == "GEDE-C-K100"
        stall_id = stall.id
    edit = client.post(
        f"/tempat/{stall_id}",
        data={
            "csrf_token": form["csrf_token"],
            "stall_type": "kios",
            "area_m2": "4.5",
            "tntd_idr_per_m2": "800000",
            "status": "damaged",
            "reason": "kebakaran",
        },
    )
    assert edit.status_code == 302 and audit(app, "stall.status_changed")
    market = page_text(client.get("/pasar/GEDE?blok=C"))
    assert "K100" in market and "Rusak" in market  # damaged
    moved = client.post(
        "/pasar/GEDE/kelas",
        data={
            "csrf_token": form["csrf_token"],
            "market_class": "IA",
            "valid_from": "2027-01-01",
            "source": "Perwali 3/2026",
        },
    )
    assert moved.status_code == 302
    with app.app_context():
        from vendors.services import Actor, get_market

        gede = get_market("GEDE", Actor.system())
        assert gede.class_on(date(2027, 1, 2)) is MarketClass.IA


def test_admin_renames_a_block_and_its_code_stays(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    setup_registry(app)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    token = csrf_token(client, "/pasar/KLEWER?blok=A")
    form = 'action="/pasar/KLEWER/blok/A/nama"'
    assert form not in page_text(client.get("/pasar/KLEWER?blok=A"))
    officer = client.post("/pasar/KLEWER/blok/A/nama", data={"csrf_token": token, "name": "Los"})
    assert officer.status_code == 403
    auth.logout()
    auth.login_as(Role.ADMIN)
    assert form in page_text(client.get("/pasar/KLEWER?blok=A"))
    token = csrf_token(client, "/pasar/KLEWER?blok=A")
    for name in ("", "B" * 81, "Blok\x07A"):
        refused = client.post("/pasar/KLEWER/blok/A/nama", data={"csrf_token": token, "name": name})
        assert refused.status_code == 422, name
        assert 'id="block-name-error"' in page_text(refused), name
    same = client.post("/pasar/KLEWER/blok/A/nama", data={"csrf_token": token, "name": "Blok A"})
    assert same.status_code == 422 and "tidak ada yang berubah" in page_text(same).lower()
    unknown = client.post("/pasar/KLEWER/blok/ZZ/nama", data={"csrf_token": token, "name": "Los"})
    assert unknown.status_code == 404
    assert not audit(app, "block.renamed")
    done = client.post(
        "/pasar/KLEWER/blok/A/nama",
        data={"csrf_token": token, "name": " Los  Batik, lantai 1 "},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/pasar/KLEWER?blok=A")
    assert "Los Batik, lantai 1" in page_text(client.get("/pasar/KLEWER?blok=A"))
    (event,) = audit(app, "block.renamed")
    assert event.subject_id == "KLEWER"
    assert event.details == {"block": "A", "before": "Blok A", "after": "Los Batik, lantai 1"}
    with app.app_context():
        stall = db.session.scalar(sa.select(Stall).where(Stall.number == "012"))
        assert stall is not None and stall.block.code == "A"


def test_admin_corrects_a_markets_name_and_kecamatan(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        f.markets()
    auth.login_as(Role.OFFICER, market_codes=("GEDE",))
    token = csrf_token(client, "/pasar/GEDE")
    officer = client.post(
        "/pasar/GEDE/nama", data={"csrf_token": token, "name": "X", "kecamatan": "Jebres"}
    )
    assert officer.status_code == 403
    auth.logout()
    auth.login_as(Role.ADMIN)
    token = csrf_token(client, "/pasar/GEDE")
    refusals = [
        ({"name": "", "kecamatan": "Jebres"}, "name"),
        ({"name": "Pasar Gede", "kecamatan": "J" * 61}, "kecamatan"),
        ({"name": "Pasar\x07Gede", "kecamatan": "Jebres"}, "name"),
        ({"name": "N" * 121, "kecamatan": "Jebres"}, "name"),
    ]
    for data, field in refusals:
        refused = client.post("/pasar/GEDE/nama", data={"csrf_token": token, **data})
        assert refused.status_code == 422, data
        assert f'id="{field}-error"' in page_text(refused), data
    with app.app_context():
        from vendors.services import Actor, get_market

        before = get_market("GEDE", Actor.system())
        unchanged = {"name": before.name, "kecamatan": before.kecamatan}
    same = client.post("/pasar/GEDE/nama", data={"csrf_token": token, **unchanged})
    assert same.status_code == 422 and "tidak ada yang berubah" in page_text(same).lower()
    assert not audit(app, "market.renamed")
    done = client.post(
        "/pasar/GEDE/nama",
        data={"csrf_token": token, "name": "  Pasar  Gede ", "kecamatan": "Jebres"},
    )
    assert done.status_code == 302
    assert "Pasar Gede Hardjonagoro" not in page_text(client.get("/pasar"))
    (event,) = audit(app, "market.renamed")
    assert event.details == {
        "before": unchanged,
        "after": {"name": "Pasar Gede", "kecamatan": "Jebres"},
    }
    # Loading the shipped list again leaves the corrected name alone.
    with app.app_context():
        f.markets()
        assert get_market("GEDE", Actor.system()).name == "Pasar Gede"


def test_import_page(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    with app.app_context():
        f.markets()
    auth.login_as(Role.ADMIN)
    token = csrf_token(client, "/pedagang/impor")
    bad = f.csv_bytes([f.row(1), f.row(2, area_m2="0")], delimiter=";")
    refused = client.post(
        "/pedagang/impor",
        data={"csrf_token": token, "file": (bytes_io(bad), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "dipisah dengan ;" in page_text(refused)
    dry = client.post(
        "/pedagang/impor",
        data={"csrf_token": token, "dry_run": "y", "file": (SAMPLE.open("rb"), "sample.csv")},
        content_type="multipart/form-data",
    )
    assert dry.status_code == 200 and "tidak ada yang ditulis" in page_text(dry).lower()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) == 0
    done = client.post(
        "/pedagang/impor",
        data={"csrf_token": token, "file": (SAMPLE.open("rb"), "sample.csv")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Placement)) == 12
    empty = client.post("/pedagang/impor", data={"csrf_token": token})
    assert empty.status_code == 422
    app.config["VENDORS_IMPORT_MAX_BYTES"] = 1000
    big = client.post(
        "/pedagang/impor",
        data={"csrf_token": token, "file": (bytes_io(b"x" * 5000), "besar.csv")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 422 and "berukuran 5000 byte; batasnya 1000 byte" in page_text(big)


def bytes_io(data: bytes) -> object:
    import io

    return io.BytesIO(data)
