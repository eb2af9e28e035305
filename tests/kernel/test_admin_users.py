"""The administrator's account pages: create, edit, deactivate, reset a password or PIN."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from retribusi.audit import AuditEvent, verify_chain
from retribusi.auth.models import Role, User
from retribusi.extensions import db
from tests.conftest import PASSWORDS, AuthActions, csrf_token
from tests.factories import make_user
from tests.vendors import factories as vf

NEW = "/admin/pengguna/baru"
STAFF_SECRET = "a-long-password-9"


@pytest.fixture
def admin(app: Flask, auth: AuthActions) -> User:
    with app.app_context():
        vf.markets()
    return auth.login_as(Role.ADMIN)


def _count(app: Flask) -> tuple[int, int]:
    with app.app_context():
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
    return users, events


def _events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _user(app: Flask, login: str) -> User:
    with app.app_context():
        user = db.session.scalar(
            sa.select(User).where(sa.or_(User.username == login, User.phone == login))
        )
        assert user is not None
        db.session.expunge(user)
        return user


def _create(client: FlaskClient, **fields: Any) -> Any:
    data: dict[str, Any] = {
        "role": "finance",
        "full_name": "Rina Wulandari",
        "username": "",
        "phone": "",
        "secret": STAFF_SECRET,
        "confirm": STAFF_SECRET,
    }
    data |= fields
    data.setdefault("csrf_token", csrf_token(client, NEW))
    return client.post(NEW, data=data)


def _signs_in(app: Flask, login: str, secret: str, *, vendor: bool = False) -> bool:
    other = AuthActions(app, app.test_client())
    return bool(other.login(login, secret, vendor=vendor).status_code == 302)


@pytest.mark.parametrize(
    ("fields", "login", "secret", "vendor"),
    [
        ({"role": "admin", "username": "dewi.admin"}, "dewi.admin", STAFF_SECRET, False),
        ({"role": "finance", "username": "rina"}, "rina", STAFF_SECRET, False),
        (
            {"role": "officer", "username": "budi", "markets": ["KLEWER", "LEGI"]},
            "budi",
            STAFF_SECRET,
            False,
        ),
        (
            {"role": "vendor", "phone": "0812-7777-1234", "secret": "480713", "confirm": "480713"},
            "6281277771234",
            "480713",
            True,
        ),
    ],
)
def test_each_kind_of_account_is_created_on_the_page_and_signs_in(
    app: Flask,
    client: FlaskClient,
    admin: User,
    fields: dict[str, Any],
    login: str,
    secret: str,
    vendor: bool,
) -> None:
    response = _create(client, **fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Rina Wulandari" in page and login in page
    created = _user(app, login)
    assert created.role.value == fields["role"]
    assert _signs_in(app, login if not vendor else "0812 7777 1234", secret, vendor=vendor)
    [event] = [e for e in _events(app, "user.created") if e.subject_id == str(created.id)]
    assert event.actor == f"user:{admin.id}"
    assert secret not in str(event.details)
    if fields["role"] == "officer":
        assert event.details["markets"] == ["KLEWER", "LEGI"]


def test_staff_fields_are_ignored_for_a_vendor_and_markets_for_non_officers(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    response = _create(client, role="finance", username="rina", phone="0812", markets=["KLEWER"])
    assert response.status_code == 302
    user = _user(app, "rina")
    assert user.phone is None
    with app.app_context():
        assert db.session.get(User, user.id).market_codes == frozenset()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "status", "field_text"),
    [
        (
            {"role": "vendor", "phone": "0812-7777-1234", "secret": "111111", "confirm": "111111"},
            422,
            "PIN terlalu mudah ditebak",
        ),
        (
            {"role": "vendor", "phone": "0812-7777-1234", "secret": "12a4", "confirm": "12a4"},
            422,
            "PIN harus tepat 6 angka",
        ),
        (
            {"role": "vendor", "phone": "12", "secret": "480713", "confirm": "480713"},
            422,
            "12 bukan nomor HP Indonesia",
        ),
        (
            {"username": "rina", "secret": "short", "confirm": "short"},
            422,
            "paling sedikit 10 karakter",
        ),
        ({"username": "rina", "confirm": "something-else-1"}, 422, "Kedua isian berbeda"),
        ({"username": "Rina!"}, 422, "3-64 karakter"),
        ({"username": "rina", "full_name": " "}, 422, "Nama 1 sampai 200 karakter wajib diisi"),
        ({"role": "root", "username": "rina"}, 422, "Pilih peran"),
        (
            {"role": "officer", "username": "budi"},
            422,
            "Petugas memerlukan paling sedikit satu pasar",
        ),
        (
            {"role": "officer", "username": "budi", "markets": ["NOWHERE"]},
            422,
            "Bukan kode pasar: &#39;NOWHERE&#39;",
        ),
        ({"role": "officer", "username": "budi", "markets": ["klewer!"]}, 422, "Bukan kode pasar"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_nothing_is_written(
    app: Flask,
    client: FlaskClient,
    admin: User,
    fields: dict[str, Any],
    status: int,
    field_text: str,
) -> None:
    before = _count(app)
    response = _create(client, **fields)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert field_text in page, page
    assert 'class="field-error"' in page
    assert _count(app) == before


def test_a_duplicate_username_or_phone_is_a_clear_error(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    with app.app_context():
        make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE], username="rina")
        make_user(Role.VENDOR, secret="135790", phone="081277771234")
    before = _count(app)
    response = _create(client, username="rina")
    assert response.status_code == 409
    assert "Akun untuk rina sudah ada" in response.get_data(as_text=True)
    response = _create(
        client, role="vendor", phone="+62 812 7777 1234", secret="480713", confirm="480713"
    )
    assert response.status_code == 409
    assert "Akun untuk 6281277771234 sudah ada" in response.get_data(as_text=True)
    assert _count(app) == before


def test_a_form_without_its_csrf_token_writes_nothing(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    before = _count(app)
    response = _create(client, username="rina", csrf_token="")
    assert response.status_code == 400
    assert _count(app) == before


@pytest.mark.parametrize("role", [Role.VENDOR, Role.OFFICER, Role.FINANCE])
def test_other_roles_may_not_open_or_post_the_account_pages(
    app: Flask, client: FlaskClient, auth: AuthActions, role: Role
) -> None:
    with app.app_context():
        target = make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE]).id
    auth.login_as(role)
    token = csrf_token(client, "/")
    for path in (NEW, f"/admin/pengguna/{target}", f"/admin/pengguna/{target}/sandi"):
        assert client.get(path).status_code == 403
    before = _count(app)
    for path in (f"/admin/pengguna/{target}/aktif", f"/admin/pengguna/{target}/sandi", NEW):
        response = client.post(path, data={"csrf_token": token, "secret": "x" * 12})
        assert response.status_code == 403
    assert _count(app) == before


def test_the_list_links_each_account_and_is_paged(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    with app.app_context():
        ids = [make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE]).id for _ in range(55)]
    first = client.get("/admin/pengguna").get_data(as_text=True)
    assert f'href="/admin/pengguna/{admin.id}"' in first
    assert "Halaman 1 dari 2" in first and 'href="/admin/pengguna?page=2"' in first
    second = client.get("/admin/pengguna?page=2").get_data(as_text=True)
    assert f'href="/admin/pengguna/{ids[-1]}"' in second
    assert client.get("/admin/pengguna?page=999").status_code == 200  # the last page


def test_deactivated_accounts_cannot_sign_in_until_reactivated(
    app: Flask, client: FlaskClient, admin: User
) -> None:
    with app.app_context():
        user = make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE], username="rina")
        user_id = user.id
    other = app.test_client()
    assert AuthActions(app, other).login("rina", PASSWORDS[Role.FINANCE]).status_code == 302
    path = f"/admin/pengguna/{user_id}"
    response = client.post(f"{path}/aktif", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    assert "tidak dapat masuk lagi" in client.get(path).get_data(as_text=True)
    assert other.get("/").status_code == 302  # the open session ended
    assert not _signs_in(app, "rina", PASSWORDS[Role.FINANCE])
    [event] = _events(app, "user.deactivated")
    assert event.actor == f"user:{admin.id}" and event.subject_id == str(user_id)

    response = client.post(f"{path}/aktif", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    assert _signs_in(app, "rina", PASSWORDS[Role.FINANCE])
    assert len(_events(app, "user.reactivated")) == 1


def test_an_admin_cannot_deactivate_themself(app: Flask, client: FlaskClient, admin: User) -> None:
    path = f"/admin/pengguna/{admin.id}"
    page = client.get(path).get_data(as_text=True)
    assert "Nonaktifkan akun" not in page  # no button for one's own account
    before = _count(app)
    response = client.post(f"{path}/aktif", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 422
    assert "tidak dapat menonaktifkan akun Anda sendiri" in response.get_data(as_text=True)
    assert _count(app) == before
    assert _user(app, admin.login_name).active


def test_reset_a_password_and_a_pin(app: Flask, client: FlaskClient, admin: User) -> None:
    with app.app_context():
        staff = make_user(Role.OFFICER, secret=PASSWORDS[Role.OFFICER], username="budi").id
        vendor = make_user(Role.VENDOR, secret="135790", phone="081277771234").id
    path = f"/admin/pengguna/{staff}/sandi"
    data = {"csrf_token": csrf_token(client, path), "secret": STAFF_SECRET, "confirm": "other"}
    before = _count(app)
    response = client.post(path, data=data)
    assert response.status_code == 422 and "Kedua isian berbeda" in response.get_data(as_text=True)
    response = client.post(path, data=data | {"secret": "short", "confirm": "short"})
    assert response.status_code == 422
    assert _count(app) == before
    response = client.post(path, data=data | {"confirm": STAFF_SECRET})
    assert response.status_code == 302
    assert _signs_in(app, "budi", STAFF_SECRET)
    assert not _signs_in(app, "budi", PASSWORDS[Role.OFFICER])

    path = f"/admin/pengguna/{vendor}/sandi"
    data = {"csrf_token": csrf_token(client, path), "secret": "123456", "confirm": "123456"}
    response = client.post(path, data=data)
    assert response.status_code == 422 and "PIN terlalu mudah ditebak" in response.get_data(
        as_text=True
    )
    response = client.post(path, data=data | {"secret": "480713", "confirm": "480713"})
    assert response.status_code == 302
    assert _signs_in(app, "081277771234", "480713", vendor=True)
    events = _events(app, "user.secret_reset")
    assert [e.subject_id for e in events] == [str(staff), str(vendor)]
    assert all(e.actor == f"user:{admin.id}" and e.details == {} for e in events)


def test_edit_an_officers_name_and_markets(app: Flask, client: FlaskClient, admin: User) -> None:
    with app.app_context():
        officer = make_user(
            Role.OFFICER, secret=PASSWORDS[Role.OFFICER], username="budi", market_codes=["KLEWER"]
        ).id
    path = f"/admin/pengguna/{officer}"
    page = client.get(path).get_data(as_text=True)
    assert 'id="market-KLEWER" checked' in page and "Peran dan nama masuk" in page
    token = csrf_token(client, path)
    before = _count(app)
    for markets, text in (([], "paling sedikit satu pasar"), (["NOWHERE"], "Bukan kode pasar")):
        data = {"csrf_token": token, "full_name": "Budi S.", "markets": markets}
        response = client.post(path, data=data)
        assert response.status_code == 422 and text in response.get_data(as_text=True)
    assert _count(app) == before

    data = {"csrf_token": token, "full_name": "Budi Santoso", "markets": ["GEDE", "LEGI"]}
    assert client.post(path, data=data).status_code == 302
    with app.app_context():
        user = db.session.get(User, officer)
        assert user is not None
        assert user.full_name == "Budi Santoso"
        assert user.market_codes == {"GEDE", "LEGI"}
    [event] = _events(app, "user.updated")
    assert event.details["markets"] == {"before": ["KLEWER"], "after": ["GEDE", "LEGI"]}
    assert event.actor == f"user:{admin.id}"
    with app.app_context():
        assert verify_chain(db.session)[1] == []


def test_a_market_an_officer_already_holds_stays_a_choice(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    """Without the registry's list (no markets loaded) the codes officers hold are the choices."""
    with app.app_context():
        make_user(Role.OFFICER, secret=PASSWORDS[Role.OFFICER], market_codes=["OLDMARKET"])
    auth.login_as(Role.ADMIN)
    page = client.get(NEW).get_data(as_text=True)
    assert 'id="market-OLDMARKET"' in page
    response = _create(client, role="officer", username="budi", markets=["OLDMARKET"])
    assert response.status_code == 302


def test_an_unknown_account_is_a_404(client: FlaskClient, admin: User) -> None:
    assert client.get("/admin/pengguna/424242").status_code == 404
    assert client.get("/admin/pengguna/424242/sandi").status_code == 404
