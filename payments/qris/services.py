"""QRIS use cases: static stall codes, dynamic bill codes, and who may see which.

* A **static** code (01=11, no amount) per stall carries the stall's label in 62-07 (terminal
  label), so an open-amount payment reported with that label is attributed to the stall. It is a
  pure function of the merchant identity and the stall and is computed when asked for.
* A **dynamic** code (01=12) carries what is owed today on the chosen bills (54), a bill label
  (62-01) and a reference unique to the code (62-05); it is stored (``qris_codes``) with an expiry
  so the payment notification can be mapped back to its bills.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from payments.qris.builder import MerchantIdentity, build_dynamic, build_static
from payments.qris.codec import QRIS_MAX_TRANSACTION_IDR
from payments.qris.config import settings
from payments.qris.models import QrisCode, QrisCodeBill
from payments.va.services import va_numbers_for_vendor
from retribusi import clock
from retribusi.auth.access import require_market
from retribusi.auth.models import Role, User
from retribusi.db import transaction
from retribusi.errors import Forbidden
from retribusi.extensions import db
from retribusi.levy.billing import OpenBill, open_bills_for_vendor
from retribusi.levy.errors import invalid, not_found
from retribusi.levy.models import Bill
from vendors.models import Block, Market, Placement, PlacementStatus, Stall, Vendor
from vendors.services import vendor_paid_by, vendors_paid_by

#: At most this many bills on one code: two years of monthly bills (the ledger's own bound).
MAX_BILLS_PER_CODE: Final = 24
#: Tag 62 sub-fields hold at most 25 characters (EMVCo Table 3.7).
MAX_LABEL_CHARS: Final = 25
# What the builder accepts in tag 62 (payments.qris.builder._REFERENCE_RE).
_LABEL_RE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z./_-]{0,24}")
# The short label of a stall whose reference does not fit: cannot look like a reference, which
# always has a "-" (MARKET-BLOCK-NUMBER) while this has none.
_STALL_ID_LABEL_RE: Final = re.compile(r"STALL\.([0-9]{1,18})")
_REFERENCE_PARTS_RE: Final = re.compile(r"([A-Z][A-Z0-9_]{0,31})-(.+)-([^-]+)")
_BILL_NUMBER_RE: Final = re.compile(
    r"(SKRD|KARCIS|STRD)/([0-9]{4})/([0-9]{2})/([A-Z0-9_]+)/([0-9]+)"
)
# References: "Q" + 12 upper-case hex digits (48 random bits; the unique index is the guard).
_REFERENCE_BYTES: Final = 6
_REFERENCE_TRIES: Final = 3


# --------------------------------------------------------------------------------- static codes


def stall_label(stall: Stall) -> str:
    """What a stall's static code carries in 62-07: its reference (``KLEWER-A-012``) when that
    fits 25 characters and reads back unambiguously (no "-" in the stall number), else
    ``STALL.<id>``."""
    reference = stall.reference
    if "-" not in stall.number and _LABEL_RE.fullmatch(reference):
        return reference
    return f"STALL.{stall.id}"


def stall_for_label(label: str) -> Stall | None:
    """The stall a 62-07 label names, or ``None``."""
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        return None
    by_id = _STALL_ID_LABEL_RE.fullmatch(label)
    if by_id:
        return db.session.get(Stall, int(by_id.group(1)))
    parts = _REFERENCE_PARTS_RE.fullmatch(label)
    if parts is None:
        return None
    market_code, block_code, number = parts.groups()
    return db.session.scalars(
        select(Stall)
        .join(Block, Stall.block_id == Block.id)
        .join(Market, Stall.market_id == Market.id)
        .where(Market.code == market_code, Block.code == block_code, Stall.number == number)
    ).first()


def static_payload(stall: Stall) -> str:
    """The stall's static QRIS payload (no amount; the payer types it)."""
    _key, identity = settings().merchant_for(stall.market.code)
    return build_static(identity, stall_reference=stall_label(stall))


def check_stall_access(stall: Stall, user: User) -> None:
    """Staff see the stalls of their markets; a vendor sees the stalls they hold."""
    if user.role is Role.VENDOR:
        holder = current_holder(stall.id, clock.today_wib())
        if holder is None or holder.user_id != user.id:
            raise Forbidden("this stall is not yours")
        return
    require_market(user, stall.market.code)


def get_stall(stall_id: int, user: User | None = None) -> Stall:
    stall = db.session.get(Stall, stall_id)
    if stall is None:
        raise not_found("stall", f"no stall {stall_id}")
    if user is not None:
        check_stall_access(stall, user)
    return stall


