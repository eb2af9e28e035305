"""What a bill still owes on a date: principal and sanction apart, derived, never stored.

Amounts paid come from the payment ledger, which lives in ``payments`` (after the levy in the
import direction). The levy therefore asks a :class:`PaymentLedger` that the payment core
registers with :func:`register_payment_ledger`; until one is registered nothing has been paid.
Sanctions are computed from the bill's stored regime, its principal payments and the days on which
an outage or a relief stopped the clock (:func:`retribusi.levy.rules.sanction_due`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context
from sqlalchemy import BindParameter, CompoundSelect, bindparam, literal, null, select, union_all

from retribusi.db import AnySession
from retribusi.levy.models import Outage, Relief, ReliefKind
from retribusi.levy.rules import SanctionFigure, SanctionTerms, sanction_due

LEDGER_KEY = "retribusi.levy.payment_ledger"


@dataclass(frozen=True)
class PaidPortion:
    """Money the ledger allocated to one bill on one day (net of reversals)."""

    paid_on: date
    principal_idr: int
    sanction_idr: int


class BillLike(Protocol):
    """What the figures need from a bill (a ``Bill`` or a lighter snapshot of one)."""

    @property
    def id(self) -> int: ...
    @property
    def market_id(self) -> int: ...
    @property
    def block_id(self) -> int: ...
    @property
    def vendor_id(self) -> int: ...
    @property
    def principal_idr(self) -> int: ...
    @property
    def due_on(self) -> date: ...
    @property
    def sanction_terms(self) -> SanctionTerms: ...


class PaymentLedger(Protocol):
    def paid_portions(
        self, session: AnySession, bill_ids: Sequence[int]
    ) -> Mapping[int, Sequence[PaidPortion]]:
        """Every bill's allocations so far, as seen inside ``session`` (uncommitted included)."""
        ...

    def apply_credit(
        self, session: AnySession, vendor_ids: Iterable[int], *, as_of: date, actor: str
    ) -> int:
        """Pay newly issued bills from the vendors' credit, inside the caller's transaction;
        returns the rupiah applied."""
        ...


class NothingPaid:
    """The ledger before the payment core exists."""

    def paid_portions(
        self, session: AnySession, bill_ids: Sequence[int]
    ) -> Mapping[int, Sequence[PaidPortion]]:
        return {}

    def apply_credit(
        self, session: AnySession, vendor_ids: Iterable[int], *, as_of: date, actor: str
    ) -> int:
        return 0


def register_payment_ledger(app: Flask, ledger: PaymentLedger) -> None:
    """Called by the payment core's ``init_app``: the levy then reads amounts paid from it."""
    app.extensions[LEDGER_KEY] = ledger


def payment_ledger() -> PaymentLedger:
    if has_app_context():
        ledger: PaymentLedger = current_app.extensions.get(LEDGER_KEY, NothingPaid())
        return ledger
    return NothingPaid()


@dataclass(frozen=True)
class BillFigures:
    """A bill's account on a date."""

    bill_id: int
    principal_idr: int
    principal_paid_idr: int
    sanction_idr: int  # accrued up to the date, on the principal as it was paid
    sanction_paid_idr: int
    months_late: int
    days_overdue: int
    suspended_days: int

    @property
    def principal_outstanding_idr(self) -> int:
        return self.principal_idr - self.principal_paid_idr

    @property
    def sanction_outstanding_idr(self) -> int:
        return max(self.sanction_idr - self.sanction_paid_idr, 0)

    @property
    def outstanding_idr(self) -> int:
        return self.principal_outstanding_idr + self.sanction_outstanding_idr


def _suspensions_query(markets: BindParameter[Any] | None) -> CompoundSelect[Any]:
    """Outages and sanction-stopping reliefs in one round trip (a payment asks for them for
    every vendor it allocates to), of ``markets`` and city-wide ones when given."""
    outages = select(
        literal("o").label("what"),
        Outage.market_id,
        null().label("block_id"),
        null().label("vendor_id"),
        Outage.started_on,
        Outage.ended_on,
    )
    reliefs = select(
        literal("r").label("what"),
        Relief.market_id,
        Relief.block_id,
        Relief.vendor_id,
        Relief.valid_from,
        Relief.valid_to,
    ).where(
        Relief.revoked_at.is_(None),
        Relief.kind.in_((ReliefKind.EXEMPTION, ReliefKind.DEFERRAL)),
    )
    if markets is not None:
        outages = outages.where(Outage.market_id.is_(None) | Outage.market_id.in_(markets))
        reliefs = reliefs.where(Relief.market_id.is_(None) | Relief.market_id.in_(markets))
    return union_all(outages, reliefs)


