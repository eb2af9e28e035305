"""Registry use cases: markets and their class, stalls, vendors, look-ups and scope.

Each public function that writes is one transaction and records an audit event in it. Functions
take an :class:`Actor`: who acts (for the audit trail) and, for an officer, which markets they may
touch. The SHP lifecycle is in :mod:`vendors.placements`, the bulk import in
:mod:`vendors.importer`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.auth.services import check_secret, create_user, set_secret
from retribusi.db import transaction
from retribusi.errors import Forbidden, NotFound, ValidationFailed
from retribusi.extensions import db
from vendors import fields
from vendors.models import (
    Block,
    Market,
    MarketClass,
    MarketClassPeriod,
    Placement,
    PlacementStatus,
    Stall,
    StallStatus,
    StallType,
    Vendor,
)
from vendors.nik import NikError, parse_nik
from vendors.problems import N_, FieldError, Problem, VendorInvalid, conflict, invalid

# The class recorded in the market list is taken to hold from the Perda that set today's
# tariff structure (Perda 5/2016); a later move is a new period (set_market_class).
MARKET_LIST_CLASS_FROM = date(2016, 1, 1)
MAX_PAGE_SIZE = 200
SUMMARY_PARTS_KEY = "vendors.summary_parts"

SummaryPart = Callable[[Vendor], dict[str, Any]]


# --- who acts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: ``label`` goes to the audit trail; ``user`` (if any) limits the markets."""

    label: str
    user: User | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(f"user:{user.id}", user)

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli")

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label)

    @property
    def market_scope(self) -> frozenset[str] | None:
        """The market codes this actor may see, or ``None`` for every market."""
        if self.user is None or self.user.role in {Role.ADMIN, Role.FINANCE}:
            return None
        if self.user.role is Role.OFFICER:
            return self.user.market_codes
        return frozenset()

    def check_market(self, market_code: str) -> None:
        if self.user is not None:
            require_market(self.user, market_code)

    def may_see_market(self, market_code: str) -> bool:
        scope = self.market_scope
        return scope is None or market_code in scope


def today() -> date:
    return clock.today_wib()