def current_holder(stall_id: int, on: date) -> Vendor | None:
    """The vendor whose SHP covers the stall on ``on``, if any."""
    placements = db.session.scalars(
        select(Placement).where(Placement.stall_id == stall_id).order_by(Placement.start_on)
    ).all()
    for placement in reversed(placements):
        if placement.status is PlacementStatus.ACTIVE and placement.covers(on):
            return placement.vendor
    return None


def last_holder(stall_id: int) -> Vendor | None:
    """The vendor of the stall's latest SHP, in force or ended."""
    placement = db.session.scalars(
        select(Placement)
        .where(Placement.stall_id == stall_id)
        .order_by(Placement.start_on.desc(), Placement.id.desc())
    ).first()
    return None if placement is None else placement.vendor


@dataclass(frozen=True)
class StallCode:
    """A stall and its static code, with what a printed card shows."""

    stall: Stall
    label: str
    payload: str
    holder_name: str | None
    # The holder's virtual accounts, "BANK NAME 123450000012340": the card's fallback.
    va_lines: tuple[str, ...] = ()


def stalls_for_cards(
    user: User | None, market_code: str, block_code: str | None, *, limit: int
) -> list[StallCode]:
    """Every stall of a market (or one block), in block and number order, with its static code.

    Refused when the market has more than ``limit`` stalls (a PDF per block then)."""
    market = db.session.scalars(select(Market).where(Market.code == market_code)).first()
    if market is None:
        raise not_found("market", f"no market {market_code}")
    if user is not None:
        require_market(user, market.code)
    query = (
        select(Stall)
        .join(Block, Stall.block_id == Block.id)
        .where(Stall.market_id == market.id)
        .options(selectinload(Stall.block), selectinload(Stall.market))
        .order_by(Block.code, Stall.number)
    )
    if block_code is not None:
        block = db.session.scalars(
            select(Block).where(Block.market_id == market.id, Block.code == block_code)
        ).first()
        if block is None:
            raise not_found("block", f"no block {block_code} in {market_code}")
        query = query.where(Stall.block_id == block.id)
    stalls = list(db.session.scalars(query.limit(limit + 1)))
    if len(stalls) > limit:
        raise invalid("block", "too_many", f"more than {limit} stalls: print one block at a time")
    holders = _holders([s.id for s in stalls], clock.today_wib())
    _key, identity = settings().merchant_for(market.code)
    out = []
    for stall in stalls:
        label = stall_label(stall)
        holder = holders.get(stall.id)
        va_lines = (
            tuple(f"{n.bank_name} {n.digits}" for n in va_numbers_for_vendor(holder[1]))
            if holder is not None
            else ()
        )
        out.append(
            StallCode(
                stall,
                label,
                build_static(identity, stall_reference=label),
                None if holder is None else holder[0],
                va_lines,
            )
        )
    return out


def _holders(stall_ids: Sequence[int], on: date) -> dict[int, tuple[str, int]]:
    """``{stall id: (holder name, vendor id)}`` of the SHPs in force on ``on``."""
    names: dict[int, tuple[str, int]] = {}
    for start in range(0, len(stall_ids), 5000):
        rows = db.session.execute(
            select(Placement, Vendor.full_name)
            .join(Vendor, Placement.vendor_id == Vendor.id)
            .where(
                Placement.stall_id.in_(stall_ids[start : start + 5000]),
                Placement.status == PlacementStatus.ACTIVE,
            )
        )
        for placement, name in rows:
            if placement.covers(on):
                names[placement.stall_id] = (name, placement.vendor_id)
    return names


# -------------------------------------------------------------------------------- dynamic codes


def bill_label(number: str, bill_id: int) -> str:
    """Tag 62-01 for a bill: its number when it fits 25 characters, else a short form.

    ``SKRD/2026/11/KLEWER/000088`` (26 characters) becomes ``S2611KLEWER000088``: the kind's
    initial, year and month, market code, serial. The code's reference (62-05) is what maps a
    payment to its bills; this label is what the payer's app and the acquirer's report show.
    """
    if _LABEL_RE.fullmatch(number):
        return number
    parts = _BILL_NUMBER_RE.fullmatch(number)
    if parts is None:
        return f"BILL.{bill_id}"
    kind, year, month, market, serial = parts.groups()
    fixed = f"{kind[0]}{year[2:]}{month}"
    room = MAX_LABEL_CHARS - len(fixed) - len(serial)
    return f"{fixed}{market[: max(room, 1)]}{serial}"[:MAX_LABEL_CHARS]