# Built once: SQLAlchemy derives a statement's cache key each time a new one is built, which cost
# a payment 1.1 ms of its 1.4 ms here; a statement built once keeps its key.
_ALL_SUSPENSIONS = _suspensions_query(None)
_MARKET_SUSPENSIONS = _suspensions_query(bindparam("markets", expanding=True))


@dataclass(frozen=True)
class Suspensions:
    """Outages and sanction-stopping reliefs, loaded once and matched to bills in memory."""

    outages: tuple[tuple[int | None, date, date | None], ...]
    reliefs: tuple[tuple[int | None, int | None, int | None, date, date], ...]

    @classmethod
    def load(cls, session: AnySession, market_ids: Iterable[int] | None = None) -> Suspensions:
        """Every outage and sanction-stopping relief, or those that can touch ``market_ids``
        (city-wide ones included): a payment needs only its vendor's markets."""
        if market_ids is None:
            rows: list[Any] = list(session.execute(_ALL_SUSPENSIONS))
        else:
            rows = list(session.execute(_MARKET_SUSPENSIONS, {"markets": sorted(set(market_ids))}))
        return cls(
            tuple((m, s, e) for what, m, _b, _v, s, e in rows if what == "o"),
            tuple((m, b, v, s, e) for what, m, b, v, s, e in rows if what == "r"),
        )

    def spans(self, bill: BillLike, as_of: date) -> list[tuple[date, date]]:
        found = [
            (start, end or as_of)
            for market_id, start, end in self.outages
            if market_id is None or market_id == bill.market_id
        ]
        found += [
            (start, end)
            for market_id, block_id, vendor_id, start, end in self.reliefs
            if (market_id is None or market_id == bill.market_id)
            and (block_id is None or block_id == bill.block_id)
            and (vendor_id is None or vendor_id == bill.vendor_id)
        ]
        return found


def figures(
    bill: BillLike,
    as_of: date,
    portions: Iterable[PaidPortion],
    suspensions: Sequence[tuple[date, date]],
) -> BillFigures:
    """Pure: a bill's figures from its payments and suspension spans."""
    paid = sorted((p for p in portions if p.paid_on <= as_of), key=lambda p: p.paid_on)
    principal_payments = [(p.paid_on, p.principal_idr) for p in paid if p.principal_idr]
    figure: SanctionFigure = sanction_due(
        bill.sanction_terms,
        as_of,
        principal_payments=principal_payments,
        suspensions=suspensions,
    )
    return BillFigures(
        bill_id=bill.id,
        principal_idr=bill.principal_idr,
        principal_paid_idr=sum(p.principal_idr for p in paid),
        sanction_idr=figure.sanction_idr,
        sanction_paid_idr=sum(p.sanction_idr for p in paid),
        months_late=figure.months,
        days_overdue=max((as_of - bill.due_on).days, 0),
        suspended_days=figure.suspended_days,
    )


def figures_for(
    session: AnySession, bills: Sequence[BillLike], as_of: date
) -> dict[int, BillFigures]:
    """Figures for many bills with one ledger call and one load of the suspensions."""
    if not bills:
        return {}
    portions = payment_ledger().paid_portions(session, [b.id for b in bills])
    suspensions = Suspensions.load(session)
    return {
        bill.id: figures(bill, as_of, portions.get(bill.id, ()), suspensions.spans(bill, as_of))
        for bill in bills
    }


@dataclass(frozen=True)
class Account:
    """A bill with what was paid on it and the days its sanction stood still: enough to tell its
    figures on any date, also after a payment not yet written (``extra``)."""

    bill: BillLike
    portions: tuple[PaidPortion, ...]
    suspensions: tuple[tuple[date, date], ...]

    def figures(self, as_of: date, extra: Iterable[PaidPortion] = ()) -> BillFigures:
        return figures(self.bill, as_of, (*self.portions, *extra), self.suspensions)


def accounts_for(session: AnySession, bills: Sequence[BillLike], as_of: date) -> dict[int, Account]:
    """Accounts for a few bills (one vendor's) with one ledger call and the suspensions of their
    markets only."""
    if not bills:
        return {}
    portions = payment_ledger().paid_portions(session, [b.id for b in bills])
    suspensions = Suspensions.load(session, {b.market_id for b in bills})
    return {
        bill.id: Account(
            bill, tuple(portions.get(bill.id, ())), tuple(suspensions.spans(bill, as_of))
        )
        for bill in bills
    }
