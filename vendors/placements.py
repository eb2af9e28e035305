"""The SHP (*Surat Hak Penempatan*) lifecycle: issue, renew, transfer, revoke, return, expire.

An SHP runs three years from its start (Perda 1/2010; renewed every 3 years). Its status moves
only through :func:`transition`, which writes the history (``PlacementEvent``) and the audit
event. Renewal and transfer (*balik nama*) end the old SHP and issue a new one that points back
to it (``previous_id``), so a stall's chain of holders is never lost.

Days: an SHP ended on day D (``ended_on = D``) no longer covers D; a new SHP issued on D covers
it. Each day of a stall therefore has at most one liable holder (:meth:`Placement.covers`).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from retribusi import clock
from retribusi.audit import record_event
from retribusi.db import transaction
from retribusi.errors import NotFound
from retribusi.extensions import db
from retribusi.money import MAX_AMOUNT_IDR, MoneyError, parse_idr
from vendors import fields
from vendors.models import (
    Market,
    Placement,
    PlacementEvent,
    PlacementStatus,
    Stall,
    StallStatus,
    Vendor,
)
from vendors.problems import N_, FieldError, Problem, VendorInvalid, conflict, invalid
from vendors.services import (
    Actor,
    Page,
    VendorInput,
    active_placement_on,
    add_vendor_in_transaction,
    check_vendor,
    check_vendor_clashes,
    find_vendor_by_nik,
    get_market,
    paginate,
    stall_for_reference,
    stall_transition,
    today,
)

SHP_TERM_YEARS = 3
# Balik nama fee = TNTD × area × 10 % (reported for Pasar Klewer; domain notes §0, §7 D).
BALIK_NAMA_RATE = Decimal("0.10")
DEFAULT_VACANCY_MONTHS = 2  # Pasar Legi: revoked after 2 months unused


class RevocationReason(StrEnum):
    VACANCY = "vacancy"  # the place stood unused (2 months at Pasar Legi)
    ARREARS = "arrears"  # after the third warning letter (SP3)
    BREACH = "breach"  # sold, pledged or sublet against Perda 1/2010 Pasal 35


# The SHP state machine: only an SHP in force can end, and it ends once.
TRANSITIONS: dict[PlacementStatus, frozenset[PlacementStatus]] = {
    PlacementStatus.ACTIVE: frozenset(
        {
            PlacementStatus.EXPIRED,
            PlacementStatus.REVOKED,
            PlacementStatus.RETURNED,
            PlacementStatus.TRANSFERRED,
        }
    ),
}


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; the 31st becomes the month's last day when it has fewer."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shp_expiry(start_on: date) -> date:
    """Start + 3 years (29 February → 28 February)."""
    return add_months(start_on, 12 * SHP_TERM_YEARS)


def balik_nama_fee_idr(stall: Stall) -> int | None:
    """TNTD per m² × area × 10 %, rounded half up to the rupiah; ``None`` without a TNTD."""
    if stall.tntd_idr_per_m2 is None:
        return None
    fee = Decimal(stall.tntd_idr_per_m2) * stall.area_m2 * BALIK_NAMA_RATE
    return int(fee.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- reading ----------------------------------------------------------------------------------


def get_placement(placement_id: int, actor: Actor) -> Placement:
    placement = db.session.get(Placement, placement_id, options=[selectinload(Placement.events)])
    if placement is None:
        raise NotFound("no such SHP")
    actor.check_market(placement.stall.market.code)
    return placement


def list_placements(
    actor: Actor,
    *,
    market_code: str | None = None,
    stall_reference: str | None = None,
    vendor_id: int | None = None,
    status: PlacementStatus | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[Placement]:
    """SHPs, newest first, filtered by market, stall, vendor and status; officers see only
    their markets' (an unknown or foreign market or stall is refused, not an empty page)."""
    query = (
        select(Placement)
        .join(Stall, Placement.stall_id == Stall.id)
        .join(Market, Stall.market_id == Market.id)
        .options(selectinload(Placement.vendor), selectinload(Placement.previous))
    )
    if market_code:
        get_market(market_code, actor)
        query = query.where(Market.code == market_code.upper())
    if stall_reference:
        query = query.where(Stall.id == stall_for_reference("stall", stall_reference).id)
    if actor.market_scope is not None:
        query = query.where(Market.code.in_(sorted(actor.market_scope)))
    if vendor_id is not None:
        query = query.where(Placement.vendor_id == vendor_id)
    if status is not None:
        query = query.where(Placement.status == status)
    return paginate(query.order_by(Placement.id.desc()), page, page_size)


def find_placement_by_number(number: str) -> Placement | None:
    return db.session.scalar(select(Placement).where(Placement.number == number.strip()))


