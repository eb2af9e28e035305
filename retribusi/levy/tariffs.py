"""Tariff versions: add, withdraw (only if never billed), list, load the illustrative table.

A version is never edited. A change is a new version of the same scope, starting after the latest
one and after the last day already billed in its scope, so no issued bill is ever repriced.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from sqlalchemy import func, select

from retribusi import clock
from retribusi.audit import record_event
from retribusi.db import AnySession, transaction
from retribusi.extensions import db
from retribusi.levy.errors import conflict, invalid, not_found
from retribusi.levy.models import Bill, BillLine, BillStatus, TariffVersion
from retribusi.levy.rules import Component, TariffBasis, TariffScope, TariffTerms, TariffVersionRow
from vendors.models import Market, MarketClass, MarketClassPeriod, StallType

ILLUSTRATIVE_CSV = "tariffs-illustrative.csv"
# The annex's real start date is unknown (domain.md §8); the table is loaded valid from the HKPD
# transition so that every demo month has a tariff.
ILLUSTRATIVE_VALID_FROM = date(2024, 1, 1)
MAX_RATE_PLACES = 4  # the column keeps 4 decimal places; more would be silently cut
MAX_PER_DAY_RATE = Decimal(100_000_000)


@dataclass(frozen=True)
class TariffInput:
    """A new version as a caller gives it (strings from a form or the CLI are fine)."""

    stall_type: str
    component: str
    basis: str
    rate: Any
    legal_basis: str
    valid_from: Any
    valid_to: Any = None
    market_code: str | None = None
    market_class: str | None = None
    default_tntd_idr_per_m2: Any = None
    illustrative: bool = False
    note: str | None = None


def _choice(field: str, value: object, enum: type[Any]) -> Any:
    try:
        return enum(str(value).strip())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise invalid(field, "unknown", f"{field} must be one of {allowed}") from None


def _date(field: str, value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise invalid(field, "malformed", f"{field} is a date written YYYY-MM-DD") from None


def parse_rate(value: object, basis: TariffBasis) -> Decimal:
    if isinstance(value, float | bool):
        raise invalid("rate", "malformed", "give the rate as text or a Decimal, never a float")
    try:
        rate = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise invalid("rate", "malformed", f"not a number: {str(value)[:20]!r}") from None
    if not rate.is_finite():
        raise invalid("rate", "malformed", "the rate must be a finite number")
    if rate <= 0:
        raise invalid("rate", "not_positive", "the rate must be above zero")
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_RATE_PLACES:
        raise invalid("rate", "too_precise", "the rate has more than 4 decimal places")
    if basis is TariffBasis.TNTD_PCT_DAY and rate > 100:
        raise invalid("rate", "too_large", "a percentage of TNTD is at most 100")
    if rate > MAX_PER_DAY_RATE:
        raise invalid("rate", "too_large", "the rate is implausibly large")
    return rate


def _default_tntd(value: object, basis: TariffBasis) -> int | None:
    if value is None or value == "":
        return None
    if basis is not TariffBasis.TNTD_PCT_DAY:
        raise invalid("default_tntd_idr_per_m2", "not_tntd", "a default TNTD needs a TNTD basis")
    try:
        tntd = int(str(value).strip())
    except ValueError:
        raise invalid("default_tntd_idr_per_m2", "malformed", "whole rupiah per m²") from None
    if not 0 < tntd <= 100_000_000:
        raise invalid("default_tntd_idr_per_m2", "out_of_range", "between 1 and 100,000,000")
    return tntd


def _scope_filter(version: TariffVersion) -> list[Any]:
    return [
        TariffVersion.stall_type == version.stall_type,
        TariffVersion.component == version.component,
        TariffVersion.withdrawn_at.is_(None),
        TariffVersion.market_id.is_(None)
        if version.market_id is None
        else TariffVersion.market_id == version.market_id,
        TariffVersion.market_class.is_(None)
        if version.market_class is None
        else TariffVersion.market_class == version.market_class,
    ]


def last_billed_day(session: AnySession, version: TariffVersion) -> date | None:
    """The last service day already billed (live bills) for the stalls a scope would cover."""
    query = (
        select(func.max(BillLine.service_to))
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(
            Bill.status != BillStatus.VOIDED,
            Bill.stall_type == version.stall_type,
            BillLine.component == version.component,
        )
    )
    if version.market_id is not None:
        query = query.where(Bill.market_id == version.market_id)
    elif version.market_class is not None:
        markets = select(MarketClassPeriod.market_id).where(
            MarketClassPeriod.market_class == version.market_class
        )
        query = query.where(Bill.market_id.in_(markets))
    result: date | None = session.scalar(query)
    return result


def _check_sequence(session: AnySession, version: TariffVersion) -> None:
    latest = session.scalars(
        select(TariffVersion)
        .where(*_scope_filter(version))
        .order_by(TariffVersion.valid_from.desc())
        .limit(1)
    ).first()
    inside = latest is not None and (
        version.valid_from <= latest.valid_from
        or (latest.valid_to is not None and version.valid_from <= latest.valid_to)
    )
    if latest is not None and inside:
        until = f" to {latest.valid_to}" if latest.valid_to else ""
        raise conflict(
            "valid_from",
            "overlapping",
            f"overlaps version {latest.id} of the same scope (from {latest.valid_from}{until}); "
            "a new version must start after it",
        )
    billed = last_billed_day(session, version)
    if billed is not None and version.valid_from <= billed:
        raise conflict(
            "valid_from",
            "backdated",
            f"days up to {billed} are already billed in this scope; a new version must start "
            "after that (void and reissue bills to correct them)",
        )


def _build(session: AnySession, data: TariffInput, actor: str) -> TariffVersion:
    stall_type = _choice("stall_type", data.stall_type, StallType)
    component = _choice("component", data.component, Component)
    basis = _choice("basis", data.basis, TariffBasis)
    rate = parse_rate(data.rate, basis)
    legal_basis = (data.legal_basis or "").strip()
    if not 3 <= len(legal_basis) <= 200:
        raise invalid("legal_basis", "required", "name the Perda or Perwali (3-200 characters)")
    valid_from = _date("valid_from", data.valid_from)
    valid_to = None if data.valid_to in (None, "") else _date("valid_to", data.valid_to)
    if valid_to is not None and valid_to < valid_from:
        raise invalid("valid_to", "before_start", "a version cannot end before it starts")
    market_id = None
    market_class = None
    if data.market_code:
        if data.market_class:
            raise invalid("market_class", "two_scopes", "scope a version to a market OR a class")
        market_id = session.scalar(select(Market.id).where(Market.code == data.market_code))
        if market_id is None:
            raise invalid("market_code", "unknown", f"no market {data.market_code!r}")
    elif data.market_class and data.market_class != "*":
        market_class = _choice("market_class", data.market_class, MarketClass)
    note = (data.note or "").strip() or None
    if note is not None and len(note) > 300:
        raise invalid("note", "too_long", "a note has at most 300 characters")
    version = TariffVersion(
        market_id=market_id,
        market_class=market_class,
        stall_type=stall_type,
        component=component,
        basis=basis,
        rate=rate,
        default_tntd_idr_per_m2=_default_tntd(data.default_tntd_idr_per_m2, basis),
        legal_basis=legal_basis,
        valid_from=valid_from,
        valid_to=valid_to,
        illustrative=bool(data.illustrative),
        note=note,
        created_at=clock.now(),
        created_by=actor,
    )
    _check_sequence(session, version)
    return version


def _event_details(version: TariffVersion, scope: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "stall_type": version.stall_type.value,
        "component": version.component.value,
        "basis": version.basis.value,
        "rate": str(version.rate),
        "legal_basis": version.legal_basis,
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        "illustrative": version.illustrative,
    }


def add_tariff_version(data: TariffInput, *, actor: str) -> TariffVersion:
    """Add a version; refuse a bad rate, an overlap with its scope's versions, or a backdate."""
    with transaction(db.session):
        version = _build(db.session, data, actor)
        db.session.add(version)
        db.session.flush()
        record_event(
            db.session,
            actor=actor,
            action="tariff.version_added",
            subject_type="tariff_version",
            subject_id=version.id,
            details=_event_details(version, data.market_code or data.market_class or "*"),
        )
    return version


