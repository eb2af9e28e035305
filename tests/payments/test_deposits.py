"""Deposits (setoran): an officer's undeposited cash, each payment deposited once (the database
says so too), finance's check with the difference in rupiah; services, pages and the API."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from payments.cash import CashIn, record_cash
from payments.deposits import (
    DepositIn,
    Selection,
    create_deposit,
    undeposited,
    undeposited_days,
    verify_deposit,
)
from payments.ledger import reverse_payment
from payments.models import (
    Deposit,
    DepositItem,
    DepositStatus,
    DepositVerification,
    Payment,
)
from retribusi.audit import AuditEvent
from retribusi.auth.models import Role, User
from retribusi.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.errors import reason_of
from tests.conftest import PASSWORDS, AuthActions, csrf_token
from tests.factories import make_user
from tests.levy import factories as f
from tests.payments.factories import api_headers, pay

TODAY = date(2026, 11, 23)
_keys = itertools.count(1)


@pytest.fixture
def ctx(app: Flask) -> Any:
    """An application context for service tests. Page and API tests go without one: a request
    inside a test's own context would share its ``g`` (and signed-in user) with the next."""
    with app.app_context():
        yield


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        made = _world()
        return {
            **made,
            "a": made["a"].id,
            "b": made["b"].id,
            "finance": made["finance"].id,
            "users": {k: (made[k].login_name, made[k].role) for k in ("a", "b", "finance")},
        }


@pytest.fixture
def people(world: dict[str, Any], ctx: Any) -> dict[str, User]:
    """The world's users, loaded in the test's own context."""
    found = {k: db.session.get(User, world[k]) for k in ("a", "b", "finance")}
    assert all(found.values())
    return found  # type: ignore[return-value]


def _world() -> dict[str, Any]:
    """A Klewer vendor with bills and two officers; officer ``a`` took cash on three days."""
    f.illustrative_tariffs()
    holding = f.holding("KLEWER", area_m2="5")
    issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
    issue_bills("2026-11", actor="t")
    a = make_user(Role.OFFICER, secret=PASSWORDS[Role.OFFICER], market_codes=("KLEWER",))
    b = make_user(Role.OFFICER, secret=PASSWORDS[Role.OFFICER], market_codes=("KLEWER",))
    finance = make_user(Role.FINANCE, secret=PASSWORDS[Role.FINANCE])
    vendor = holding.vendor.id
    cash = {
        "d21a": take(a, vendor, 50_000, datetime(2026, 11, 21, 2, 0, tzinfo=UTC)),
        "d21b": take(a, vendor, 30_000, datetime(2026, 11, 21, 5, 0, tzinfo=UTC)),
        "d22": take(a, vendor, 20_000, datetime(2026, 11, 22, 4, 0, tzinfo=UTC)),
        "d23": take(a, vendor, 10_000, None),
        "b": take(b, vendor, 7_000, None),
    }
    return {"a": a, "b": b, "finance": finance, "vendor": vendor, "cash": cash}


def take(officer: User, vendor_id: int, amount: int, paid_at: datetime | None) -> int:
    recorded = record_cash(
        CashIn(
            officer,
            vendor_id,
            "KLEWER",
            amount,
            f"device-key-{next(_keys):08d}",
            raw={},
            paid_at=paid_at,
        )
    )
    return recorded.payment_id


def deposit(officer: User, slip: str = "SLIP-1", amount: int = 80_000, **kwargs: Any) -> Any:
    kwargs.setdefault("selection", Selection.DAY)
    if kwargs["selection"] is Selection.DAY:
        kwargs.setdefault("collected_on", date(2026, 11, 21))
    return create_deposit(
        DepositIn(officer, slip, amount, kwargs.pop("deposited_on", TODAY), **kwargs)
    )


def written() -> tuple[int, int, int, int]:
    return f.count(Deposit), f.count(DepositItem), f.count(DepositVerification), f.count(AuditEvent)


def refused(call: Any, kind: type[DomainError], reason: str | None = None) -> None:
    before = written()
    with pytest.raises(kind) as caught:
        call()
    if reason is not None:
        assert reason_of(caught.value) == reason
    db.session.rollback()
    assert written() == before


# --- the officer's undeposited cash -------------------------------------------------------------


