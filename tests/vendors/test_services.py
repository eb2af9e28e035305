"""Markets and their class, stalls, vendors, search and officers' scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.audit import AuditEvent
from retribusi.auth.models import Role, User
from retribusi.errors import Forbidden
from retribusi.extensions import db
from tests.factories import make_user
from tests.vendors import factories as f
from vendors.models import Market, MarketClass, StallStatus
from vendors.problems import VendorConflict, VendorInvalid
from vendors.services import (
    Actor,
    FirstPlacement,
    VendorInput,
    create_vendor,
    find_vendor_by_nik,
    find_vendor_by_phone,
    get_market,
    get_vendor,
    list_markets,
    load_markets,
    search_vendors,
    set_market_class,
    stall_by_reference,
    update_stall,
    update_vendor,
    vendor_for_user,
)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        f.markets()
        yield app


def officer(*codes: str) -> Actor:
    return Actor.of(make_user(Role.OFFICER, secret="officer-password-1", market_codes=codes))


def test_the_44_markets_load_once(ctx: Flask) -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Market)) == 44
    assert load_markets(f.ADMIN) == 0
    legi = get_market("legi", f.ADMIN)
    assert (legi.name, legi.kecamatan, legi.class_on(date(2026, 1, 1))) == (
        "Pasar Legi",
        "Banjarsari",
        MarketClass.IA,
    )
    assert legi.class_on(date(2015, 12, 31)) is None  # before the list's period


def test_a_market_moves_class_from_a_date(ctx: Flask) -> None:
    jebres = get_market("JEBRES", f.ADMIN)
    assert jebres.class_on(date(2026, 1, 1)) is MarketClass.IIB
    set_market_class(
        "JEBRES", "IB", valid_from=date(2027, 1, 1), source="Perwali X/2026", actor=f.ADMIN
    )
    assert jebres.class_on(date(2026, 12, 31)) is MarketClass.IIB
    assert jebres.class_on(date(2027, 1, 1)) is MarketClass.IB
    assert [(p.market_class.value, p.valid_to) for p in jebres.classes] == [
        ("IIB", date(2026, 12, 31)),
        ("IB", None),
    ]
    with pytest.raises(VendorInvalid, match="must start after 2027-01-01"):
        set_market_class("JEBRES", "IA", valid_from=date(2026, 6, 1), source="x", actor=f.ADMIN)
    with pytest.raises(VendorInvalid, match="already class IB"):
        set_market_class("JEBRES", "IB", valid_from=date(2028, 1, 1), source="x", actor=f.ADMIN)
    with pytest.raises(VendorInvalid, match="is not a market class"):
        set_market_class("JEBRES", "IV", valid_from=date(2028, 1, 1), source="x", actor=f.ADMIN)
    with pytest.raises(Forbidden):
        set_market_class(
            "JEBRES", "IA", valid_from=date(2028, 1, 1), source="x", actor=officer("LEGI")
        )
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "market.class_changed")
        )
        == 1
    )


def test_stall_status_moves_are_guarded(ctx: Flask) -> None:
    held = f.placement()
    stall = held.stall

    def move(status: str) -> None:
        update_stall(
            stall.id,
            stall_type="kios",
            area_m2="5",
            tntd_idr_per_m2=950000,
            status=status,
            reason="inspection",
            actor=f.ADMIN,
        )

    with pytest.raises(VendorConflict, match="revoke or return it before marking it vacant"):
        move("vacant")
    with pytest.raises(VendorConflict, match="before marking it closed"):
        move("closed")
    move("damaged")  # a fire: the SHP stays, the stall is damaged
    assert stall.status is StallStatus.DAMAGED
    with pytest.raises(VendorInvalid, match="is not a stall status"):
        move("burnt")


def test_stall_corrections_are_audited(ctx: Flask) -> None:
    stall = f.stall(area="5", tntd=None)
    update_stall(
        stall.id,
        stall_type="kios",
        area_m2="4.5",
        tntd_idr_per_m2="700000",
        status="vacant",
        reason="measured again",
        actor=f.ADMIN,
    )
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "stall.updated"))
    assert event is not None
    assert event.details["changes"] == {
        "area_m2": {"from": "5.00", "to": "4.50"},
        "tntd_idr_per_m2": {"from": None, "to": 700000},
    }
    with pytest.raises(VendorConflict, match="already exists"):
        f.stall(stall.market.code, stall.block.code, stall.number)


def test_stall_references_may_contain_dashes_in_the_block(ctx: Flask) -> None:
    f.stall("LEGI", "B-LD", "L012", stall_type="los", area="3")
    assert stall_by_reference("legi-b-ld-l012") is not None
    assert stall_by_reference("LEGI-B-LD-L013") is None
    assert stall_by_reference("nonsense") is None


def test_a_vendor_is_checked_and_linked_to_their_login(ctx: Flask) -> None:
    login = make_user(Role.VENDOR, secret="135790", phone="0813 0000 0001")
    sri = f.vendor(1, name="  Sri   Rahayu ", proxy_name="Budi", proxy_phone="+62 857 1111 2222")
    assert (sri.full_name, sri.phone, sri.proxy_phone) == (
        "Sri Rahayu",
        "6281300000001",
        "6285711112222",
    )
    assert sri.user_id == login.id and vendor_for_user(login.id) == sri
    assert find_vendor_by_nik(f.nik(1)[:4] + " " + f.nik(1)[4:]) == sri
    assert find_vendor_by_phone("081300000001") == sri
    with pytest.raises(VendorInvalid) as caught:
        create_vendor(VendorInput(nik="123", full_name="", phone="999"), actor=f.ADMIN)
    assert {e["field"] for e in caught.value.details["errors"]} == {"nik", "full_name", "phone"}
    with pytest.raises(VendorConflict, match="is already registered"):
        f.vendor(1)
    with pytest.raises(VendorConflict, match="already registered to another vendor"):
        f.vendor(2, phone="081300000001")
    with pytest.raises(VendorInvalid, match="give the name of the person who pays"):
        f.vendor(3, proxy_phone="085711112222")


def test_a_new_phone_moves_the_login_with_it(ctx: Flask) -> None:
    login = make_user(Role.VENDOR, secret="135790", phone="081300000001")
    sri = f.vendor(1)
    update_vendor(
        sri.id,
        VendorInput(nik=sri.nik, full_name="Sri Rahayu", phone="0813-9999-0001"),
        actor=f.ADMIN,
    )
    db.session.expire_all()
    assert db.session.get(User, login.id).phone == "6281399990001"  # type: ignore[union-attr]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "vendor.updated"))
    assert event is not None and set(event.details["changes"]) == {"full_name", "phone"}


def test_search_by_name_nik_phone_and_stall(ctx: Flask) -> None:
    sri = f.vendor(1, name="Sri Rahayu")
    budi = f.vendor(2, name="Budi Santoso")
    f.placement(sri, f.stall("KLEWER", "A", "012"))
    f.placement(budi, f.stall("LEGI", "B-LD", "L012", stall_type="los"))

    def names(text: str, actor: Actor = f.ADMIN) -> list[str]:
        return [v.full_name for v in search_vendors(text, actor).items]

    assert names("rahayu") == ["Sri Rahayu"]
    assert names(f.nik(2)) == ["Budi Santoso"]
    assert names(f.nik(2)[:8]) == ["Budi Santoso", "Sri Rahayu"]  # both born the same day
    assert names("0813-0000-0002") == ["Budi Santoso"]
    assert names("KLEWER-A-012") == ["Sri Rahayu"]
    assert names("L012") == ["Budi Santoso"]
    assert names("100%_") == []  # LIKE wildcards are literal
    assert names("", officer("LEGI")) == ["Budi Santoso"]
    assert names("Sri", officer("LEGI")) == []


def test_officers_reach_only_vendors_of_their_markets(ctx: Flask) -> None:
    sri = f.vendor(1)
    f.placement(sri, f.stall("KLEWER"))
    legi = officer("LEGI")
    with pytest.raises(Forbidden):
        get_vendor(sri.id, legi)
    assert get_vendor(sri.id, officer("KLEWER", "LEGI")) == sri
    assert [o.market.code for o in list_markets(legi)] == ["LEGI"]
    with pytest.raises(Forbidden):
        update_vendor(sri.id, VendorInput(sri.nik, "Renamed", sri.phone), actor=legi)
    assert sri.full_name != "Renamed"


def test_an_officer_registers_a_vendor_with_a_first_stall(ctx: Flask) -> None:
    legi = officer("LEGI")
    data = VendorInput(nik=f.nik(5), full_name="Tumini", phone="081300000005")
    with pytest.raises(VendorInvalid, match="together with their first stall"):
        create_vendor(data, actor=legi)
    klewer_stall = f.stall("KLEWER")
    with pytest.raises(Forbidden):
        create_vendor(
            data, actor=legi, first_stall=FirstPlacement(klewer_stall, None, date(2026, 1, 1))
        )
    assert find_vendor_by_nik(f.nik(5)) is None  # nothing half-written
    legi_stall = f.stall("LEGI", "A", "K001")
    vendor = create_vendor(
        data, actor=legi, first_stall=FirstPlacement(legi_stall, "SHP-L-1", date(2026, 1, 1))
    )
    assert get_vendor(vendor.id, legi) == vendor