def withdraw_tariff_version(version_id: int, *, reason: str, actor: str) -> TariffVersion:
    """Take back a version entered by mistake. Refused once it has billed anything."""
    reason = reason.strip()
    if not 10 <= len(reason) <= 300:
        raise invalid("reason", "required", "give a reason of 10-300 characters")
    with transaction(db.session):
        version = db.session.get(TariffVersion, version_id)
        if version is None:
            raise not_found("tariff", f"no tariff version {version_id}")
        if version.withdrawn_at is not None:
            raise conflict("tariff", "withdrawn", "this version is already withdrawn")
        used = db.session.scalar(
            select(func.count()).select_from(BillLine).where(BillLine.tariff_id == version.id)
        )
        if used:
            raise conflict("tariff", "billed", "this version has billed: add a new version instead")
        version.withdrawn_at = clock.now()
        version.withdrawn_reason = reason
        record_event(
            db.session,
            actor=actor,
            action="tariff.version_withdrawn",
            subject_type="tariff_version",
            subject_id=version.id,
            details={"reason": reason},
        )
    return version


def list_tariffs(*, include_withdrawn: bool = False, limit: int = 500) -> list[TariffVersion]:
    query = select(TariffVersion).order_by(
        TariffVersion.stall_type,
        TariffVersion.component,
        TariffVersion.market_id.is_not(None),
        TariffVersion.market_class,
        TariffVersion.valid_from,
        TariffVersion.id,
    )
    if not include_withdrawn:
        query = query.where(TariffVersion.withdrawn_at.is_(None))
    return list(db.session.scalars(query.limit(limit)))


