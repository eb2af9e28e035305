"""Relief decisions and payment-channel outages: what they change and who recorded them.

A relief (Pasal 99-102) carries its decision-letter number and a scope (market, block, vendor or
the whole city) over a span of days. Exemptions and reductions change what the billing run
charges for those days; exemptions and deferrals stop the sanction clock. An outage stops the
sanction clock (and warning letters) for its market while the channel is down. Bills already
issued keep their principal; finance voids and reissues them if a relief should change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from retribusi import clock
from retribusi.audit import record_event
from retribusi.db import AnySession, transaction
from retribusi.extensions import db
from retribusi.levy.errors import conflict, invalid, not_found
from retribusi.levy.models import Outage, Relief, ReliefKind
from vendors.models import Block, Market, Vendor

CHANNELS = ("all", "va", "qris", "cash", "card")
MAX_SPAN_DAYS = 3 * 366  # a decision covers at most three years; longer is a typo


def _text(
    field: str, value: str | None, low: int, high: int, *, required: bool = True
) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned and not required:
        return None
    if not low <= len(cleaned) <= high:
        raise invalid(
            field, "required" if not cleaned else "length", f"{field}: {low}-{high} characters"
        )
    return cleaned


def _day(field: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise invalid(field, "malformed", f"{field} is a date written YYYY-MM-DD") from None


def _market(session: AnySession, code: str | None) -> Market | None:
    if not code:
        return None
    market = session.scalars(select(Market).where(Market.code == code)).first()
    if market is None:
        raise invalid("market", "unknown", f"no market {code!r}")
    return market


@dataclass(frozen=True)
class ReliefInput:
    kind: str
    decision_number: str
    decided_on: Any
    valid_from: Any
    valid_to: Any
    market_code: str | None = None
    block_code: str | None = None
    vendor_id: int | None = None
    reduction_pct: Any = None
    note: str | None = None


def _reduction(kind: ReliefKind, value: Any) -> Decimal | None:
    if kind is not ReliefKind.REDUCTION:
        if value not in (None, ""):
            raise invalid("reduction_pct", "not_reduction", "only a reduction has a percentage")
        return None
    try:
        pct = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise invalid("reduction_pct", "malformed", "a percentage, e.g. 50") from None
    if not pct.is_finite() or not 0 < pct < 100:
        raise invalid("reduction_pct", "out_of_range", "a reduction is more than 0 and under 100 %")
    if pct != pct.quantize(Decimal("0.01")):
        raise invalid("reduction_pct", "too_precise", "at most two decimal places")
    return pct


def add_relief(data: ReliefInput, *, actor: str) -> Relief:
    try:
        kind = ReliefKind(str(data.kind).strip())
    except ValueError:
        raise invalid("kind", "unknown", "exemption, reduction or deferral") from None
    number = _text("decision_number", data.decision_number, 3, 100)
    decided_on = _day("decided_on", data.decided_on)
    valid_from = _day("valid_from", data.valid_from)
    valid_to = _day("valid_to", data.valid_to)
    if valid_to < valid_from:
        raise invalid("valid_to", "before_start", "a relief cannot end before it starts")
    if (valid_to - valid_from).days > MAX_SPAN_DAYS:
        raise invalid("valid_to", "too_long", "a relief covers at most three years")
    pct = _reduction(kind, data.reduction_pct)
    note = _text("note", data.note, 0, 300, required=False)
    session = db.session
    market = _market(session, data.market_code)
    block_id = None
    if data.block_code:
        if market is None:
            raise invalid("block", "needs_market", "a block is named within a market")
        block_id = session.scalar(
            select(Block.id).where(Block.market_id == market.id, Block.code == data.block_code)
        )
        if block_id is None:
            raise invalid("block", "unknown", f"no block {data.block_code!r} in {market.code}")
    if data.vendor_id is not None and session.get(Vendor, data.vendor_id) is None:
        raise invalid("vendor", "unknown", f"no vendor {data.vendor_id}")
    relief = Relief(
        kind=kind,
        decision_number=number,
        decided_on=decided_on,
        market_id=market.id if market else None,
        block_id=block_id,
        vendor_id=data.vendor_id,
        valid_from=valid_from,
        valid_to=valid_to,
        reduction_pct=pct,
        note=note,
        created_at=clock.now(),
        created_by=actor,
    )
    with transaction(session):
        session.add(relief)
        session.flush()
        record_event(
            session,
            actor=actor,
            action="relief.added",
            subject_type="relief",
            subject_id=relief.id,
            details={
                "kind": kind.value,
                "decision_number": number,
                "market": data.market_code,
                "block": data.block_code,
                "vendor_id": data.vendor_id,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
                "reduction_pct": str(pct) if pct is not None else None,
            },
        )
    return relief


def revoke_relief(relief_id: int, *, reason: str, actor: str) -> Relief:
    """Take back a relief entered by mistake: it stops applying to bills issued and sanctions
    computed from now on; bills already issued keep their lines."""
    cleaned = _text("reason", reason, 10, 300)
    with transaction(db.session):
        relief = db.session.get(Relief, relief_id)
        if relief is None:
            raise not_found("relief", f"no relief {relief_id}")
        if relief.revoked_at is not None:
            raise conflict("relief", "revoked", "this relief is already revoked")
        relief.revoked_at = clock.now()
        relief.revoked_by = actor
        relief.revoke_reason = cleaned
        record_event(
            db.session,
            actor=actor,
            action="relief.revoked",
            subject_type="relief",
            subject_id=relief.id,
            details={"reason": cleaned},
        )
    return relief


def add_outage(
    *,
    market_code: str | None,
    channel: str,
    started_on: Any,
    ended_on: Any = None,
    reference: str,
    note: str | None = None,
    actor: str,
) -> Outage:
    if channel not in CHANNELS:
        raise invalid("channel", "unknown", f"channel is one of {', '.join(CHANNELS)}")
    start = _day("started_on", started_on)
    end = None if ended_on in (None, "") else _day("ended_on", ended_on)
    if end is not None and end < start:
        raise invalid("ended_on", "before_start", "an outage cannot end before it starts")
    if start > clock.today_wib():
        raise invalid("started_on", "future", "record an outage once it has begun")
    cleaned = _text("reference", reference, 3, 120)
    note_text = _text("note", note, 0, 300, required=False)
    session = db.session
    market = _market(session, market_code)
    outage = Outage(
        market_id=market.id if market else None,
        channel=channel,
        started_on=start,
        ended_on=end,
        reference=cleaned,
        note=note_text,
        created_at=clock.now(),
        created_by=actor,
    )
    with transaction(session):
        session.add(outage)
        session.flush()
        record_event(
            session,
            actor=actor,
            action="outage.recorded",
            subject_type="outage",
            subject_id=outage.id,
            details={
                "market": market_code,
                "channel": channel,
                "started_on": start.isoformat(),
                "ended_on": end.isoformat() if end else None,
                "reference": cleaned,
            },
        )
    return outage


def end_outage(outage_id: int, *, ended_on: Any, actor: str) -> Outage:
    end = _day("ended_on", ended_on)
    with transaction(db.session):
        outage = db.session.get(Outage, outage_id)
        if outage is None:
            raise not_found("outage", f"no outage {outage_id}")
        if outage.ended_on is not None:
            raise conflict("outage", "ended", "this outage already has an end date")
        if end < outage.started_on:
            raise invalid("ended_on", "before_start", "an outage cannot end before it starts")
        outage.ended_on = end
        record_event(
            db.session,
            actor=actor,
            action="outage.ended",
            subject_type="outage",
            subject_id=outage.id,
            details={"ended_on": end.isoformat()},
        )
    return outage


def list_reliefs(limit: int = 200) -> list[Relief]:
    return list(
        db.session.scalars(
            select(Relief).order_by(Relief.valid_from.desc(), Relief.id.desc()).limit(limit)
        )
    )


def list_outages(limit: int = 200) -> list[Outage]:
    return list(
        db.session.scalars(
            select(Outage).order_by(Outage.started_on.desc(), Outage.id.desc()).limit(limit)
        )
    )