def _field(column: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except FieldError as error:
        raise VendorInvalid([Problem.of(column, error)]) from None


def _collect(checks: Iterable[tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
    """Run every field check, then refuse with all the problems at once."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for column, parse in checks:
        try:
            values[column] = parse()
        except FieldError as error:
            problems.append(Problem.of(column, error))
    if problems:
        raise VendorInvalid(problems)
    return values


def _parse_nik(raw: str) -> str:
    try:
        return parse_nik(raw, today=today()).value
    except NikError as error:
        raise FieldError(error.message, **error.params) from None


# --- markets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketRow:
    code: str
    name: str
    kecamatan: str
    market_class: str
    class_source: str


def market_list_rows() -> list[MarketRow]:
    """The 44 markets shipped in ``vendors/data/markets.csv``."""
    text = resources.files("vendors").joinpath("data/markets.csv").read_text(encoding="utf-8")
    return [
        MarketRow(r["code"], r["name"], r["kecamatan"], r["class"], r["class_source"])
        for r in csv.DictReader(text.splitlines())
    ]


MARKET_NAME_MAX = 120  # Market.name
KECAMATAN_MAX = 60  # Market.kecamatan
BLOCK_NAME_MAX = 80  # Block.name


def load_markets(actor: Actor) -> int:
    """Create every market of the shipped list that is missing; return how many were created."""
    rows = market_list_rows()
    now = clock.now()
    with transaction(db.session):
        known = set(db.session.scalars(select(Market.code)))
        created = []
        for row in rows:
            if row.code in known:
                continue
            market = Market(code=row.code, name=row.name, kecamatan=row.kecamatan, created_at=now)
            market.classes.append(
                MarketClassPeriod(
                    market_class=MarketClass(row.market_class),
                    valid_from=MARKET_LIST_CLASS_FROM,
                    valid_to=None,
                    source=f"market list ({row.class_source})",
                )
            )
            db.session.add(market)
            created.append(row.code)
        if created:
            db.session.flush()
            record_event(
                db.session,
                actor=actor.label,
                action="markets.loaded",
                subject_type="market",
                subject_id="*",
                details={"codes": created},
            )
    return len(created)


def get_market(code: str, actor: Actor) -> Market:
    market = db.session.scalar(select(Market).where(Market.code == code.upper()))
    if market is None:
        raise NotFound(f"no market {code!r}")
    actor.check_market(market.code)
    return market


@dataclass(frozen=True)
class MarketOverview:
    market: Market
    market_class: MarketClass | None
    stalls: int
    by_status: dict[str, int]
    active_placements: int


def list_markets(actor: Actor) -> list[MarketOverview]:
    """Markets the actor may see, with stall counts by status and active SHPs."""
    query = select(Market).order_by(Market.name)
    scope = actor.market_scope
    if scope is not None:
        query = query.where(Market.code.in_(sorted(scope)))
    markets = db.session.scalars(query).all()
    counts: dict[int, dict[str, int]] = {}
    for market_id, status, n in db.session.execute(
        select(Stall.market_id, Stall.status, func.count()).group_by(Stall.market_id, Stall.status)
    ):
        counts.setdefault(market_id, {})[StallStatus(status).value] = n
    placed = dict(
        db.session.execute(
            select(Stall.market_id, func.count())
            .join(Placement, Placement.stall_id == Stall.id)
            .where(Placement.status == PlacementStatus.ACTIVE)
            .group_by(Stall.market_id)
        ).all()
    )
    day = today()
    return [
        MarketOverview(
            market=m,
            market_class=m.class_on(day),
            stalls=sum(counts.get(m.id, {}).values()),
            by_status=counts.get(m.id, {}),
            active_placements=int(placed.get(m.id, 0)),
        )
        for m in markets
    ]


def set_market_class(
    code: str, market_class: str, *, valid_from: date, source: str, actor: Actor
) -> MarketClassPeriod:
    """Move a market to another class from ``valid_from`` (e.g. Pasar Jebres from IIB to IB).

    The open period ends the day before; bills for days before ``valid_from`` keep the old class.
    """
    market = get_market(code, actor)
    new_class = _field("market_class", lambda: fields.parse_market_class(market_class))
    source = _field("source", lambda: fields.required(source))
    current = market.classes[-1] if market.classes else None
    if current is not None:
        if valid_from <= current.valid_from:
            raise invalid(
                "valid_from",
                N_("the new class must start after %(date)s, when the current one started"),
                date=current.valid_from.isoformat(),
            )
        if current.market_class is new_class:
            raise invalid(
                "market_class", N_("the market is already class %(value)s"), value=new_class.value
            )
    with transaction(db.session):
        if current is not None:
            current.valid_to = valid_from - timedelta(days=1)
        period = MarketClassPeriod(
            market_class=new_class, valid_from=valid_from, valid_to=None, source=source
        )
        market.classes.append(period)
        db.session.flush()
        record_event(
            db.session,
            actor=actor.label,
            action="market.class_changed",
            subject_type="market",
            subject_id=market.code,
            details={
                "from": current.market_class.value if current else None,
                "to": new_class.value,
                "valid_from": valid_from.isoformat(),
                "source": source,
            },
        )
    return period


def rename_market(code: str, *, name: str, kecamatan: str, actor: Actor) -> Market:
    """Correct a market's name or kecamatan (a misspelling in the shipped list, a market renamed
    by the city). Bills and pages name the market through it, so they follow; the code stays."""
    market = get_market(code, actor)
    values = _collect(
        [
            ("name", lambda: fields.parse_place_name(name, max_len=MARKET_NAME_MAX)),
            ("kecamatan", lambda: fields.parse_place_name(kecamatan, max_len=KECAMATAN_MAX)),
        ]
    )
    before = {"name": market.name, "kecamatan": market.kecamatan}
    if values == before:
        raise invalid("name", N_("nothing changed"))
    with transaction(db.session):
        market.name, market.kecamatan = values["name"], values["kecamatan"]
        record_event(
            db.session,
            actor=actor.label,
            action="market.renamed",
            subject_type="market",
            subject_id=market.code,
            details={"before": before, "after": values},
        )
    return market


def rename_block(code: str, block_code: str, *, name: str, actor: Actor) -> Block:
    """Give a block the name people use ("Blok A" → "Los Daging, lantai 1"). Its code stays: it
    is part of every stall's label, the QRIS cards and the import files."""
    market = get_market(code, actor)
    block = _find_block(market, block_code)
    if block is None:
        raise NotFound(f"no block {block_code[:20]!r} in {market.code}")
    parsed = _collect([("name", lambda: fields.parse_place_name(name, max_len=BLOCK_NAME_MAX))])
    new_name = parsed["name"]
    if new_name == block.name:
        raise invalid("name", N_("nothing changed"))
    with transaction(db.session):
        before, block.name = block.name, new_name
        record_event(
            db.session,
            actor=actor.label,
            action="block.renamed",
            subject_type="market",
            subject_id=market.code,
            details={"block": block.code, "before": before, "after": new_name},
        )
    return block


# --- stalls -----------------------------------------------------------------------------------

# Manual moves of a stall's status. A stall with an active SHP cannot be declared vacant or
# closed: end the SHP first (revoke or return), which frees the stall itself.
STALL_TRANSITIONS: dict[StallStatus, frozenset[StallStatus]] = {
    StallStatus.ACTIVE: frozenset({StallStatus.VACANT, StallStatus.DAMAGED, StallStatus.CLOSED}),
    StallStatus.VACANT: frozenset({StallStatus.ACTIVE, StallStatus.DAMAGED, StallStatus.CLOSED}),
    StallStatus.DAMAGED: frozenset({StallStatus.ACTIVE, StallStatus.VACANT, StallStatus.CLOSED}),
    StallStatus.CLOSED: frozenset({StallStatus.ACTIVE, StallStatus.VACANT, StallStatus.DAMAGED}),
}
_NEEDS_NO_HOLDER = frozenset({StallStatus.VACANT, StallStatus.CLOSED})


def active_placement_on(stall_id: int) -> Placement | None:
    return db.session.scalar(
        select(Placement).where(
            Placement.stall_id == stall_id, Placement.status == PlacementStatus.ACTIVE
        )
    )


def stall_transition(stall: Stall, to: StallStatus, *, actor: Actor, reason: str) -> None:
    """The one place a stall's status changes (inside the caller's transaction)."""
    if stall.status is to:
        return
    if to not in STALL_TRANSITIONS[stall.status]:
        raise invalid(
            "status",
            N_("a stall cannot go from %(from)s to %(to)s"),
            **{"from": stall.status.value, "to": to.value},
        )
    if to in _NEEDS_NO_HOLDER and active_placement_on(stall.id) is not None:
        raise conflict(
            "status",
            N_("the stall has an active SHP: revoke or return it before marking it %(to)s"),
            to=to.value,
        )
    before = stall.status
    stall.status = to
    db.session.flush()
    record_event(
        db.session,
        actor=actor.label,
        action="stall.status_changed",
        subject_type="stall",
        subject_id=stall.id,
        details={"from": before.value, "to": to.value, "reason": reason},
    )


def _find_block(market: Market, code: str) -> Block | None:
    return db.session.scalar(select(Block).where(Block.market_id == market.id, Block.code == code))


def _block(market: Market, code: str) -> Block:
    block = _find_block(market, code)
    if block is None:
        block = Block(market_id=market.id, code=code, name=f"Blok {code}")
        db.session.add(block)
        db.session.flush()
    return block


def create_stall(
    *,
    market_code: str,
    block_code: str,
    number: str,
    stall_type: str,
    area_m2: str | Decimal,
    tntd_idr_per_m2: str | int | None = None,
    actor: Actor,
) -> Stall:
    """Add a stall (vacant until an SHP is issued on it); the block is created if new."""
    values = _collect(
        [
            ("market_code", lambda: fields.parse_market_code(market_code)),
            ("block", lambda: fields.parse_block_code(block_code)),
            ("stall_number", lambda: fields.parse_stall_number(number)),
            ("stall_type", lambda: fields.parse_stall_type(stall_type)),
            ("area_m2", lambda: fields.parse_area(area_m2)),
            ("tntd_idr_per_m2", lambda: fields.parse_tntd(tntd_idr_per_m2)),
        ]
    )
    market = get_market(values["market_code"], actor)
    try:
        with transaction(db.session):
            block = _block(market, values["block"])
            stall = Stall(
                market_id=market.id,
                block_id=block.id,
                number=values["stall_number"],
                stall_type=values["stall_type"],
                area_m2=values["area_m2"],
                tntd_idr_per_m2=values["tntd_idr_per_m2"],
                status=StallStatus.VACANT,
                created_at=clock.now(),
            )
            db.session.add(stall)
            db.session.flush()
            record_event(
                db.session,
                actor=actor.label,
                action="stall.created",
                subject_type="stall",
                subject_id=stall.id,
                details=_stall_details(stall, market.code, block.code),
            )
    except IntegrityError:
        raise conflict(
            "stall_number",
            N_("stall %(reference)s already exists"),
            reference=f"{market.code}-{values['block']}-{values['stall_number']}",
        ) from None
    return stall


def _stall_details(stall: Stall, market_code: str, block_code: str) -> dict[str, Any]:
    return {
        "reference": f"{market_code}-{block_code}-{stall.number}",
        "type": stall.stall_type.value,
        "area_m2": str(stall.area_m2),
        "tntd_idr_per_m2": stall.tntd_idr_per_m2,
        "status": stall.status.value,
    }


def get_stall(stall_id: int, actor: Actor) -> Stall:
    stall = db.session.get(Stall, stall_id)
    if stall is None:
        raise NotFound("no such stall")
    actor.check_market(stall.market.code)
    return stall


def update_stall(
    stall_id: int,
    *,
    stall_type: str,
    area_m2: str | Decimal,
    tntd_idr_per_m2: str | int | None,
    status: str,
    reason: str,
    actor: Actor,
) -> Stall:
    """Correct a stall's type, area or TNTD, or move its status (damaged after a fire…)."""
    stall = get_stall(stall_id, actor)
    values = _collect(
        [
            ("stall_type", lambda: fields.parse_stall_type(stall_type)),
            ("area_m2", lambda: fields.parse_area(area_m2)),
            ("tntd_idr_per_m2", lambda: fields.parse_tntd(tntd_idr_per_m2)),
            ("status", lambda: _parse_status(status)),
            ("reason", lambda: fields.required(reason)),
        ]
    )
    with transaction(db.session):
        before = _stall_details(stall, stall.market.code, stall.block.code)
        stall.stall_type = values["stall_type"]
        stall.area_m2 = values["area_m2"]
        stall.tntd_idr_per_m2 = values["tntd_idr_per_m2"]
        stall_transition(stall, values["status"], actor=actor, reason=values["reason"])
        after = _stall_details(stall, stall.market.code, stall.block.code)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        changed.pop("status", None)  # stall_transition recorded it
        if changed:
            db.session.flush()
            record_event(
                db.session,
                actor=actor.label,
                action="stall.updated",
                subject_type="stall",
                subject_id=stall.id,
                details={"changes": changed, "reason": values["reason"]},
            )
    return stall


def _parse_status(raw: str) -> StallStatus:
    try:
        return StallStatus(raw)
    except ValueError:
        raise FieldError(N_("%(value)s is not a stall status"), value=str(raw)[:20]) from None


def stall_by_reference(reference: str) -> Stall | None:
    """``KLEWER-A-012`` → the stall. Block codes may contain ``-``, so every split is tried."""
    text = reference.strip().upper()
    if len(text) > 80 or "-" not in text:
        return None
    market_code, _, rest = text.partition("-")
    candidates = [(rest[:i], rest[i + 1 :]) for i, ch in enumerate(rest) if ch == "-"]
    for block_code, number in candidates:
        stall = db.session.scalar(
            select(Stall)
            .join(Block, Stall.block_id == Block.id)
            .join(Market, Stall.market_id == Market.id)
            .where(Market.code == market_code, Block.code == block_code, Stall.number == number)
        )
        if stall is not None:
            return stall
    return None


def stall_for_reference(column: str, reference: str | None) -> Stall:
    """The stall a person named (``KLEWER-A-012``), or a refusal naming the field."""
    stall = stall_by_reference(reference or "")
    if stall is None:
        raise invalid(
            column,
            N_("no stall %(value)s (write it like KLEWER-A-012)"),
            value=(reference or "")[:80],
        )
    return stall


def market_stalls(
    code: str, actor: Actor, *, block_code: str | None = None
) -> tuple[Market, list[Block], dict[int, Placement]]:
    """A market's blocks with their stalls, and each stall's active SHP (by stall id)."""
    market = get_market(code, actor)
    query = (
        select(Block)
        .where(Block.market_id == market.id)
        .order_by(Block.code)
        .options(selectinload(Block.stalls))
    )
    if block_code:
        query = query.where(Block.code == block_code.upper())
    blocks = list(db.session.scalars(query))
    active = {
        p.stall_id: p
        for p in db.session.scalars(
            select(Placement)
            .join(Stall, Placement.stall_id == Stall.id)
            .where(Stall.market_id == market.id, Placement.status == PlacementStatus.ACTIVE)
            .options(selectinload(Placement.vendor))
        )
    }
    return market, blocks, active


def list_stalls(
    actor: Actor,
    *,
    market_code: str | None = None,
    block_code: str | None = None,
    status: StallStatus | None = None,
    stall_type: StallType | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[Stall]:
    query = select(Stall).join(Market, Stall.market_id == Market.id)
    if market_code:
        get_market(market_code, actor)
        query = query.where(Market.code == market_code.upper())
    scope = actor.market_scope
    if scope is not None:
        query = query.where(Market.code.in_(sorted(scope)))
    if block_code:
        query = query.join(Block, Stall.block_id == Block.id).where(
            Block.code == block_code.upper()
        )
    if status is not None:
        query = query.where(Stall.status == status)
    if stall_type is not None:
        query = query.where(Stall.stall_type == stall_type)
    return paginate(query.order_by(Stall.id), page, page_size)


# --- pages of results -------------------------------------------------------------------------


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def paginate(query: Select[T], page: int, page_size: int) -> Page[T]:
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(items, page, page_size, int(total or 0))


# --- vendors ----------------------------------------------------------------------------------


def find_vendor_by_nik(nik: str) -> Vendor | None:
    """The vendor with this NIK (spaces allowed), or ``None``. No scope check: callers decide."""
    value = "".join(nik.split())
    if len(value) != 16 or not (value.isascii() and value.isdigit()):
        return None
    return db.session.scalar(select(Vendor).where(Vendor.nik == value))


def find_vendor_by_phone(phone: str) -> Vendor | None:
    """The vendor whose phone (any common spelling) this is, or ``None``."""
    try:
        normalised = fields.parse_phone(phone)
    except FieldError:
        return None
    return db.session.scalar(select(Vendor).where(Vendor.phone == normalised))


def vendor_for_user(user_id: int) -> Vendor | None:
    """The vendor record behind a vendor's phone-and-PIN login."""
    return db.session.scalar(select(Vendor).where(Vendor.user_id == user_id))


# Templates later packages add to a vendor's staff page (e.g. "take a cash payment"), shown
# with ``vendor`` in context: app.extensions[VENDOR_ACTIONS].
VENDOR_ACTIONS = "vendors.vendor_actions"


def vendors_paid_by(user: User) -> list[Vendor]:
    """The vendors a vendor-role login pays for: their own record, and every vendor who named
    this phone as their proxy payer (a son or daughter paying for an elderly parent)."""
    if user.role is not Role.VENDOR:
        return []
    clauses = [Vendor.user_id == user.id]
    if user.phone:
        clauses.append(Vendor.proxy_phone == user.phone)
    return list(db.session.scalars(select(Vendor).where(or_(*clauses)).order_by(Vendor.id)))


def vendor_paid_by(user: User, vendor_id: int) -> Vendor:
    """``vendor_id`` if ``user`` pays for them; 403 otherwise."""
    for vendor in vendors_paid_by(user):
        if vendor.id == vendor_id:
            return vendor
    raise Forbidden("this account is not yours to pay")


def _in_markets(codes: Iterable[str]) -> Any:
    """SQL: the vendor holds or held an SHP on a stall in one of these markets."""
    return exists(
        select(Placement.id)
        .join(Stall, Placement.stall_id == Stall.id)
        .join(Market, Stall.market_id == Market.id)
        .where(Placement.vendor_id == Vendor.id, Market.code.in_(sorted(codes)))
    )


def vendor_markets(vendor_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(Market.code)
            .join(Stall, Stall.market_id == Market.id)
            .join(Placement, Placement.stall_id == Stall.id)
            .where(Placement.vendor_id == vendor_id)
            .distinct()
        )
    )


def check_vendor_access(vendor: Vendor, actor: Actor) -> None:
    """Officers reach a vendor who holds or held an SHP in one of their markets."""
    scope = actor.market_scope
    if scope is None:
        return
    if not vendor_markets(vendor.id) & scope:
        raise Forbidden("this vendor has no stall in your markets")


def get_vendor(vendor_id: int, actor: Actor) -> Vendor:
    vendor = db.session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound("no such vendor")
    check_vendor_access(vendor, actor)
    return vendor


def get_vendor_by_nik(nik: str, actor: Actor) -> Vendor:
    vendor = find_vendor_by_nik(nik)
    if vendor is None:
        raise NotFound("no vendor with this NIK")
    check_vendor_access(vendor, actor)
    return vendor


def search_vendors(
    query_text: str, actor: Actor, *, page: int = 1, page_size: int = 25
) -> Page[Vendor]:
    """Vendors by name (part of it), NIK (or its start), phone (any spelling) or stall
    (``KLEWER-A-012`` or a stall number), limited to the actor's markets."""
    text = " ".join(query_text.split())[:80]
    query = select(Vendor)
    scope = actor.market_scope
    if scope is not None:
        query = query.where(_in_markets(scope))
    if text:
        query = query.where(or_(*_matches(text)))
    return paginate(query.order_by(Vendor.full_name, Vendor.id), page, page_size)


def _matches(text: str) -> list[Any]:
    conditions: list[Any] = [func.lower(Vendor.full_name).contains(text.lower(), autoescape=True)]
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and len(digits) >= 4 and all(ch.isdigit() or ch in " +-.()" for ch in text):
        conditions.append(Vendor.nik.startswith(digits))
        phone = "62" + digits[1:] if digits.startswith("0") else digits
        conditions.append(Vendor.phone.contains(phone, autoescape=True))
    stall_ids = select(Stall.id).where(Stall.number == text.upper())
    by_reference = stall_by_reference(text)
    if by_reference is not None:
        stall_ids = select(Stall.id).where(Stall.id == by_reference.id)
    conditions.append(
        exists(
            select(Placement.id).where(
                Placement.vendor_id == Vendor.id,
                Placement.status == PlacementStatus.ACTIVE,
                Placement.stall_id.in_(stall_ids),
            )
        )
    )
    return conditions


def _login_for_phone(phone: str) -> int | None:
    """A vendor login with this phone that no vendor record claims yet."""
    user = db.session.scalar(select(User).where(User.phone == phone, User.role == Role.VENDOR))
    if user is None:
        return None
    taken = db.session.scalar(select(Vendor.id).where(Vendor.user_id == user.id))
    return None if taken is not None else user.id


@dataclass(frozen=True)
class VendorInput:
    nik: str
    full_name: str
    phone: str
    proxy_name: str | None = None
    proxy_phone: str | None = None


def check_vendor(data: VendorInput) -> dict[str, Any]:
    values = _collect(
        [
            ("nik", lambda: _parse_nik(data.nik)),
            ("full_name", lambda: fields.parse_name(data.full_name)),
            ("phone", lambda: fields.parse_phone(data.phone)),
            ("proxy_name", lambda: fields.parse_optional_name(data.proxy_name)),
            ("proxy_phone", lambda: fields.parse_optional_phone(data.proxy_phone)),
        ]
    )
    if values["proxy_phone"] and not values["proxy_name"]:
        raise invalid("proxy_name", N_("give the name of the person who pays"))
    return values


def check_vendor_clashes(values: dict[str, Any], vendor_id: int | None) -> None:
    others = select(Vendor).where(Vendor.id != vendor_id) if vendor_id else select(Vendor)
    if db.session.scalar(others.where(Vendor.nik == values["nik"])) is not None:
        raise conflict("nik", N_("NIK %(value)s is already registered"), value=values["nik"])
    if db.session.scalar(others.where(Vendor.phone == values["phone"])) is not None:
        raise conflict(
            "phone",
            N_("phone %(value)s is already registered to another vendor"),
            value=values["phone"],
        )


def add_vendor_in_transaction(values: dict[str, Any], actor: Actor) -> Vendor:
    """Insert a vendor from checked values (see :func:`check_vendor`) in the caller's
    transaction, linking the vendor login that has the same phone, if any."""
    vendor = Vendor(
        nik=values["nik"],
        full_name=values["full_name"],
        phone=values["phone"],
        proxy_name=values["proxy_name"],
        proxy_phone=values["proxy_phone"],
        user_id=_login_for_phone(values["phone"]),
        created_at=clock.now(),
    )
    db.session.add(vendor)
    db.session.flush()
    record_event(
        db.session,
        actor=actor.label,
        action="vendor.created",
        subject_type="vendor",
        subject_id=vendor.id,
        details=_vendor_details(vendor),
    )
    return vendor


def create_vendor(
    data: VendorInput, *, actor: Actor, first_stall: FirstPlacement | None = None
) -> Vendor:
    """Register a vendor. An officer must place them on a stall in one of their markets at the
    same time (``first_stall``): a vendor with no stall would be in nobody's market."""
    values = check_vendor(data)
    if actor.market_scope is not None and first_stall is None:
        raise invalid("stall", N_("officers register a vendor together with their first stall"))
    check_vendor_clashes(values, None)
    from vendors.placements import issue_in_transaction

    try:
        with transaction(db.session):
            vendor = add_vendor_in_transaction(values, actor)
            if first_stall is not None:
                issue_in_transaction(
                    vendor=vendor,
                    stall=first_stall.stall,
                    number=first_stall.number,
                    start_on=first_stall.start_on,
                    actor=actor,
                )
    except IntegrityError:
        raise conflict("nik", N_("this NIK or phone was registered meanwhile")) from None
    return vendor


@dataclass(frozen=True)
class FirstPlacement:
    stall: Stall
    number: str | None
    start_on: date


def _vendor_details(vendor: Vendor) -> dict[str, Any]:
    return {
        "nik": vendor.nik,
        "full_name": vendor.full_name,
        "phone": vendor.phone,
        "proxy_name": vendor.proxy_name,
        "proxy_phone": vendor.proxy_phone,
    }


def update_vendor(vendor_id: int, data: VendorInput, *, actor: Actor) -> Vendor:
    """Correct a vendor's NIK, name, phone or proxy payer. The phone is also their login, so a
    linked login moves to the new number with it."""
    vendor = get_vendor(vendor_id, actor)
    values = check_vendor(data)
    check_vendor_clashes(values, vendor.id)
    before = _vendor_details(vendor)
    try:
        with transaction(db.session):
            for key in ("nik", "full_name", "phone", "proxy_name", "proxy_phone"):
                setattr(vendor, key, values[key])
            after = _vendor_details(vendor)
            changed = {
                k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]
            }
            if not changed:
                return vendor
            if "phone" in changed:
                _move_login(vendor)
            db.session.flush()
            record_event(
                db.session,
                actor=actor.label,
                action="vendor.updated",
                subject_type="vendor",
                subject_id=vendor.id,
                details={"changes": changed},
            )
    except IntegrityError:
        raise conflict("phone", N_("this phone is already some other account's login")) from None
    return vendor


def _move_login(vendor: Vendor) -> None:
    if vendor.user_id is None:
        vendor.user_id = _login_for_phone(vendor.phone)
        return
    user = db.session.get(User, vendor.user_id)
    if user is not None:
        user.phone = vendor.phone


# --- what later issues read -------------------------------------------------------------------


def placements_of(vendor_id: int) -> list[Placement]:
    return list(
        db.session.scalars(
            select(Placement)
            .where(Placement.vendor_id == vendor_id)
            .order_by(Placement.start_on, Placement.id)
            .options(selectinload(Placement.events), selectinload(Placement.stall))
        )
    )


def active_placements_of(vendor_id: int) -> list[Placement]:
    """The SHPs a vendor holds now: what they are billed for."""
    return [p for p in placements_of(vendor_id) if p.status is PlacementStatus.ACTIVE]


def placements_covering(
    first_day: date, last_day: date, *, market_codes: Iterable[str] | None = None
) -> Select[Placement]:
    """A query for every SHP that covers at least one day of ``first_day..last_day`` (inclusive):
    the placements a billing run for that period must consider. See :meth:`Placement.covers`."""
    end = func.coalesce(Placement.ended_on, Placement.expires_on)
    query = (
        select(Placement)
        .where(Placement.start_on <= last_day, end > first_day)
        .order_by(Placement.id)
    )
    if market_codes is not None:
        query = (
            query.join(Stall, Placement.stall_id == Stall.id)
            .join(Market, Stall.market_id == Market.id)
            .where(Market.code.in_(sorted(set(market_codes))))
        )
    return query


def register_summary_part(app: Flask, part: SummaryPart) -> None:
    """Later packages add to ``vendors show`` and the vendor API (VA numbers, bills, balance)."""
    app.extensions.setdefault(SUMMARY_PARTS_KEY, []).append(part)


def vendor_summary(vendor: Vendor) -> dict[str, Any]:
    """The vendor, their stalls and SHPs with history, plus what later packages register."""
    placements = placements_of(vendor.id)
    summary: dict[str, Any] = {
        "vendor": {
            "id": vendor.id,
            "nik": vendor.nik,
            "full_name": vendor.full_name,
            "phone": vendor.phone,
            "proxy_name": vendor.proxy_name,
            "proxy_phone": vendor.proxy_phone,
            "has_login": vendor.user_id is not None,
        },
        "stalls": [stall_dict(p.stall) for p in placements if p.status is PlacementStatus.ACTIVE],
        "placements": [placement_dict(p, events=True) for p in placements],
    }
    for part in current_app.extensions.get(SUMMARY_PARTS_KEY, []):
        summary.update(part(vendor))
    return summary


def stall_dict(stall: Stall) -> dict[str, Any]:
    return {
        "id": stall.id,
        "reference": stall.reference,
        "market": stall.market.code,
        "block": stall.block.code,
        "number": stall.number,
        "type": stall.stall_type.value,
        "area_m2": str(stall.area_m2),
        "tntd_idr_per_m2": stall.tntd_idr_per_m2,
        "status": stall.status.value,
    }


def placement_dict(placement: Placement, *, events: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": placement.id,
        "number": placement.number,
        "vendor_nik": placement.vendor.nik,
        "stall": placement.stall.reference,
        "start_on": placement.start_on.isoformat(),
        "expires_on": placement.expires_on.isoformat(),
        "ended_on": placement.ended_on.isoformat() if placement.ended_on else None,
        "status": placement.status.value,
        "occupant_name": placement.occupant_name,
        "transfer_fee_idr": placement.transfer_fee_idr,
        "previous_number": placement.previous.number if placement.previous else None,
    }
    if events:
        body["events"] = [
            {
                "action": e.action,
                "effective_on": e.effective_on.isoformat(),
                "occurred_at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "details": e.details,
            }
            for e in placement.events
        ]
    return body


# --- the vendor's login -------------------------------------------------------------------------


def set_vendor_pin(vendor_id: int, pin: str, confirm: str, *, actor: Actor) -> Vendor:
    """Set or reset a vendor's 6-digit PIN at the market (the officer hands the phone back, the
    vendor types it twice). A vendor without a login gets one: their phone and this PIN."""
    vendor = get_vendor(vendor_id, actor)
    if pin != confirm:
        raise VendorInvalid([Problem("confirm", N_("the two PINs differ"))])
    if not (len(pin) == 6 and pin.isascii() and pin.isdigit()):
        raise VendorInvalid([Problem("pin", N_("a PIN is exactly 6 digits"))])
    try:
        check_secret(Role.VENDOR, pin)
    except ValidationFailed as error:  # the rules on guessable PINs live with the logins
        raise VendorInvalid([Problem("pin", N_("this PIN is too easy to guess"))]) from error
    label = actor.label
    if vendor.user_id is None:
        user = create_user(
            role=Role.VENDOR,
            full_name=vendor.full_name,
            secret=pin,
            phone=vendor.phone,
            actor=label,
        )
        with transaction(db.session):
            vendor.user_id = user.id
            record_event(
                db.session,
                actor=label,
                action="vendor.login_created",
                subject_type="vendor",
                subject_id=vendor.id,
                details={"user_id": user.id},
            )
    else:
        set_secret(vendor.user_id, pin, actor=label)
    return vendor