def tariff_rows(session: AnySession) -> list[TariffVersionRow]:
    """Every live version, in the pure form the pricing uses."""
    rows = session.execute(
        select(
            TariffVersion.id,
            TariffVersion.market_id,
            TariffVersion.market_class,
            TariffVersion.stall_type,
            TariffVersion.component,
            TariffVersion.basis,
            TariffVersion.rate,
            TariffVersion.legal_basis,
            TariffVersion.default_tntd_idr_per_m2,
            TariffVersion.illustrative,
            TariffVersion.valid_from,
            TariffVersion.valid_to,
        ).where(TariffVersion.withdrawn_at.is_(None))
    ).all()
    return [
        TariffVersionRow(
            terms=TariffTerms(
                id=row.id,
                component=Component(row.component),
                basis=TariffBasis(row.basis),
                rate=row.rate,
                legal_basis=row.legal_basis,
                default_tntd_idr_per_m2=row.default_tntd_idr_per_m2,
                illustrative=row.illustrative,
            ),
            scope=TariffScope(
                market_id=row.market_id,
                market_class=row.market_class.value if row.market_class else None,
                stall_type=StallType(row.stall_type).value,
                component=Component(row.component),
            ),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )
        for row in rows
    ]


def illustrative_inputs() -> list[TariffInput]:
    """The illustrative table (domain.md §7) as versions. Kios/los market service is 0.1 % of TNTD
    a day, with the table's TNTD as the default for stalls that have none assessed."""
    text = resources.files("retribusi.levy").joinpath("data", ILLUSTRATIVE_CSV).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    inputs = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        tntd = row["tntd_idr_per_m2"].strip()
        by_tntd = bool(tntd)
        inputs.append(
            TariffInput(
                stall_type=row["stall_type"],
                component=row["component"],
                basis=(TariffBasis.TNTD_PCT_DAY if by_tntd else TariffBasis.PER_M2_DAY).value,
                rate="0.1" if by_tntd else row["rate_idr_per_m2_day"],
                default_tntd_idr_per_m2=tntd or None,
                legal_basis=row["legal_basis"],
                valid_from=ILLUSTRATIVE_VALID_FROM,
                market_class=row["market_class"],
                illustrative=True,
                note="ILLUSTRATIVE: not Solo's legal tariff (domain.md §7)",
            )
        )
    return inputs


def load_illustrative_tariffs(*, actor: str) -> int:
    """Load the illustrative table once; returns the number of versions added (0 if loaded)."""
    loaded = db.session.scalar(
        select(func.count()).select_from(TariffVersion).where(TariffVersion.illustrative)
    )
    if loaded:
        return 0
    with transaction(db.session):
        versions = []
        for data in illustrative_inputs():
            version = _build(db.session, data, actor)
            db.session.add(version)
            db.session.flush()
            versions.append(version)
        record_event(
            db.session,
            actor=actor,
            action="tariff.illustrative_loaded",
            subject_type="tariff_version",
            subject_id=versions[0].id if versions else 0,
            details={"versions": len(versions), "valid_from": ILLUSTRATIVE_VALID_FROM.isoformat()},
        )
    return len(versions)


def tariff_dict(version: TariffVersion) -> dict[str, object]:
    return {
        "id": version.id,
        "scope": version.scope_label,
        "stall_type": version.stall_type.value,
        "component": version.component.value,
        "basis": version.basis.value,
        "rate": str(version.rate),
        "default_tntd_idr_per_m2": version.default_tntd_idr_per_m2,
        "legal_basis": version.legal_basis,
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        "illustrative": version.illustrative,
        "withdrawn": version.withdrawn_at is not None,
    }