@dataclass(frozen=True)
class CodeBill:
    bill_id: int
    number: str
    period: str
    outstanding_idr: int


@dataclass(frozen=True)
class DynamicCode:
    """A dynamic bill code as shown to the payer."""

    code_id: int
    reference: str
    payload: str
    amount_idr: int
    bill_label: str
    created_at: datetime
    expires_at: datetime
    vendor_id: int
    market_code: str
    bills: tuple[CodeBill, ...]
    reused: bool = False

    @property
    def expired(self) -> bool:
        return clock.now() >= self.expires_at


def _check_bill_ids(bill_ids: Iterable[object]) -> list[int]:
    wanted: list[int] = []
    for value in bill_ids:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**62:
            raise invalid("bill_ids", "type", "bill ids are positive whole numbers")
        if value not in wanted:
            wanted.append(value)
        if len(wanted) > MAX_BILLS_PER_CODE:
            raise invalid("bill_ids", "too_many", f"at most {MAX_BILLS_PER_CODE} bills on one code")
    if not wanted:
        raise invalid("bill_ids", "required", "choose at least one bill")
    return wanted


def _check_vendor_access(vendor: Vendor, bills: Sequence[OpenBill], user: User | None) -> None:
    if user is None:
        return
    if user.role is Role.VENDOR:
        vendor_paid_by(user, vendor.id)  # their own, or a vendor they pay for as proxy
        return
    markets = {m.id: m.code for m in db.session.scalars(select(Market))}
    for bill in bills:
        require_market(user, markets[bill.market_id])


def _market_code(market_id: int) -> str:
    market = db.session.get(Market, market_id)
    assert market is not None, "a bill's market exists (foreign key of its placement's stall)"
    return market.code


def dynamic_code_for(
    vendor_id: int,
    bill_ids: Iterable[int],
    *,
    user: User | None = None,
    actor: str | None = None,
) -> DynamicCode:
    """A dynamic code for the chosen open bills of a vendor, for what is owed on them today.

    A live code for the same bills and amount with enough life left is handed out again; else a
    new one is stored. ``user`` limits access (a vendor: their own bills; staff: their markets).
    Refused: no or unknown bills, bills not open or not the vendor's, bills of two merchants, a
    total over the QRIS per-transaction limit.
    """
    wanted = _check_bill_ids(bill_ids)
    vendor = db.session.get(Vendor, vendor_id)
    if vendor is None:
        raise not_found("vendor_id", f"no vendor {vendor_id}")
    today = clock.today_wib()
    open_bills = {b.bill_id: b for b in open_bills_for_vendor(vendor_id, today)}
    missing = [bill_id for bill_id in wanted if bill_id not in open_bills]
    if missing:
        raise invalid(
            "bill_ids", "not_open", f"bills {missing} are not open bills of vendor {vendor_id}"
        )
    # Oldest first, as the ledger pays them (and as the label names the oldest).
    chosen = [b for b in open_bills.values() if b.bill_id in wanted]
    _check_vendor_access(vendor, chosen, user)
    config = settings()
    markets = {b.market_id: _market_code(b.market_id) for b in chosen}
    keys = {config.key_for(code) for code in markets.values()}
    if len(keys) > 1:
        raise invalid("bill_ids", "two_merchants", "bills of markets with different QRIS merchants")
    key, identity = config.merchant_for(markets[chosen[0].market_id])
    amount_idr = sum(b.outstanding_idr for b in chosen)
    if amount_idr > QRIS_MAX_TRANSACTION_IDR:
        raise invalid(
            "bill_ids",
            "over_limit",
            f"Rp{amount_idr:,} is over the QRIS limit of Rp{QRIS_MAX_TRANSACTION_IDR:,}:"
            " choose fewer bills",
        )
    now = clock.now()
    reusable = _live_code(
        vendor_id, chosen, amount_idr, now + timedelta(seconds=config.reuse_min_left_s)
    )
    if reusable is not None:
        return _view(reusable, reused=True)
    code = _store(
        vendor,
        chosen,
        key=key,
        identity=identity,
        amount_idr=amount_idr,
        now=now,
        lifetime_s=config.lifetime_s,
        actor=actor or (f"user:{user.id}" if user is not None else "system"),
    )
    return _view(code, reused=False)