def test_undeposited_cash_is_the_officers_own_by_day(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    days = undeposited_days(people["a"].id)
    assert [(d.day, d.count, d.total_idr) for d in days] == [
        (date(2026, 11, 21), 2, 80_000),
        (date(2026, 11, 22), 1, 20_000),
        (TODAY, 1, 10_000),
    ]
    assert [c.amount_idr for c in undeposited(people["b"].id)] == [7_000]
    assert [c.payment_id for c in undeposited(people["a"].id, on=date(2026, 11, 22))] == [
        world["cash"]["d22"]
    ]


def test_a_days_collections_make_a_deposit_once(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    first = deposit(people["a"])
    assert not first.replayed
    assert {i.payment_id for i in first.deposit.items} == {
        world["cash"]["d21a"],
        world["cash"]["d21b"],
    }
    # The same slip sent again (a resend from the phone): the same deposit.
    again = deposit(people["a"])
    assert again.replayed and again.deposit.id == first.deposit.id
    assert f.count(Deposit) == 1
    refused(lambda: deposit(people["a"], amount=81_000), Conflict, "reused")
    assert [d.day for d in undeposited_days(people["a"].id)] == [date(2026, 11, 22), TODAY]
    rest = deposit(people["a"], slip="SLIP-2", amount=30_000, selection=Selection.ALL)
    assert len(rest.deposit.items) == 2
    assert undeposited(people["a"].id) == []
    refused(
        lambda: deposit(people["a"], slip="SLIP-3", selection=Selection.ALL),
        ValidationFailed,
        "nothing_to_deposit",
    )


def test_each_cash_payment_is_deposited_at_most_once(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    deposit(people["a"])
    cash = world["cash"]
    refused(
        lambda: deposit(
            people["a"],
            slip="SLIP-2",
            amount=70_000,
            selection=Selection.PICKED,
            payment_ids=(cash["d22"], cash["d21a"]),
        ),
        Conflict,
        "already_deposited",
    )


def test_a_deposit_of_cash_that_is_not_the_officers_is_refused(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    cash = world["cash"]
    counter = pay(world["vendor"], 5_000).payment_id
    for payment_id in (cash["b"], counter):
        refused(
            lambda payment_id=payment_id: deposit(
                people["a"], amount=5_000, selection=Selection.PICKED, payment_ids=(payment_id,)
            ),
            ValidationFailed,
            "not_your_cash",
        )
    refused(
        lambda: deposit(
            people["a"], selection=Selection.PICKED, payment_ids=(cash["d22"], cash["d22"])
        ),
        ValidationFailed,
        "duplicate",
    )
    refused(
        lambda: deposit(people["a"], selection=Selection.PICKED, payment_ids=(424242,)),
        NotFound,
    )
    refused(
        lambda: deposit(people["a"], selection=Selection.PICKED, payment_ids=(10**30,)),
        ValidationFailed,
        "type",
    )
    refused(lambda: deposit(people["finance"]), Forbidden)


def test_reversed_cash_is_not_cash_to_deposit(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    cash = world["cash"]
    reverse_payment(
        cash["d22"], reference="ERR-1", reason="entered for the wrong vendor", actor="t"
    )
    assert [c.payment_id for c in undeposited(people["a"].id, on=date(2026, 11, 22))] == []
    refused(
        lambda: deposit(
            people["a"], amount=20_000, selection=Selection.PICKED, payment_ids=(cash["d22"],)
        ),
        ValidationFailed,
        "reversed",
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"slip": ""}, "required"),
        ({"slip": "x" * 61}, "length"),
        ({"slip": "SLIP\x00"}, "characters"),
        ({"amount": 0}, "not_positive"),
        ({"amount": -5}, "not_positive"),
        ({"amount": 2_000_000_001}, "too_large"),
        ({"deposited_on": TODAY + timedelta(days=1)}, "future"),
        ({"deposited_on": date(2026, 11, 20)}, "before_collection"),
        ({"deposited_on": date(2026, 10, 1)}, "too_old"),
        ({"collected_on": date(2026, 11, 1)}, "nothing_to_deposit"),
        ({"selection": Selection.PICKED, "payment_ids": ()}, "required"),
    ],
)
def test_bad_deposits_are_refused_with_their_reason(
    world: dict[str, Any], people: dict[str, User], changes: dict[str, Any], reason: str
) -> None:
    args = {"slip": changes.pop("slip", "SLIP-9"), "amount": changes.pop("amount", 80_000)}
    refused(
        lambda: deposit(people["a"], args["slip"], args["amount"], **changes),
        ValidationFailed,
        reason,
    )


def test_the_database_deposits_a_payment_once_and_only_the_officers_cash(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    made = deposit(people["a"]).deposit
    cash = world["cash"]
    other = Deposit(
        officer_id=people["a"].id,
        slip_ref="BY-HAND",
        amount_idr=1,
        deposited_on=TODAY,
        submitted_at=datetime.now(UTC),
    )
    db.session.add(other)
    db.session.commit()
    counter = pay(world["vendor"], 5_000).payment_id
    reverse_payment(cash["d23"], reference="E-2", reason="typed the wrong amount", actor="t")
    for payment_id in (cash["d21a"], cash["b"], counter, cash["d23"]):
        db.session.add(DepositItem(deposit_id=other.id, payment_id=payment_id))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
    db.session.add(DepositItem(deposit_id=other.id, payment_id=cash["d22"]))
    db.session.commit()  # the officer's own, undeposited, standing cash goes in
    for statement in (
        sa.update(Deposit).values(amount_idr=1),
        sa.delete(DepositItem),
        sa.update(DepositItem).values(deposit_id=made.id),
    ):
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(statement)
        db.session.rollback()


# --- finance's check --------------------------------------------------------------------------


def test_finance_verifies_a_deposit_and_sees_any_difference(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    exact = deposit(people["a"]).deposit
    short = deposit(
        people["a"], slip="SLIP-2", amount=20_000, collected_on=date(2026, 11, 22)
    ).deposit
    done = verify_deposit(exact.id, received_idr=80_000, note=None, user=people["finance"])
    assert (done.verification.status, done.verification.difference_idr) == (
        DepositStatus.VERIFIED,
        0,
    )
    # The slip said 20 000, the bank credited 15 000: a discrepancy of −5 000.
    missing = verify_deposit(
        short.id,
        received_idr=15_000,
        note="bank credited less than the slip",
        user=people["finance"],
    )
    assert (missing.verification.status, missing.verification.difference_idr) == (
        DepositStatus.DISCREPANCY,
        -5_000,
    )
    assert (missing.verification.collected_idr, missing.verification.received_idr) == (
        20_000,
        15_000,
    )
    again = verify_deposit(short.id, received_idr=15_000, note=None, user=people["finance"])
    assert again.replayed
    refused(
        lambda: verify_deposit(short.id, received_idr=20_000, note=None, user=people["finance"]),
        Conflict,
        "already_verified",
    )
    refused(
        lambda: verify_deposit(short.id, received_idr=20_000, note=None, user=people["a"]),
        Forbidden,
    )
    refused(
        lambda: verify_deposit(999, received_idr=1, note=None, user=people["finance"]), NotFound
    )
    refused(
        lambda: verify_deposit(short.id, received_idr=-1, note=None, user=people["finance"]),
        ValidationFailed,
        "not_positive",
    )
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("deposit.submitted") == 2 and actions.count("deposit.verified") == 2


def test_cash_reversed_after_it_was_deposited_is_a_difference(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    made = deposit(people["a"]).deposit
    reverse_payment(
        world["cash"]["d21b"], reference="E-3", reason="the vendor was refunded", actor="t"
    )
    done = verify_deposit(made.id, received_idr=80_000, note=None, user=people["finance"])
    assert (done.verification.collected_idr, done.verification.difference_idr) == (50_000, 30_000)


def test_the_database_ties_the_status_to_the_difference(
    world: dict[str, Any], people: dict[str, User]
) -> None:
    made = deposit(people["a"]).deposit
    for status, received, difference in (
        (DepositStatus.VERIFIED, 70_000, -10_000),
        (DepositStatus.DISCREPANCY, 80_000, 0),
        (DepositStatus.VERIFIED, 80_000, 5),
    ):
        db.session.add(
            DepositVerification(
                deposit_id=made.id,
                status=status,
                received_idr=received,
                collected_idr=80_000,
                difference_idr=difference,
                verified_by="psql",
                verified_at=datetime.now(UTC),
            )
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


# --- pages ------------------------------------------------------------------------------------


def login(auth: AuthActions, login_name: str, role: Role) -> None:
    response = auth.login(login_name, PASSWORDS[role])
    assert response.status_code == 302


def test_officer_deposits_from_the_page_and_finance_verifies(
    app: Flask, client: FlaskClient, auth: AuthActions, world: dict[str, Any]
) -> None:
    login(auth, *world["users"]["a"])
    form = client.get("/setoran/baru")
    assert form.status_code == 200
    assert "21-11-2026" in form.get_data(as_text=True)
    response = client.post(
        "/setoran/baru",
        data={
            "csrf_token": csrf_token(client, "/setoran/baru"),
            "slip_ref": "BRI-0042",
            "amount": "80.000",
            "deposited_on": "2026-11-23",
            "selection": "day",
            "collected_on": "2026-11-21",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "BRI-0042" in page and "Rp80.000" in page and "menunggu keuangan" in page
    bad = client.post(
        "/setoran/baru",
        data={
            "csrf_token": csrf_token(client, "/setoran/baru"),
            "slip_ref": "BRI-0043",
            "amount": "0",
            "deposited_on": "2026-11-23",
            "selection": "all",
        },
    )
    assert bad.status_code == 422 and "lebih dari nol" in bad.get_data(as_text=True)
    with app.app_context():
        deposit_id = db.session.scalars(sa.select(Deposit.id)).one()
    own = client.post(
        f"/setoran/{deposit_id}/verifikasi",
        data={"csrf_token": csrf_token(client, "/setoran"), "received": "80000"},
    )
    assert own.status_code == 403  # an officer does not verify their own deposit
    mine = client.get("/setoran?from=2026-11-23").get_data(as_text=True)
    assert "BRI-0042" in mine and 'id="f-status"' not in mine  # officers filter by day only
    auth.logout()
    login(auth, *world["users"]["b"])
    assert client.get(f"/setoran/{deposit_id}").status_code == 403
    auth.logout()
    login(auth, *world["users"]["finance"])
    assert "BRI-0042" in client.get("/setoran").get_data(as_text=True)
    verified = client.post(
        f"/setoran/{deposit_id}/verifikasi",
        data={"csrf_token": csrf_token(client, f"/setoran/{deposit_id}"), "received": "75.000"},
    )
    assert verified.status_code == 302
    page = client.get(f"/setoran/{deposit_id}").get_data(as_text=True)
    assert "-Rp5.000" in page and "selisih" in page
    listed = client.get("/setoran?status=discrepancy").get_data(as_text=True)
    assert "BRI-0042" in listed
    assert "BRI-0042" not in client.get("/setoran?status=verified").get_data(as_text=True)
    # The slip's day filters the list (both ends included) and goes with the export link.
    assert "BRI-0042" in client.get("/setoran?from=2026-11-23&to=2026-11-23").get_data(as_text=True)
    before = client.get("/setoran?to=2026-11-22").get_data(as_text=True)
    assert "BRI-0042" not in before and 'value="2026-11-22"' in before
    assert "BRI-0042" not in client.get("/setoran?from=2026-11-24").get_data(as_text=True)
    link = before.split("/setoran.xlsx?", 1)[1].split('"', 1)[0]
    assert "to=2026-11-22" in link.split("&amp;")
    # A malformed day is ignored, never a 500.
    assert "BRI-0042" in client.get("/setoran?from=2026-13-40").get_data(as_text=True)


# --- the API ----------------------------------------------------------------------------------


def token_for(client: FlaskClient, login_name: str, role: Role) -> dict[str, str]:
    response = client.post(
        "/api/v1/tokens", json={"username": login_name, "password": PASSWORDS[role]}
    )
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_api_deposit_and_verification(
    app: Flask, client: FlaskClient, world: dict[str, Any]
) -> None:
    a, b = token_for(client, *world["users"]["a"]), token_for(client, *world["users"]["b"])
    finance = token_for(client, *world["users"]["finance"])
    held = client.get("/api/v1/cash-payments/undeposited", headers=a).get_json()
    assert (held["count"], held["total_idr"]) == (4, 110_000)
    body = {
        "slip_ref": "BRI-7",
        "amount_idr": 80_000,
        "deposited_on": "2026-11-23",
        "selection": "picked",
        "payment_ids": [world["cash"]["d21a"], world["cash"]["d21b"]],
    }
    made = client.post("/api/v1/deposits", json=body, headers=a)
    assert made.status_code == 201, made.get_json()
    deposit_id = made.get_json()["id"]
    assert made.get_json()["collected_idr"] == 80_000 and len(made.get_json()["items"]) == 2
    again = client.post("/api/v1/deposits", json=body, headers=a)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == deposit_id
    taken = client.post(
        "/api/v1/deposits",
        json={**body, "slip_ref": "BRI-8", "payment_ids": [world["cash"]["d21a"]]},
        headers=a,
    )
    assert taken.status_code == 409
    assert taken.get_json()["details"]["errors"][0]["reason"] == "already_deposited"
    foreign = client.post(
        "/api/v1/deposits",
        json={**body, "slip_ref": "BRI-9", "payment_ids": [world["cash"]["b"]]},
        headers=a,
    )
    assert foreign.status_code == 422
    assert foreign.get_json()["details"]["errors"][0]["reason"] == "not_your_cash"
    for bad in ({"amount_idr": 0}, {"amount_idr": 1.5}, {"selection": "some"}, {"slip_ref": ""}):
        assert client.post("/api/v1/deposits", json={**body, **bad}, headers=a).status_code == 422
    assert client.post("/api/v1/deposits", json=body, headers=finance).status_code == 403
    assert client.get("/api/v1/deposits", headers=b).get_json()["total"] == 0
    assert client.get(f"/api/v1/deposits/{deposit_id}", headers=b).status_code == 403
    listed = client.get("/api/v1/deposits?status=submitted", headers=finance).get_json()
    assert [d["id"] for d in listed["items"]] == [deposit_id]
    check = client.post(
        f"/api/v1/deposits/{deposit_id}/verification",
        json={"received_idr": 80_000},
        headers=finance,
    )
    assert check.status_code == 201
    assert check.get_json()["verification"]["status"] == "verified"
    assert check.get_json()["status"] == "verified"
    replay = client.post(
        f"/api/v1/deposits/{deposit_id}/verification",
        json={"received_idr": 80_000},
        headers=finance,
    )
    assert replay.status_code == 200
    other = client.post(
        f"/api/v1/deposits/{deposit_id}/verification", json={"received_idr": 1}, headers=finance
    )
    assert other.status_code == 409
    assert (
        client.post(
            f"/api/v1/deposits/{deposit_id}/verification", json={"received_idr": 1}, headers=a
        ).status_code
        == 403
    )
    with app.app_context():
        assert written()[2] == 1


def test_api_deposit_by_day_and_all(app: Flask, client: FlaskClient, world: dict[str, Any]) -> None:
    a = token_for(client, *world["users"]["a"])
    day = client.post(
        "/api/v1/deposits",
        json={
            "slip_ref": "D-1",
            "amount_idr": 20_000,
            "deposited_on": "2026-11-23",
            "selection": "day",
            "collected_on": "2026-11-22",
        },
        headers=a,
    )
    assert day.status_code == 201 and day.get_json()["payments"] == 1
    rest = client.post(
        "/api/v1/deposits",
        json={
            "slip_ref": "D-2",
            "amount_idr": 90_000,
            "deposited_on": "2026-11-23",
            "selection": "all",
        },
        headers=a,
    )
    assert rest.status_code == 201 and rest.get_json()["payments"] == 3
    assert rest.get_json()["slip_difference_idr"] == 0
    assert client.get("/api/v1/cash-payments/undeposited", headers=a).get_json()["count"] == 0
    with app.app_context():
        assert f.count(Payment) == 5


def test_vendors_and_finance_do_not_reach_officer_cash(
    app: Flask, client: FlaskClient, world: dict[str, Any]
) -> None:
    finance = api_headers(app, client, Role.FINANCE)
    assert (
        client.get("/api/v1/cash-payments/undeposited", headers=finance.headers).status_code == 403
    )