def placement_chain(placement: Placement) -> list[Placement]:
    """The SHPs this one descends from (renewals, transfers), itself, and its successors."""
    chain = [placement]
    seen = {placement.id}
    while chain[0].previous is not None and chain[0].previous.id not in seen:
        chain.insert(0, chain[0].previous)
        seen.add(chain[0].id)
    while True:
        after = db.session.scalar(
            select(Placement).where(Placement.previous_id == chain[-1].id).limit(1)
        )
        if after is None or after.id in seen:
            return chain
        chain.append(after)
        seen.add(after.id)


# --- the one transition -----------------------------------------------------------------------


def _event(
    placement: Placement, action: str, on: date, actor: Actor, details: dict[str, Any]
) -> None:
    db.session.add(
        PlacementEvent(
            placement_id=placement.id,
            occurred_at=clock.now(),
            effective_on=on,
            action=action,
            actor=actor.label,
            details=details,
        )
    )


def _audit(placement: Placement, action: str, actor: Actor, details: dict[str, Any]) -> None:
    db.session.flush()
    record_event(
        db.session,
        actor=actor.label,
        action=f"shp.{action}",
        subject_type="placement",
        subject_id=placement.id,
        details={"number": placement.number, "stall": placement.stall.reference, **details},
    )


def transition(
    placement: Placement,
    to: PlacementStatus,
    *,
    action: str,
    on: date,
    actor: Actor,
    details: dict[str, Any],
) -> None:
    """End an SHP in force (inside the caller's transaction): the only code that sets a
    placement's status after it is issued. It no longer covers ``on`` (or its expiry, if
    earlier); when nothing replaces it the stall becomes vacant."""
    if to not in TRANSITIONS.get(placement.status, frozenset()):
        raise conflict(
            "status",
            N_("SHP %(number)s is %(status)s and cannot be %(action)s"),
            number=placement.number,
            status=placement.status.value,
            action=action,
        )
    placement.status = to
    placement.ended_on = min(on, placement.expires_on)
    _event(placement, action, on, actor, details)
    _audit(placement, action, actor, {"vendor_nik": placement.vendor.nik, **details})


def _free_stall(stall: Stall, actor: Actor, reason: str) -> None:
    db.session.flush()
    if stall.status is StallStatus.ACTIVE:
        stall_transition(stall, StallStatus.VACANT, actor=actor, reason=reason)


# --- issuing ----------------------------------------------------------------------------------


def _default_number(stall: Stall, start_on: date) -> str:
    issued = db.session.scalar(
        select(func.count()).select_from(Placement).where(Placement.stall_id == stall.id)
    )
    return f"SHP/{start_on.year}/{stall.id}/{int(issued or 0) + 1}"


def _check_on(on: date, placement: Placement | None = None) -> None:
    if on > today():
        raise invalid("on", N_("%(value)s is in the future"), value=on.isoformat())
    if placement is not None and on < placement.start_on:
        raise invalid(
            "on",
            N_("%(value)s is before the SHP started (%(start)s)"),
            value=on.isoformat(),
            start=placement.start_on.isoformat(),
        )


def issue_in_transaction(
    *,
    vendor: Vendor,
    stall: Stall,
    number: str | None,
    start_on: date,
    actor: Actor,
    occupant_name: str | None = None,
    previous: Placement | None = None,
    transfer_fee_idr: int | None = None,
    details: dict[str, Any] | None = None,
) -> Placement:
    """Issue an SHP on a stall (the caller commits). Refused on a damaged or closed stall, on a
    stall with an SHP in force (the database refuses it too) and on a number already used."""
    actor.check_market(stall.market.code)
    number = fields.parse_shp_number(number) if number else _default_number(stall, start_on)
    if stall.status in {StallStatus.DAMAGED, StallStatus.CLOSED}:
        raise conflict(
            "stall",
            N_("stall %(reference)s is %(status)s: no SHP can be issued on it"),
            reference=stall.reference,
            status=stall.status.value,
        )
    holder = active_placement_on(stall.id)
    if holder is not None:
        raise conflict(
            "stall",
            N_("stall %(reference)s already has SHP %(number)s in force"),
            reference=stall.reference,
            number=holder.number,
        )
    if find_placement_by_number(number) is not None:
        raise conflict("number", N_("SHP number %(value)s is already used"), value=number)
    placement = Placement(
        number=number,
        vendor_id=vendor.id,
        stall_id=stall.id,
        start_on=start_on,
        expires_on=shp_expiry(start_on),
        ended_on=None,
        status=PlacementStatus.ACTIVE,
        occupant_name=occupant_name,
        transfer_fee_idr=transfer_fee_idr,
        previous_id=previous.id if previous else None,
        created_at=clock.now(),
    )
    db.session.add(placement)
    db.session.flush()
    if stall.status is not StallStatus.ACTIVE:
        stall_transition(stall, StallStatus.ACTIVE, actor=actor, reason=f"SHP {number} issued")
    facts = {"vendor_nik": vendor.nik, "expires_on": placement.expires_on.isoformat()}
    facts |= details or {}
    _event(placement, "issued", start_on, actor, facts)
    _audit(placement, "issued", actor, facts)
    return placement