def _live_code(
    vendor_id: int, chosen: Sequence[OpenBill], amount_idr: int, alive_until: datetime
) -> QrisCode | None:
    wanted = [b.bill_id for b in chosen]
    candidates = db.session.scalars(
        select(QrisCode)
        .where(
            QrisCode.vendor_id == vendor_id,
            QrisCode.amount_idr == amount_idr,
            QrisCode.expires_at > alive_until,
        )
        .order_by(QrisCode.id.desc())
        .limit(20)
    )
    for code in candidates:
        if list(code.bill_ids) == wanted:
            return code
    return None


def _store(
    vendor: Vendor,
    chosen: Sequence[OpenBill],
    *,
    key: str,
    identity: MerchantIdentity,
    amount_idr: int,
    now: datetime,
    lifetime_s: int,
    actor: str,
) -> QrisCode:
    oldest = chosen[0]
    label = bill_label(oldest.number, oldest.bill_id)
    stall_ids = set(
        db.session.scalars(select(Bill.stall_id).where(Bill.id.in_([b.bill_id for b in chosen])))
    )
    session = db.session
    for attempt in range(_REFERENCE_TRIES):
        reference = "Q" + secrets.token_hex(_REFERENCE_BYTES).upper()
        payload = build_dynamic(
            identity, amount_idr=amount_idr, bill_number=label, reference=reference
        )
        code = QrisCode(
            reference=reference,
            vendor_id=vendor.id,
            market_id=oldest.market_id,
            stall_id=next(iter(stall_ids)) if len(stall_ids) == 1 else None,
            merchant_key=key,
            nmid=identity.nmid,
            bill_label=label,
            amount_idr=amount_idr,
            payload=payload,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
            created_by=actor[:120],
        )
        try:
            with transaction(session):
                session.add(code)
                session.flush()
                for position, bill in enumerate(chosen):
                    session.add(
                        QrisCodeBill(
                            code_id=code.id,
                            bill_id=bill.bill_id,
                            position=position,
                            outstanding_idr=bill.outstanding_idr,
                        )
                    )
        except IntegrityError:
            # 48 random bits collide about never; if they do, draw again.
            if attempt == _REFERENCE_TRIES - 1:
                raise
            continue
        session.refresh(code)
        return code
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _view(code: QrisCode, *, reused: bool) -> DynamicCode:
    bills = {
        b.id: b for b in db.session.scalars(select(Bill).where(Bill.id.in_(list(code.bill_ids))))
    }
    return DynamicCode(
        code_id=code.id,
        reference=code.reference,
        payload=code.payload,
        amount_idr=code.amount_idr,
        bill_label=code.bill_label,
        created_at=code.created_at,
        expires_at=code.expires_at,
        vendor_id=code.vendor_id,
        market_code=_market_code(code.market_id),
        bills=tuple(
            CodeBill(
                line.bill_id,
                bills[line.bill_id].number,
                bills[line.bill_id].period,
                line.outstanding_idr,
            )
            for line in code.bills
        ),
        reused=reused,
    )


def find_code(reference: str) -> QrisCode | None:
    if not isinstance(reference, str) or not _LABEL_RE.fullmatch(reference):
        return None
    return db.session.scalars(select(QrisCode).where(QrisCode.reference == reference)).first()


def get_code(reference: str, user: User | None = None) -> DynamicCode:
    """A stored dynamic code, if ``user`` may see it (its vendor, or staff of its market)."""
    code = find_code(reference)
    if code is None:
        raise not_found("reference", f"no QRIS code {reference[:25]}")
    if user is not None:
        if user.role is Role.VENDOR:
            # The vendor, or a proxy payer of theirs.
            if code.vendor_id not in {v.id for v in vendors_paid_by(user)}:
                # The same answer as for an unknown code: references are not to be probed.
                raise not_found("reference", f"no QRIS code {reference[:25]}")
        else:
            require_market(user, _market_code(code.market_id))
    return _view(code, reused=False)


def vendor_for_user(user: User) -> Vendor | None:
    return db.session.scalars(select(Vendor).where(Vendor.user_id == user.id)).first()


MAX_CODE_BILLS = 24  # the most bills one dynamic code covers (the pay form's bound)


def qris_pay_option(account: Any) -> tuple[str, dict[str, Any]] | None:
    """The vendor's page: choose bills and show a dynamic code for them (``payments.portal``)."""
    if not settings().enabled or not account.outstanding_idr:
        return None
    bills = [b for stall in account.stalls for b in stall.bills][:MAX_CODE_BILLS]
    return "qris/_pay_option.html", {"bills": bills}
