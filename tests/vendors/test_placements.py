"""The SHP lifecycle end to end: issue, renew, transfer (balik nama), revoke, return, expire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.audit import AuditEvent, verify_chain
from retribusi.clock import FrozenClock
from retribusi.errors import NotFound
from retribusi.extensions import db
from tests.vendors import factories as f
from vendors.models import Placement, PlacementEvent, PlacementStatus, Stall, StallStatus
from vendors.placements import (
    add_months,
    balik_nama_fee_idr,
    expire_lapsed,
    issue_placement,
    placement_chain,
    record_occupant,
    renew_placement,
    return_placement,
    revoke_placement,
    shp_expiry,
    transfer_placement,
)
from vendors.problems import VendorConflict, VendorInvalid
from vendors.services import VendorInput, placements_covering, vendor_summary

TODAY = date(2026, 11, 23)  # the frozen clock's day in Solo


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        f.markets()
        yield app


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def stall_status(stall_id: int) -> StallStatus:
    db.session.expire_all()
    stall = db.session.get(Stall, stall_id)
    assert stall is not None
    return stall.status


def test_expiry_is_start_plus_three_years() -> None:
    assert shp_expiry(date(2025, 1, 6)) == date(2028, 1, 6)
    assert shp_expiry(date(2024, 2, 29)) == date(2027, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_the_whole_life_of_a_stall_with_its_history(ctx: Flask) -> None:
    """Issue → occupant → renew → transfer → revoke for vacancy → issue again → return."""
    sri = f.vendor(1, name="Sri Rahayu")
    kios = f.stall("KLEWER", "A", "012", area="5", tntd=950_000)
    first = f.placement(sri, kios, start=date(2023, 3, 1), number="SHP/2023/1")
    assert first.expires_on == date(2026, 3, 1) and stall_status(kios.id) is StallStatus.ACTIVE

    record_occupant(first.id, occupant_name="Tini (keponakan)", actor=f.ADMIN)

    renewed = renew_placement(first.id, on=date(2026, 2, 20), number="SHP/2026/1", actor=f.ADMIN)
    assert (renewed.start_on, renewed.expires_on) == (date(2026, 2, 20), date(2029, 2, 20))
    assert renewed.previous_id == first.id and renewed.occupant_name == "Tini (keponakan)"

    transferred = transfer_placement(
        renewed.id,
        to=VendorInput(nik=f.nik(2), full_name="Budi Santoso", phone="0857-2222-3333"),
        on=date(2026, 6, 1),
        actor=f.ADMIN,
    )
    # Balik nama fee = TNTD 950 000 × 5 m² × 10 %.
    assert transferred.transfer_fee_idr == 475_000 == balik_nama_fee_idr(kios)
    assert transferred.vendor.full_name == "Budi Santoso"
    assert transferred.number == f"SHP/2026/{kios.id}/3"

    revoked = revoke_placement(
        transferred.id,
        reason="vacancy",
        vacant_since=date(2026, 8, 1),
        on=date(2026, 10, 5),
        note="SK 511/2026",
        actor=f.ADMIN,
    )
    assert revoked.status is PlacementStatus.REVOKED and revoked.ended_on == date(2026, 10, 5)
    assert stall_status(kios.id) is StallStatus.VACANT

    again = issue_placement(
        vendor_id=sri.id, stall_id=kios.id, start_on=date(2026, 11, 1), actor=f.ADMIN
    )
    returned = return_placement(again.id, on=date(2026, 11, 20), actor=f.ADMIN)
    assert returned.status is PlacementStatus.RETURNED
    assert stall_status(kios.id) is StallStatus.VACANT

    db.session.expire_all()
    statuses = [
        (p.number, p.status.value, p.start_on, p.ended_on)
        for p in db.session.scalars(sa.select(Placement).order_by(Placement.id))
    ]
    assert statuses == [
        ("SHP/2023/1", "expired", date(2023, 3, 1), date(2026, 2, 20)),
        ("SHP/2026/1", "transferred", date(2026, 2, 20), date(2026, 6, 1)),
        (transferred.number, "revoked", date(2026, 6, 1), date(2026, 10, 5)),
        (again.number, "returned", date(2026, 11, 1), date(2026, 11, 20)),
    ]
    # The chain of one right: issued, renewed, transferred.
    chain = placement_chain(db.session.get(Placement, renewed.id))  # type: ignore[arg-type]
    assert [p.number for p in chain] == ["SHP/2023/1", "SHP/2026/1", transferred.number]
    # Each day of the stall has at most one liable holder.
    holders = db.session.scalars(sa.select(Placement).where(Placement.stall_id == kios.id)).all()
    day = date(2023, 1, 1)
    while day < date(2027, 1, 1):
        assert sum(p.covers(day) for p in holders) <= 1, day
        day += timedelta(days=1)
    # History, in order, per SHP, and the audit trail.
    events = {
        p.number: [e.action for e in p.events]
        for p in db.session.scalars(sa.select(Placement).order_by(Placement.id))
    }
    assert events == {
        "SHP/2023/1": ["issued", "occupant_recorded", "renewed"],
        "SHP/2026/1": ["issued", "transferred"],
        transferred.number: ["issued", "revoked"],
        again.number: ["issued", "returned"],
    }
    actions = audit_actions()
    for action in ("shp.issued", "shp.renewed", "shp.transferred", "shp.revoked", "shp.returned"):
        assert action in actions
    assert actions.count("stall.status_changed") == 4  # active, vacant, active, vacant
    assert verify_chain(db.session)[1] == []
    summary = vendor_summary(sri)
    assert [p["status"] for p in summary["placements"]] == ["expired", "transferred", "returned"]
    assert summary["stalls"] == []


def test_history_is_append_only(ctx: Flask) -> None:
    f.placement()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.update(PlacementEvent).values(action="forged"))
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.delete(PlacementEvent))
    db.session.rollback()


def test_the_database_allows_one_active_shp_per_stall(ctx: Flask) -> None:
    """Even code that skips the service cannot put two SHPs in force on a stall."""
    first = f.placement()
    db.session.add(
        Placement(
            number="DIRECT-2",
            vendor_id=first.vendor_id,
            stall_id=first.stall_id,
            start_on=date(2025, 2, 1),
            expires_on=date(2028, 2, 1),
            status=PlacementStatus.ACTIVE,
            created_at=datetime(2026, 1, 1).astimezone(),
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_an_ended_shp_must_say_when(ctx: Flask) -> None:
    first = f.placement()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.update(Placement).where(Placement.id == first.id).values(status="revoked")
        )
    db.session.rollback()


def test_issuing_on_a_taken_stall_names_the_holder(ctx: Flask) -> None:
    first = f.placement(number="SHP-1")
    with pytest.raises(VendorConflict) as caught:
        f.placement(on=first.stall)
    assert caught.value.details["errors"] == [
        {
            "field": "stall",
            "reason": f"stall {first.stall.reference} already has SHP SHP-1 in force",
        }
    ]
    with pytest.raises(VendorConflict, match="SHP number SHP-1 is already used"):
        f.placement(number="SHP-1")


def test_revocation_for_vacancy_needs_two_months_unused(ctx: Flask) -> None:
    shp = f.placement()
    with pytest.raises(VendorInvalid, match="give the date since when the place is unused"):
        revoke_placement(shp.id, reason="vacancy", actor=f.ADMIN)
    with pytest.raises(VendorInvalid) as caught:
        revoke_placement(shp.id, reason="vacancy", vacant_since=date(2026, 10, 1), actor=f.ADMIN)
    assert caught.value.details["errors"][0]["reason"] == (
        "unused only since 2026-10-01: revocation needs 2 months"
    )
    with pytest.raises(VendorInvalid, match="not a reason"):
        revoke_placement(shp.id, reason="dislike", actor=f.ADMIN)
    revoked = revoke_placement(shp.id, reason="arrears", note="SP3 no. 7", actor=f.ADMIN)
    assert revoked.ended_on == TODAY and revoked.events[-1].details["note"] == "SP3 no. 7"


def test_an_ended_shp_cannot_end_again(ctx: Flask) -> None:
    shp = f.placement()
    return_placement(shp.id, actor=f.ADMIN)
    for action in (
        lambda: return_placement(shp.id, actor=f.ADMIN),
        lambda: revoke_placement(shp.id, reason="arrears", actor=f.ADMIN),
        lambda: renew_placement(shp.id, actor=f.ADMIN),
        lambda: transfer_placement(
            shp.id, to=VendorInput(f.nik(99), "X", "081399999999"), actor=f.ADMIN
        ),
    ):
        with pytest.raises(VendorConflict, match="is returned and cannot be"):
            action()


def test_dates_in_the_future_or_before_the_start_are_refused(ctx: Flask) -> None:
    shp = f.placement(start=date(2025, 1, 6))
    with pytest.raises(VendorInvalid, match="is in the future"):
        return_placement(shp.id, on=TODAY + timedelta(days=1), actor=f.ADMIN)
    with pytest.raises(VendorInvalid, match="before the SHP started"):
        return_placement(shp.id, on=date(2025, 1, 5), actor=f.ADMIN)


def test_transfer_needs_a_fee_when_the_stall_has_no_tntd(ctx: Flask) -> None:
    shp = f.placement(on=f.stall(tntd=None))
    new_holder = VendorInput(nik=f.nik(77), full_name="Budi", phone="085700000077")
    with pytest.raises(VendorInvalid, match="the stall has no TNTD: give the balik nama fee"):
        transfer_placement(shp.id, to=new_holder, actor=f.ADMIN)
    with pytest.raises(VendorInvalid, match="is not a whole rupiah amount"):
        transfer_placement(shp.id, to=new_holder, fee_idr="12.500,50", actor=f.ADMIN)
    with pytest.raises(VendorInvalid, match="the SHP already belongs to this vendor"):
        transfer_placement(shp.id, to=VendorInput(shp.vendor.nik, "", ""), fee_idr=0, actor=f.ADMIN)
    done = transfer_placement(shp.id, to=new_holder, fee_idr="250000", actor=f.ADMIN)
    assert done.transfer_fee_idr == 250_000


def test_a_late_renewal_of_an_expired_shp(ctx: Flask, frozen_clock: FrozenClock) -> None:
    shp = f.placement(start=date(2023, 1, 2))
    assert expire_lapsed(actor=f.ADMIN) == [shp.number]
    assert stall_status(shp.stall_id) is StallStatus.VACANT
    db.session.expire_all()
    expired = db.session.get(Placement, shp.id)
    assert expired is not None and expired.ended_on == date(2026, 1, 2)
    assert expire_lapsed(actor=f.ADMIN) == []  # safe to run again
    renewed = renew_placement(shp.id, on=date(2026, 2, 1), actor=f.ADMIN)
    assert renewed.previous_id == shp.id and stall_status(shp.stall_id) is StallStatus.ACTIVE
    assert [e.action for e in db.session.get(Placement, shp.id).events] == [  # type: ignore[union-attr]
        "issued",
        "expired",
        "renewed",
    ]


def test_placements_covering_a_billing_month(ctx: Flask) -> None:
    early = f.placement(start=date(2025, 1, 6))
    late = f.placement(start=date(2026, 11, 10))
    ended = f.placement(start=date(2025, 5, 1))
    return_placement(ended.id, on=date(2026, 10, 1), actor=f.ADMIN)
    october = db.session.scalars(placements_covering(date(2026, 10, 1), date(2026, 10, 31))).all()
    assert [p.id for p in october] == [early.id]  # returned on 1 Oct: not liable that day
    november = db.session.scalars(placements_covering(date(2026, 11, 1), date(2026, 11, 30))).all()
    assert [p.id for p in november] == [early.id, late.id]
    legi = placements_covering(date(2026, 11, 1), date(2026, 11, 30), market_codes=["LEGI"])
    assert db.session.scalars(legi).all() == []


def test_unknown_records(ctx: Flask) -> None:
    with pytest.raises(NotFound):
        renew_placement(999, actor=f.ADMIN)
    with pytest.raises(NotFound):
        issue_placement(vendor_id=999, stall_id=f.stall().id, start_on=TODAY, actor=f.ADMIN)