def _committing(work: Any) -> Placement:
    """Run a lifecycle step in one transaction; a concurrent change to the same stall or
    number surfaces as a conflict, not a crash."""
    try:
        with transaction(db.session):
            result: Placement = work()
    except IntegrityError:
        raise conflict(
            "stall", N_("the stall or SHP number changed meanwhile; reload and try again")
        ) from None
    return result


def _stall_for_update(stall_id: int, actor: Actor) -> Stall:
    stall = db.session.get(Stall, stall_id)
    if stall is None:
        raise NotFound("no such stall")
    actor.check_market(stall.market.code)
    return stall


def issue_placement(
    *,
    vendor_id: int,
    stall_id: int,
    start_on: date,
    actor: Actor,
    number: str | None = None,
    occupant_name: str | None = None,
) -> Placement:
    """Issue a new SHP to a vendor on a vacant stall."""
    stall = _stall_for_update(stall_id, actor)
    vendor = db.session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound("no such vendor")
    occupant = _optional_name("occupant_name", occupant_name)
    number = _number(number)
    return _committing(
        lambda: issue_in_transaction(
            vendor=vendor,
            stall=stall,
            number=number,
            start_on=start_on,
            occupant_name=occupant,
            actor=actor,
        )
    )


def _number(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return fields.parse_shp_number(raw)
    except FieldError as error:
        raise VendorInvalid([Problem.of("number", error)]) from None


def _optional_name(column: str, raw: str | None) -> str | None:
    try:
        return fields.parse_optional_name(raw)
    except FieldError as error:
        raise VendorInvalid([Problem.of(column, error)]) from None


# --- renewal, transfer, revocation, return, expiry --------------------------------------------


def renew_placement(
    placement_id: int, *, actor: Actor, on: date | None = None, number: str | None = None
) -> Placement:
    """Herregistrasi: a new SHP for the same holder and stall, three years from ``on``.

    An SHP in force ends on ``on``; one that already expired is renewed if nothing else was
    issued on the stall since."""
    old = get_placement(placement_id, actor)
    on = on or today()
    _check_on(on, old)
    number = _number(number)
    if old.status is PlacementStatus.EXPIRED:
        later = db.session.scalar(
            select(Placement.id).where(
                Placement.stall_id == old.stall_id,
                Placement.start_on >= old.start_on,
                Placement.id != old.id,
            )
        )
        if later is not None:
            raise conflict(
                "status", N_("the stall has had another SHP since; issue a new one instead")
            )
    elif old.status is not PlacementStatus.ACTIVE:
        raise conflict(
            "status",
            N_("SHP %(number)s is %(status)s and cannot be renewed"),
            number=old.number,
            status=old.status.value,
        )

    def work() -> Placement:
        if old.status is PlacementStatus.ACTIVE:
            transition(
                old, PlacementStatus.EXPIRED, action="renewed", on=on, actor=actor, details={}
            )
        else:
            _event(old, "renewed", on, actor, {})
        db.session.flush()
        new = issue_in_transaction(
            vendor=old.vendor,
            stall=old.stall,
            number=number,
            start_on=on,
            occupant_name=old.occupant_name,
            previous=old,
            actor=actor,
            details={"renewal_of": old.number},
        )
        return new

    return _committing(work)


def transfer_placement(
    placement_id: int,
    *,
    to: VendorInput,
    actor: Actor,
    on: date | None = None,
    number: str | None = None,
    fee_idr: int | str | None = None,
) -> Placement:
    """Balik nama: the SHP passes to another vendor (registered now if their NIK is new).

    The fee is recorded on the new SHP: the one given, else TNTD × area × 10 %. Perda 1/2010
    forbids selling an SHP; this records the transfers Disdag approves."""
    old = get_placement(placement_id, actor)
    on = on or today()
    _check_on(on, old)
    number = _number(number)
    fee = _transfer_fee(old.stall, fee_idr)
    existing = find_vendor_by_nik(to.nik)
    values = None if existing is not None else check_vendor(to)
    if values is not None:
        check_vendor_clashes(values, None)
    if existing is not None and existing.id == old.vendor_id:
        raise invalid("nik", N_("the SHP already belongs to this vendor"))

    def work() -> Placement:
        receiver = (
            existing if existing is not None else add_vendor_in_transaction(values or {}, actor)
        )
        transition(
            old,
            PlacementStatus.TRANSFERRED,
            action="transferred",
            on=on,
            actor=actor,
            details={"to_nik": receiver.nik, "fee_idr": fee},
        )
        db.session.flush()
        return issue_in_transaction(
            vendor=receiver,
            stall=old.stall,
            number=number,
            start_on=on,
            previous=old,
            transfer_fee_idr=fee,
            actor=actor,
            details={"transfer_of": old.number, "from_nik": old.vendor.nik, "fee_idr": fee},
        )

    return _committing(work)


def _transfer_fee(stall: Stall, fee_idr: int | str | None) -> int:
    if fee_idr is None or (isinstance(fee_idr, str) and not fee_idr.strip()):
        fee = balik_nama_fee_idr(stall)
        if fee is None:
            raise invalid("fee_idr", N_("the stall has no TNTD: give the balik nama fee"))
        return fee
    try:
        return parse_idr(
            fee_idr.strip() if isinstance(fee_idr, str) else fee_idr,
            allow_zero=True,
            max_idr=MAX_AMOUNT_IDR,
        )
    except MoneyError:
        raise invalid(
            "fee_idr", N_("%(value)s is not a whole rupiah amount"), value=str(fee_idr)[:40]
        ) from None


def _vacancy_months() -> int:
    return int(current_app.config.get("VENDORS_VACANCY_MONTHS", DEFAULT_VACANCY_MONTHS))


def revoke_placement(
    placement_id: int,
    *,
    reason: str,
    actor: Actor,
    on: date | None = None,
    vacant_since: date | None = None,
    note: str = "",
) -> Placement:
    """Revoke (*cabut*) an SHP. For vacancy, the place must have stood unused for the configured
    months (2 by default). Arrears billed before ``on`` remain owed by the former holder."""
    placement = get_placement(placement_id, actor)
    on = on or today()
    _check_on(on, placement)
    try:
        why = RevocationReason(reason)
    except ValueError:
        raise invalid(
            "reason", N_("%(value)s is not a reason: vacancy, arrears or breach"), value=reason
        ) from None
    details: dict[str, Any] = {"reason": why.value, "note": note.strip()[:500]}
    if why is RevocationReason.VACANCY:
        months = _vacancy_months()
        if vacant_since is None:
            raise invalid("vacant_since", N_("give the date since when the place is unused"))
        if add_months(vacant_since, months) > on:
            raise invalid(
                "vacant_since",
                N_("unused only since %(since)s: revocation needs %(months)s months"),
                since=vacant_since.isoformat(),
                months=months,
            )
        details["vacant_since"] = vacant_since.isoformat()

    def work() -> Placement:
        transition(
            placement,
            PlacementStatus.REVOKED,
            action="revoked",
            on=on,
            actor=actor,
            details=details,
        )
        _free_stall(placement.stall, actor, f"SHP {placement.number} revoked")
        return placement

    return _committing(work)


def return_placement(placement_id: int, *, actor: Actor, on: date | None = None) -> Placement:
    """The holder gives the SHP back to Disdag; the stall becomes vacant."""
    placement = get_placement(placement_id, actor)
    on = on or today()
    _check_on(on, placement)

    def work() -> Placement:
        transition(
            placement, PlacementStatus.RETURNED, action="returned", on=on, actor=actor, details={}
        )
        _free_stall(placement.stall, actor, f"SHP {placement.number} returned")
        return placement

    return _committing(work)


def record_occupant(placement_id: int, *, occupant_name: str | None, actor: Actor) -> Placement:
    """Record who actually trades in the stall when it is not the holder (the bill still goes
    to the holder)."""
    placement = get_placement(placement_id, actor)
    occupant = _optional_name("occupant_name", occupant_name)
    if placement.status is not PlacementStatus.ACTIVE:
        raise conflict("status", N_("only an SHP in force has an occupant"))
    if occupant == placement.occupant_name:
        return placement
    with transaction(db.session):
        before = placement.occupant_name
        placement.occupant_name = occupant
        _event(placement, "occupant_recorded", today(), actor, {"from": before, "to": occupant})
        _audit(placement, "occupant_recorded", actor, {"from": before, "to": occupant})
    return placement


def expire_lapsed(*, actor: Actor, on: date | None = None) -> list[str]:
    """Mark every SHP in force whose term ended on or before ``on`` as expired (ending on its
    expiry date) and free its stall. Returns the SHP numbers; safe to run daily."""
    on = on or today()
    lapsed = list(
        db.session.scalars(
            select(Placement)
            .where(Placement.status == PlacementStatus.ACTIVE, Placement.expires_on <= on)
            .order_by(Placement.id)
        )
    )
    with transaction(db.session):
        for placement in lapsed:
            transition(
                placement,
                PlacementStatus.EXPIRED,
                action="expired",
                on=placement.expires_on,
                actor=actor,
                details={},
            )
            _free_stall(placement.stall, actor, f"SHP {placement.number} expired")
    return [p.number for p in lapsed]
