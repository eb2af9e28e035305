"""Reconciliation runs: candidates by set-based SQL, decisions by :mod:`reconcile.engine`, writes
in bulk, exceptions kept under stable ids, one result hash.

A run, in one transaction (a dry run does the same and rolls back, so it shows exactly what a run
would do and leaves nothing behind):

1. For each rule, one SQL join finds every candidate edge of the lines not yet claimed (the
   database does the join; nothing is looked up line by line). Rules, in order: ``created``
   (payments made from a line), ``va``, ``reference`` (settlement and bank lines), ``qris_bill``,
   ``batch``, ``deposit``.
2. The engine pairs what is unambiguous and keeps the evidence of the rest.
3. Matches (the facts) and claims (the projection whose unique indexes stop a double claim) are
   written with ``COPY`` on PostgreSQL.
4. What is left becomes exceptions: lines (unknown credit or debit, ambiguous, amount mismatch,
   duplicate), payments, deposits and batches past their grace period (missing bank line), and
   settlement batches not explained to the rupiah (settlement residual). Each keeps its stable
   id; an exception no longer found is resolved; a person's decision lapses (reopens) when the
   type or the difference changes.
5. The result hash: SHA-256 of a canonical text of the run's inputs (as-of date, rules version,
   input files), the matches it made and the exceptions that stand after it, all named by
   natural keys (line identities, payment references), never by database ids. The same inputs
   and rules give the same bytes, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Date,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
    values,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ClauseElement, Executable

from payments.models import Channel, Deposit, Payment, PaymentReversal
from reconcile.bulk import FastWriter, Kind, analyze, collector_paused
from reconcile.config import Rules, current_rules
from reconcile.engine import Candidate, Matcher, Target, Verdict, classify_line
from reconcile.models import (
    LIVE_STATUSES,
    Claim,
    Event,
    EventAction,
    ExceptionStatus,
    ExceptionType,
    ImportedFile,
    Line,
    LineDirection,
    Match,
    ReconException,
    Rule,
    Run,
    SettlementBatch,
    Source,
    SubjectKind,
)
from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import User
from retribusi.db import AnySession, transaction
from retribusi.errors import Conflict
from retribusi.extensions import db
from retribusi.levy.bulk import allocate_ids
from retribusi.levy.models import Bill

_RUN_LOCK_KEY: Final = 0x52_45_43_52_55_4E  # "RECRUN"
_CHUNK: Final = 5000
ANALYZE_AFTER_MATCHES: Final = 5000
RESULT_FORMAT: Final = "reconcile-result v1"
STEPS: Final = (
    "load",
    Rule.CREATED.value,
    Rule.VA.value,
    Rule.REFERENCE.value,
    Rule.QRIS_BILL.value,
    Rule.BATCH.value,
    Rule.DEPOSIT.value,
    "write",
    "exceptions",
    "settlements",
    "hash",
)
Progress = Callable[[str], None]

MATCH_COLUMNS: Final = (
    ("id", Kind.INT),
    ("line_id", Kind.INT),
    ("payment_id", Kind.INT),
    ("deposit_id", Kind.INT),
    ("batch_id", Kind.INT),
    ("rule", Kind.ENUM),
    ("difference_idr", Kind.INT),
    ("run_id", Kind.INT),
    ("created_at", Kind.DATETIME),
)
CLAIM_COLUMNS: Final = (
    ("match_id", Kind.INT),
    ("line_id", Kind.INT),
    ("payment_id", Kind.INT),
    ("deposit_id", Kind.INT),
    ("batch_id", Kind.INT),
)
EXCEPTION_COLUMNS: Final = (
    ("id", Kind.CODE),
    ("type", Kind.ENUM),
    ("status", Kind.ENUM),
    ("subject", Kind.ENUM),
    ("line_id", Kind.INT),
    ("payment_id", Kind.INT),
    ("deposit_id", Kind.INT),
    ("batch_id", Kind.INT),
    ("amount_idr", Kind.INT),
    ("difference_idr", Kind.INT),
    ("subject_date", Kind.DATE),
    ("market_id", Kind.INT),
    ("opened_at", Kind.DATETIME),
    ("first_run_id", Kind.INT),
    ("last_run_id", Kind.INT),
    ("resolved_at", Kind.DATETIME),
    ("assignee_id", Kind.INT),
    ("updated_at", Kind.DATETIME),
    ("detail", Kind.JSON),
)


# --- natural keys -----------------------------------------------------------------------------

_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
K = TypeVar("K")


class Names(Mapping[K, str]):
    """Natural keys computed on first use and kept (a mapping, for the engine's lookups)."""

    def __init__(self, make: Callable[[K], str]) -> None:
        self._make = make
        self._known: dict[K, str] = {}

    def __getitem__(self, key: K) -> str:
        name = self._known.get(key)
        if name is None:
            name = self._known[key] = self._make(key)
        return name

    def get(self, key: K, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: K, name: str) -> None:
        self._known[key] = name

    def setdefault(self, key: K, name: str) -> str:
        return self._known.setdefault(key, name)

    def __iter__(self) -> Iterator[K]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


def line_key(source: str, account_id: str, identity: str) -> str:
    return f"line:{source}:{account_id}:{identity}".translate(_ESCAPE)


def payment_key(channel: str, sender: str, external_ref: str) -> str:
    return f"payment:{channel}:{sender}:{external_ref}".translate(_ESCAPE)


def deposit_key(officer: str, slip_ref: str) -> str:
    return f"deposit:{officer}:{slip_ref}".translate(_ESCAPE)


def batch_key(acquirer_id: str, batch_ref: str) -> str:
    return f"batch:{acquirer_id}:{batch_ref}".translate(_ESCAPE)


def exception_id(natural_key: str) -> str:
    """The stable id of the exception about a subject: the same subject, the same id, always."""
    return "RX-" + hashlib.sha256(natural_key.encode("utf-8")).hexdigest()[:20].upper()


# --- results ----------------------------------------------------------------------------------


@dataclass
class RunResult:
    as_of: date
    dry_run: bool
    rules_version: str
    run_id: int | None = None
    result_hash: str = ""
    input_files: list[str] = field(default_factory=list)
    matched: dict[str, dict[str, int]] = field(default_factory=dict)
    matched_count: int = 0
    matched_idr: int = 0
    exceptions: dict[str, dict[str, int]] = field(default_factory=dict)
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    lines_open: int = 0
    max_file_id: int = 0
    duration_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "max_file_id": self.max_file_id,
            "matched": self.matched,
            "exceptions": self.exceptions,
            "opened": self.opened,
            "reopened": self.reopened,
            "resolved": self.resolved,
            "lines_open": self.lines_open,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat(),
            "rules_version": self.rules_version,
            "result_hash": self.result_hash,
            "input_files": self.input_files,
            "matched_count": self.matched_count,
            "matched_idr": self.matched_idr,
            "duration_s": round(self.duration_s, 3),
            **self.summary(),
        }


@dataclass(frozen=True)
class ComputedException:
    id: str
    type: ExceptionType
    subject: SubjectKind
    subject_id: int
    amount_idr: int
    difference_idr: int
    subject_date: date
    market_id: int | None
    detail: dict[str, Any]


# --- SQL helpers ------------------------------------------------------------------------------


def _minus_days(session: AnySession, column: Any, days: int) -> ColumnElement[Any]:
    """``column - days`` for a DATE column, on PostgreSQL and SQLite (ISO text dates)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"-{int(days)} days")
    return column - int(days)  # type: ignore[no-any-return]


def _plus_days(session: AnySession, column: Any, days: int) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"+{int(days)} days")
    return column + int(days)  # type: ignore[no-any-return]


def _line_unclaimed() -> ColumnElement[bool]:
    return ~exists().where(Claim.line_id == Line.id)


def _not_reversed(payment: Any = Payment) -> ColumnElement[bool]:
    return ~exists().where(PaymentReversal.payment_id == payment.id)


def _cutoff(rules: Rules, as_of: date, business_days: int) -> date:
    """The latest start date whose grace period of ``business_days`` is over on ``as_of``."""
    day = as_of
    while rules.due(day, business_days) >= as_of:
        day = date.fromordinal(day.toordinal() - 1)
    return day


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- the run ----------------------------------------------------------------------------------


@dataclass
class _State:
    """What a run learns as it goes: natural keys and orders of what it saw."""

    session: AnySession
    rules: Rules
    as_of: date
    run_id: int
    matcher: Matcher
    line_order: dict[int, tuple[date, str]] = field(default_factory=dict)
    line_sources: dict[int, tuple[Any, str]] = field(default_factory=dict)
    target_order: dict[Target, dict[int, Any]] = field(default_factory=lambda: defaultdict(dict))
    line_names: Names[int] = field(init=False)
    target_names: Names[tuple[Target, int]] = field(init=False)
    # How many of the matcher's matches are written already.
    written: int = 0

    def __post_init__(self) -> None:
        # Natural keys are spelt out only when needed (an exception's detail): a run sees every
        # unmatched line, most of which need no name.
        self.line_names = Names(self._line_name)
        self.target_names = Names(self._target_name)

    def see_line(
        self, line_id: int, source: Any, account: str, identity: str, booked: date
    ) -> None:
        if line_id not in self.line_order:
            self.line_order[line_id] = (booked, identity)
            self.line_sources[line_id] = (source, account)

    def see_payment(
        self, payment_id: int, channel: Any, sender: str, ref: str, paid_at: datetime
    ) -> None:
        order = self.target_order[Target.PAYMENT]
        if payment_id not in order:
            order[payment_id] = (paid_at, ref, channel, sender)

    def _line_name(self, line_id: int) -> str:
        source, account = self.line_sources[line_id]
        return line_key(str(getattr(source, "value", source)), account, self.line_order[line_id][1])

    def _target_name(self, key: tuple[Target, int]) -> str:
        kind, target = key
        order = self.target_order[kind][target]
        if kind is Target.PAYMENT:
            _paid_at, ref, channel, sender = order
            return payment_key(str(getattr(channel, "value", channel)), sender, ref)
        return str(order[1])  # deposits and batches are named when seen


@collector_paused()
def run_reconciliation(
    *,
    actor: str,
    as_of: date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Run every rule over everything not yet explained; see the module docstring."""
    started = time.perf_counter()
    started_at = clock.now()
    rules = current_rules()
    day = as_of or clock.today_wib()
    if day > clock.today_wib():
        from retribusi.levy.errors import invalid

        raise invalid("as_of", "future", "a run cannot be dated in the future")
    result = RunResult(as_of=day, dry_run=dry_run, rules_version=rules.version)
    tick = progress or (lambda _step: None)
    session = db.session
    try:
        with transaction(session):
            lock(session)
            _plan_for_bulk(session)
            run_id = allocate_ids(session, Run.__table__, 1)[0]  # type: ignore[arg-type]
            result.max_file_id = int(session.scalar(select(func.max(ImportedFile.id))) or 0)
            state = _State(session, rules, day, run_id, Matcher(released=_released(session)))
            tick("load")
            for rule, apply_rule in (
                (Rule.CREATED, _rule_created),
                (Rule.VA, _rule_va),
                (Rule.REFERENCE, _rule_reference),
                (Rule.QRIS_BILL, _rule_qris_bill),
                (Rule.BATCH, _rule_batch),
                (Rule.DEPOSIT, _rule_deposit),
            ):
                apply_rule(state)
                # Claimed before the next rule reads: it sees them as the database holds them.
                _write_matches(state)
                tick(rule.value)
            matched_files = _summarise_matches(state, result)
            tick("write")
            computed, leftover_files = _exceptions(state)
            tick("exceptions")
            computed.extend(_settlement_residuals(state))
            tick("settlements")
            live = _merge_exceptions(state, computed, run_id, result)
            result.input_files = _file_hashes(session, matched_files | leftover_files)
            result.result_hash = _result_hash(state, result, live)
            tick("hash")
            result.duration_s = time.perf_counter() - started
            if dry_run:
                session.rollback()
                return result
            session.add(
                Run(
                    id=run_id,
                    started_at=started_at,
                    finished_at=clock.now(),
                    actor=actor,
                    as_of=day,
                    rules_version=rules.version,
                    rules=rules.to_dict(),
                    input_files=result.input_files,
                    result_hash=result.result_hash,
                    matched_count=result.matched_count,
                    matched_idr=result.matched_idr,
                    summary=result.summary(),
                )
            )
            session.flush()
            record_event(
                session,
                actor=actor,
                action="reconcile.run",
                subject_type="recon_run",
                subject_id=run_id,
                details={
                    "as_of": day.isoformat(),
                    "rules_version": rules.version,
                    "result_hash": result.result_hash,
                    "matched_count": result.matched_count,
                    "matched_idr": result.matched_idr,
                },
            )
            result.run_id = run_id
    except (IntegrityError, psycopg.IntegrityError) as error:
        # COPY goes through the driver, so its violations arrive as psycopg's own errors.
        raise Conflict(
            "the reconciliation changed while this run worked (a match, an import or another"
            " run); run it again",
            details={"errors": [{"field": "run", "reason": "concurrent", "message": str(error)}]},
        ) from error
    result.duration_s = time.perf_counter() - started
    return result


def lock(session: AnySession) -> None:
    """Serialise runs and people's matches: one of them changes claims at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RUN_LOCK_KEY})
    else:
        # SQLite: take the write lock now, so nothing else writes between our reads and writes.
        session.execute(text("UPDATE recon_claims SET match_id = match_id WHERE 0"))


#: Memory per sort or hash of a run's queries (PostgreSQL), for this transaction only: a
#: month's VA join hashes a million payments and sorts a million edges twice, which the
#: default 4 MB spills to disk in many batches. Runs take turns (the lock), so one run at a
#: time holds it.
RUN_WORK_MEM: Final = "64MB"


def _plan_for_bulk(session: AnySession) -> None:
    """PostgreSQL settings for the run's transaction (``SET LOCAL``: they end with it): sorts
    and hashes in memory, and no JIT, whose compiling (tens of milliseconds up to a tenth of
    a second per large query) buys nothing for queries that each run once."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{RUN_WORK_MEM}'"))  # our own constant
        session.execute(text("SET LOCAL jit = off"))


def _released(session: AnySession) -> frozenset[tuple[int, Target, int]]:
    """Pairs a person unmatched: never matched automatically again."""
    rows = session.execute(
        select(Match.line_id, Match.payment_id, Match.deposit_id, Match.batch_id)
        .join(Event, Event.match_id == Match.id)
        .where(Event.action == EventAction.UNMATCH)
    )
    found: set[tuple[int, Target, int]] = set()
    for line_id, payment_id, deposit_id, batch_id in rows:
        if payment_id is not None:
            found.add((line_id, Target.PAYMENT, payment_id))
        elif deposit_id is not None:
            found.add((line_id, Target.DEPOSIT, deposit_id))
        elif batch_id is not None:
            found.add((line_id, Target.BATCH, batch_id))
    return frozenset(found)


# --- rules ------------------------------------------------------------------------------------


def _payment_candidates(
    state: _State, rows: Iterable[Any], window: Callable[[date, date], bool] | None
) -> list[Candidate]:
    """Rows of (line id, source, account, identity, booked, amount, payment id, channel, sender,
    reference, paid at, paid on, payment amount, holder line) as candidates."""
    found: list[Candidate] = []
    for (
        line_id,
        source,
        account,
        identity,
        booked,
        amount,
        payment_id,
        channel,
        sender,
        ref,
        paid_at,
        paid_on,
        payment_amount,
        holder,
    ) in rows:
        state.see_line(line_id, source, account, identity, booked)
        state.see_payment(payment_id, channel, sender, ref, paid_at)
        found.append(
            Candidate(
                line_id,
                payment_id,
                amount == payment_amount,
                window(paid_on, booked) if window else True,
                holder,
                payment_amount,
            )
        )
    return found


def _apply(state: _State, rule: Rule, kind: Target, candidates: list[Candidate]) -> None:
    state.matcher.apply(rule, kind, candidates, state.line_order, state.target_order[kind])


def _line_columns() -> tuple[Any, ...]:
    return (
        Line.id,
        Line.source,
        Line.account_id,
        Line.identity,
        Line.booking_date,
        Line.amount_idr,
    )


def _payment_columns(payment: Any, holder: Any) -> tuple[Any, ...]:
    return (
        payment.id,
        payment.channel,
        payment.sender,
        payment.external_ref,
        payment.paid_at,
        payment.paid_on,
        payment.amount_idr,
        holder.line_id,
    )


def _since(state: _State, payment: Any = Payment) -> ColumnElement[bool]:
    since = state.rules.payments_since
    return payment.paid_on >= since if since is not None else true()  # type: ignore[no-any-return,unused-ignore]


def _rule_created(state: _State) -> None:
    """A payment made from a line (``create_payment``) claims that line: it was made for it."""
    session, rules = state.session, state.rules
    holder = aliased(Claim)
    payments = session.execute(
        select(
            Payment.id,
            Payment.channel,
            Payment.sender,
            Payment.external_ref,
            Payment.paid_at,
            Payment.amount_idr,
            Payment.raw,
        ).where(
            # The ledger's unique index leads with (channel, sender): a seek, not a scan.
            Payment.channel == Channel.COUNTER,
            Payment.sender == rules.sender,
            ~exists().where(holder.payment_id == Payment.id),
            _not_reversed(),
        )
    ).all()
    wanted: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for payment_id, channel, sender, ref, paid_at, amount, raw in payments:
        origin = raw.get("line") if isinstance(raw, dict) else None
        if not isinstance(origin, dict):
            continue
        natural = (
            str(origin.get("source")),
            str(origin.get("account_id")),
            str(origin.get("identity")),
        )
        state.see_payment(payment_id, channel, sender, ref, paid_at)
        wanted[natural].append((payment_id, amount))
    if not wanted:
        return
    candidates: list[Candidate] = []
    keys = sorted(wanted)
    for chunk in _chunks(keys, 500):
        rows = session.execute(
            select(*_line_columns()).where(
                tuple_(Line.source, Line.account_id, Line.identity).in_(list(chunk)),
                _line_unclaimed(),
            )
        )
        for line_id, source, account, identity, booked, amount in rows:
            state.see_line(line_id, source, account, identity, booked)
            for payment_id, payment_amount in wanted[(source.value, account, identity)]:
                candidates.append(
                    Candidate(
                        line_id, payment_id, amount == payment_amount, True, None, payment_amount
                    )
                )
    _apply(state, Rule.CREATED, Target.PAYMENT, candidates)


#: Scratch tables of one run (temporary: each connection has its own, dropped after use).
_SCRATCH: Final = MetaData()
#: The VA window as rows: a payment made on ``paid_on`` may be booked until ``last_booked``
#: (business days and holidays come from the rules, so SQL needs no calendar). A scratch table
#: on SQLite; PostgreSQL gets the same rows as values.
_VA_WINDOW: Final = Table(
    "recon_tmp_va_window",
    _SCRATCH,
    Column("paid_on", Date, primary_key=True),
    Column("last_booked", Date, nullable=False),
    prefixes=["TEMPORARY"],
)
#: The VA rule's one-to-one pairs, numbered, decided before anything of the rule is written
#: (made by ``CREATE TEMPORARY TABLE … AS``: on PostgreSQL its query may run in parallel, which
#: an ``INSERT … SELECT`` never does); this declares its columns for the queries that read it.
_VA_PAIRS: Final = Table(
    "recon_tmp_va_pairs",
    _SCRATCH,
    Column("n", BigInteger, nullable=False),
    Column("line_id", BigInteger, nullable=False),
    Column("payment_id", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)


class _CreateScratchAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE <scratch> AS <query>``."""

    inherit_cache = False

    def __init__(self, table: Table, query: Select[Any]) -> None:
        self.table, self.query = table, query


@compiles(_CreateScratchAs)
def _compile_scratch_as(element: _CreateScratchAs, compiler: Any, **kw: Any) -> str:
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.table.name} AS {query}"  # our own table name


def _scratch(session: AnySession, table: Table) -> None:
    """A fresh, empty scratch table for this transaction."""
    _drop_scratch(session, table)
    table.create(session.connection())


def _drop_scratch(session: AnySession, table: Table) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {table.name}"))  # our own table name


def _released_pair(line_id: Any, payment_id: Any) -> ColumnElement[bool]:
    """The pair was unmatched by a person (never matched automatically again)."""
    released = aliased(Match)
    return exists().where(
        released.line_id == line_id,
        released.payment_id == payment_id,
        exists().where(Event.match_id == released.id, Event.action == EventAction.UNMATCH),
    )


def _rule_va(state: _State) -> None:
    """VA credits, set-based: the pairs unique on both sides (a line with exactly one eligible
    payment that has exactly one eligible line, nearly every line) are found and written by
    SQL; only the other edges of the rule come to the engine, which decides them as before.

    A pair unique on both sides is its own group, so taking it out first leaves every other
    group as it was. The other lines' edges are read before the pairs are claimed, so they see
    the claims as they were before the rule (as the engine does within one rule).
    """
    session, rules = state.session, state.rules
    unclaimed_va = and_(
        Line.source == Source.BANK,
        Line.direction == LineDirection.CREDIT,
        Line.va_number.is_not(None),
        _line_unclaimed(),
    )
    low, high = session.execute(
        select(func.min(Line.booking_date), func.max(Line.booking_date)).where(unclaimed_va)
    ).one()
    if low is None:
        return
    days = [
        date.fromordinal(d) for d in range(low.toordinal() - rules.span_days, high.toordinal() + 1)
    ]
    window = [(d, rules.due(d, rules.va_window_days)) for d in days]
    # PostgreSQL hashes the window into the join, given as values (a scratch table would keep
    # the query from running in parallel); SQLite, offered a third table, would drive the join
    # from the payments and scan the lines for each: there the window is a lookup.
    joined = session.get_bind().dialect.name == "postgresql"
    if joined:
        va_window = values(
            column("paid_on", Date), column("last_booked", Date), name="va_window"
        ).data(window)
    else:
        _scratch(session, _VA_WINDOW)
        session.execute(
            insert(_VA_WINDOW), [{"paid_on": d, "last_booked": last} for d, last in window]
        )
        last_booked = select(_VA_WINDOW.c.last_booked).where(
            _VA_WINDOW.c.paid_on == Payment.paid_on
        )

    def edges(*columns: Any) -> Select[Any]:
        query = (
            select(*columns).select_from(Line).join(Payment, Payment.va_number == Line.va_number)
        )
        if joined:
            query = query.join(va_window, va_window.c.paid_on == Payment.paid_on).where(
                Line.booking_date <= va_window.c.last_booked
            )
        else:
            query = query.where(Line.booking_date <= last_booked.scalar_subquery())
        return query.where(
            unclaimed_va,
            Payment.channel == Channel.VA,
            Payment.paid_on <= Line.booking_date,
            Payment.paid_on >= _minus_days(session, Line.booking_date, rules.span_days),
            _since(state),
            _not_reversed(),
        )

    eligible = (
        edges(Line.id.label("line_id"), Payment.id.label("payment_id"))
        .where(
            Line.amount_idr == Payment.amount_idr,
            ~exists().where(Claim.payment_id == Payment.id),
            ~_released_pair(Line.id, Payment.id),
        )
        .cte("eligible")
    )
    # Degrees by window functions: sorts, whatever the planner estimates (a join of the edges
    # with their grouped selves can become a nested loop over both).
    degrees = select(
        eligible.c.line_id,
        eligible.c.payment_id,
        func.count().over(partition_by=eligible.c.line_id).label("lines"),
        func.count().over(partition_by=eligible.c.payment_id).label("payments"),
    ).subquery("degrees")
    _drop_scratch(session, _VA_PAIRS)
    session.execute(
        _CreateScratchAs(
            _VA_PAIRS,
            select(
                func.row_number().over(order_by=degrees.c.line_id).label("n"),
                degrees.c.line_id,
                degrees.c.payment_id,
            ).where(degrees.c.lines == 1, degrees.c.payments == 1),
        )
    )
    # Unique (a pair's line has one eligible payment), and what the rule's other edges look up.
    session.execute(text(f"CREATE UNIQUE INDEX ix_{_VA_PAIRS.name} ON {_VA_PAIRS.name} (line_id)"))
    count = int(session.scalar(select(func.count()).select_from(_VA_PAIRS)) or 0)
    holder = aliased(Claim)
    rest = session.connection().execute(
        edges(*_line_columns(), *_payment_columns(Payment, holder))
        .outerjoin(holder, holder.payment_id == Payment.id)
        .where(~exists().where(_VA_PAIRS.c.line_id == Line.id))
    )
    _apply(state, Rule.VA, Target.PAYMENT, _payment_candidates(state, rest.all(), None))
    if count:
        _write_pairs(state, count)
    _drop_scratch(session, _VA_PAIRS)
    if not joined:
        _drop_scratch(session, _VA_WINDOW)


def _write_pairs(state: _State, count: int) -> None:
    """The VA rule's one-to-one pairs as matches and claims, database to database."""
    session = state.session
    base = allocate_ids(session, Match.__table__, count)[0] - 1  # type: ignore[arg-type]
    number = _VA_PAIRS.c.n + base
    session.execute(
        insert(Match).from_select(
            ["id", "line_id", "payment_id", "rule", "difference_idr", "run_id", "created_at"],
            select(
                number,
                _VA_PAIRS.c.line_id,
                _VA_PAIRS.c.payment_id,
                literal(Rule.VA, Match.rule.type),
                literal(0),
                literal(state.run_id),
                literal(clock.now(), Match.created_at.type),
            ),
        )
    )
    session.execute(
        insert(Claim).from_select(
            ["match_id", "line_id", "payment_id"],
            select(number, _VA_PAIRS.c.line_id, _VA_PAIRS.c.payment_id),
        )
    )
    if count >= ANALYZE_AFTER_MATCHES:
        # The rules and exception queries that follow anti-join the claims just written; the
        # run's summary and hash join its matches to their lines (by hash, once it knows).
        analyze(session, "recon_claims", count)
        analyze(session, "recon_matches", count)


def _rule_reference(state: _State) -> None:
    """The acquirer's reference on a settlement line, or a bank line's reference, equal to a
    payment's external reference (the settlement line also from that acquirer)."""
    session = state.session
    holder = aliased(Claim)
    settlement = session.connection().execute(
        select(*_line_columns(), *_payment_columns(Payment, holder))
        .select_from(Line)
        .join(
            Payment,
            and_(
                Payment.channel == Channel.QRIS,
                Payment.sender == Line.account_id,
                Payment.external_ref == Line.bank_reference,
            ),
        )
        .outerjoin(holder, holder.payment_id == Payment.id)
        .where(
            Line.source == Source.SETTLEMENT,
            Line.bank_reference.is_not(None),
            _line_unclaimed(),
            _since(state),
            _not_reversed(),
        )
    )
    candidates = _payment_candidates(state, settlement, None)
    candidates.extend(_bank_reference_candidates(state, holder))
    unique = list(dict.fromkeys(candidates))
    _apply(state, Rule.REFERENCE, Target.PAYMENT, unique)


def _bank_reference_candidates(state: _State, holder: Any) -> list[Candidate]:
    """Bank credits whose bank or customer reference is a payment's external reference.

    Two set-based steps, because no index holds the payments' reference alone: the payments
    whose reference is among the unmatched lines' references (one pass over the payments; SQLite
    indexes the references of the subquery, PostgreSQL hashes them), then the lines carrying the
    references found, which are few.
    """
    session, rules = state.session, state.rules
    unmatched = and_(
        Line.source == Source.BANK, Line.direction == LineDirection.CREDIT, _line_unclaimed()
    )
    refs = (
        select(Line.bank_reference.label("ref"))
        .where(unmatched, Line.bank_reference.is_not(None))
        .union(
            select(Line.customer_reference).where(unmatched, Line.customer_reference.is_not(None))
        )
    )
    payments = (
        session.connection()
        .execute(
            select(*_payment_columns(Payment, holder))
            .outerjoin(holder, holder.payment_id == Payment.id)
            .where(
                Payment.external_ref.in_(refs),
                Payment.channel.in_([Channel.VA, Channel.QRIS]),
                Payment.sender != rules.sender,
                _since(state),
                _not_reversed(),
            )
        )
        .all()
    )
    if not payments:
        return []
    by_ref: dict[str, list[Any]] = defaultdict(list)
    for row in payments:
        by_ref[row[3]].append(row)
    found: list[Candidate] = []
    keys = sorted(by_ref)
    for chunk in _chunks(keys, 500):
        lines = session.connection().execute(
            select(*_line_columns(), Line.bank_reference, Line.customer_reference).where(
                unmatched,
                or_(Line.bank_reference.in_(list(chunk)), Line.customer_reference.in_(list(chunk))),
            )
        )
        for *line, bank_ref, customer_ref in lines:
            for ref in dict.fromkeys(r for r in (bank_ref, customer_ref) if r in by_ref):
                rows = [(*line, *payment) for payment in by_ref[ref]]
                found.extend(_payment_candidates(state, rows, None))
    return found


def _rule_qris_bill(state: _State) -> None:
    """A settlement line whose reference no payment carries, by its bill number (QRIS tag
    62-01): a QRIS payment of that acquirer aimed at that bill, paid around the same day."""
    session, rules = state.session, state.rules
    holder = aliased(Claim)
    by_ref = aliased(Payment)
    rows = session.connection().execute(
        select(
            *_line_columns(), *_payment_columns(Payment, holder), Payment.target_bill_ids, Bill.id
        )
        .select_from(Line)
        .join(Bill, Bill.number == Line.bill_number)
        .join(
            Payment,
            and_(
                Payment.channel == Channel.QRIS,
                Payment.sender == Line.account_id,
                Payment.vendor_id == Bill.vendor_id,
            ),
        )
        .outerjoin(holder, holder.payment_id == Payment.id)
        .where(
            Line.source == Source.SETTLEMENT,
            Line.bill_number.is_not(None),
            _line_unclaimed(),
            ~exists().where(
                by_ref.channel == Channel.QRIS,
                by_ref.sender == Line.account_id,
                by_ref.external_ref == Line.bank_reference,
            ),
            Payment.paid_on >= _minus_days(session, Line.booking_date, rules.span_days),
            Payment.paid_on <= _plus_days(session, Line.booking_date, rules.span_days),
            _since(state),
            _not_reversed(),
        )
    )
    days = rules.qris_bill_window_days
    candidates: list[Candidate] = []
    for row in rows:
        *base, targets, bill_id = row
        if not isinstance(targets, list) or bill_id not in targets:
            continue
        paid_on, booked = base[11], base[4]
        within = abs((paid_on - booked).days) <= days

        def window(_paid: date, _booked: date, fits: bool = within) -> bool:
            return fits

        candidates.extend(_payment_candidates(state, [base], window))
    _apply(state, Rule.QRIS_BILL, Target.PAYMENT, candidates)


def _rule_batch(state: _State) -> None:
    """A bank credit naming a settlement batch (``QRIS … BATCH <id>``) for its net amount."""
    session, rules = state.session, state.rules
    holder = aliased(Claim)
    rows = session.connection().execute(
        select(
            *_line_columns(),
            Line.nmid,
            SettlementBatch.id,
            SettlementBatch.acquirer_id,
            SettlementBatch.batch_ref,
            SettlementBatch.settlement_date,
            SettlementBatch.nmid,
            SettlementBatch.net_idr,
            holder.line_id,
        )
        .select_from(Line)
        .join(SettlementBatch, SettlementBatch.batch_ref == Line.qris_reference)
        .outerjoin(holder, holder.batch_id == SettlementBatch.id)
        .where(
            Line.source == Source.BANK,
            Line.direction == LineDirection.CREDIT,
            Line.qris_reference.is_not(None),
            _line_unclaimed(),
        )
    )
    order = state.target_order[Target.BATCH]
    candidates: list[Candidate] = []
    for (
        line_id,
        source,
        account,
        identity,
        booked,
        amount,
        line_nmid,
        batch_id,
        acquirer,
        ref,
        settled,
        nmid,
        net,
        claimed_by,
    ) in rows:
        state.see_line(line_id, source, account, identity, booked)
        name = batch_key(acquirer, ref)
        order[batch_id] = (settled, name)
        state.target_names[(Target.BATCH, batch_id)] = name
        window = rules.within(settled, booked, rules.batch_window_days)
        same_merchant = line_nmid is None or line_nmid == nmid
        candidates.append(
            Candidate(line_id, batch_id, amount == net, window and same_merchant, claimed_by, net)
        )
    _apply(state, Rule.BATCH, Target.BATCH, candidates)


_TOKEN_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9/._\-]*[A-Z0-9]|[A-Z0-9]")


def _rule_deposit(state: _State) -> None:
    """A bank credit whose text carries an officer's deposit slip reference, for its amount."""
    session, rules = state.session, state.rules
    found = (
        session.connection()
        .execute(
            select(
                *_line_columns(), Line.description, Line.bank_reference, Line.customer_reference
            ).where(
                Line.source == Source.BANK,
                Line.direction == LineDirection.CREDIT,
                Line.va_number.is_(None),
                Line.qris_reference.is_(None),
                _line_unclaimed(),
            )
        )
        .all()
    )
    lines: list[Any] = [row for row in found if row[0] not in state.matcher.taken_lines]
    if not lines:
        return
    low = min(row[4] for row in lines)
    high = max(row[4] for row in lines)
    holder = aliased(Claim)
    deposits = (
        session.connection()
        .execute(
            select(
                Deposit.id,
                Deposit.slip_ref,
                Deposit.amount_idr,
                Deposit.deposited_on,
                User.username,
                holder.line_id,
            )
            .join(User, User.id == Deposit.officer_id)
            .outerjoin(holder, holder.deposit_id == Deposit.id)
            .where(
                Deposit.deposited_on >= date.fromordinal(low.toordinal() - rules.span_days),
                Deposit.deposited_on <= high,
            )
        )
        .all()
    )
    by_slip: dict[str, list[Any]] = defaultdict(list)
    order = state.target_order[Target.DEPOSIT]
    for row in deposits:
        deposit_id, slip, _amount, deposited_on, officer, _holder = row
        by_slip[slip.strip().upper()].append(row)
        name = deposit_key(officer or "", slip)
        order[deposit_id] = (deposited_on, name)
        state.target_names[(Target.DEPOSIT, deposit_id)] = name
    candidates: list[Candidate] = []
    for line_row in lines:
        line_id, source, account, identity, booked, amount, description, ref, cref = line_row
        state.see_line(line_id, source, account, identity, booked)
        texts = " ".join(t for t in (description, ref, cref) if t).upper()
        tokens = set(_TOKEN_RE.findall(texts))
        for token in sorted(tokens):
            for (
                deposit_id,
                _slip,
                deposit_amount,
                deposited_on,
                _officer,
                claimed_by,
            ) in by_slip.get(token, ()):
                candidates.append(
                    Candidate(
                        line_id,
                        deposit_id,
                        amount == deposit_amount,
                        rules.within(deposited_on, booked, rules.deposit_window_days),
                        claimed_by,
                        deposit_amount,
                    )
                )
    _apply(state, Rule.DEPOSIT, Target.DEPOSIT, candidates)


# --- writing matches --------------------------------------------------------------------------


def _write_matches(state: _State) -> None:
    """Insert the matches and claims the engine decided since the last write."""
    matches = state.matcher.matches[state.written :]
    state.written += len(matches)
    if not matches:
        return
    session = state.session
    now = clock.now()
    ids = allocate_ids(session, Match.__table__, len(matches))  # type: ignore[arg-type]
    ordered = list(zip(ids, matches, strict=True))
    FastWriter(session, Match.__table__, MATCH_COLUMNS).write(  # type: ignore[arg-type]
        (
            match_id,
            line_id,
            target if kind is Target.PAYMENT else None,
            target if kind is Target.DEPOSIT else None,
            target if kind is Target.BATCH else None,
            rule,
            0,
            state.run_id,
            now,
        )
        for match_id, (line_id, kind, target, rule) in ordered
    )
    FastWriter(session, Claim.__table__, CLAIM_COLUMNS).write(  # type: ignore[arg-type]
        (
            match_id,
            line_id,
            target if kind is Target.PAYMENT else None,
            target if kind is Target.DEPOSIT else None,
            target if kind is Target.BATCH else None,
        )
        for match_id, (line_id, kind, target, _rule) in ordered
    )
    if len(matches) >= ANALYZE_AFTER_MATCHES:
        analyze(session, "recon_claims", len(matches))
        analyze(session, "recon_matches", len(matches))


def _summarise_matches(state: _State, result: RunResult) -> set[int]:
    """Count the run's matches per rule (from the database, where all of them are now); returns
    the ids of the files of matched lines."""
    rows = state.session.execute(
        select(Match.rule, Line.file_id, func.count(), func.sum(Line.amount_idr))
        .join(Line, Line.id == Match.line_id)
        .where(Match.run_id == state.run_id)
        .group_by(Match.rule, Line.file_id)
    )
    by_rule: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    files: set[int] = set()
    for rule, file_id, count, amount in rows:
        entry = by_rule[rule.value]
        entry[0] += int(count)
        entry[1] += int(amount)
        files.add(file_id)
    result.matched = {
        rule: {"count": count, "amount_idr": amount}
        for rule, (count, amount) in sorted(by_rule.items())
    }
    result.matched_count = sum(count for count, _amount in by_rule.values())
    result.matched_idr = sum(amount for _count, amount in by_rule.values())
    return files


# --- exceptions -------------------------------------------------------------------------------


def _exceptions(state: _State) -> tuple[list[ComputedException], set[int]]:
    """Exceptions for what is unmatched after the run's claims are written."""
    session, matcher = state.session, state.matcher
    computed: list[ComputedException] = []
    files: set[int] = set()
    leftover = (
        session.connection()
        .execute(
            select(
                Line.id,
                Line.source,
                Line.account_id,
                Line.identity,
                Line.direction,
                Line.amount_idr,
                Line.booking_date,
                Line.file_id,
                Bill.market_id,
            )
            .outerjoin(Bill, Bill.number == Line.bill_number)
            .where(_line_unclaimed())
        )
        .all()
    )
    _see_holders(state, [row[0] for row in leftover])
    for (
        line_id,
        source,
        account,
        identity,
        direction,
        amount,
        booked,
        file_id,
        market_id,
    ) in leftover:
        files.add(file_id)
        name = line_key(source.value, account, identity)
        state.line_names.setdefault(line_id, name)
        verdict: Verdict = classify_line(
            is_credit=direction is LineDirection.CREDIT,
            amount_idr=amount,
            evidence=matcher.evidence.get(line_id, ()),
            duplicate_of=matcher.duplicates.get(line_id),
            target_ref=state.target_names,
            line_ref=state.line_names,
        )
        computed.append(
            ComputedException(
                id=exception_id(name),
                type=verdict.type,
                subject=SubjectKind.LINE,
                subject_id=line_id,
                amount_idr=amount,
                difference_idr=verdict.difference_idr,
                subject_date=booked,
                market_id=market_id,
                detail={"line": name, **verdict.detail},
            )
        )
    computed.extend(_missing_payments(state))
    computed.extend(_missing_deposits(state))
    computed.extend(_missing_batches(state))
    return computed, files


def _see_holders(state: _State, leftover: Sequence[int]) -> None:
    """Learn the natural keys of the lines that hold what a leftover line would pay (claimed in
    an earlier run, so this run did not see them): an exception names them, the same every run."""
    evidence = state.matcher.evidence
    wanted = sorted(
        {
            e.claimed_by
            for line in leftover
            for e in evidence.get(line, ())
            if e.claimed_by is not None and e.claimed_by not in state.line_order
        }
    )
    for chunk in _chunks(wanted):
        for row in state.session.connection().execute(
            select(*_line_columns()).where(Line.id.in_(list(chunk)))
        ):
            state.see_line(*row[:5])


def _suggested(state: _State, kind: Target, target: int) -> dict[str, Any]:
    lines = state.matcher.ambiguous_targets.get((kind, target))
    if not lines:
        return {}
    return {"candidates": [state.line_names.get(line, str(line)) for line in lines]}


def _missing_payments(state: _State) -> list[ComputedException]:
    session, rules = state.session, state.rules
    va_cutoff = _cutoff(rules, state.as_of, rules.grace_va_days)
    qris_cutoff = _cutoff(rules, state.as_of, rules.grace_qris_days)
    rows = session.connection().execute(
        select(
            Payment.id,
            Payment.channel,
            Payment.sender,
            Payment.external_ref,
            Payment.amount_idr,
            Payment.paid_on,
            Payment.market_id,
        ).where(
            ~exists().where(Claim.payment_id == Payment.id),
            _not_reversed(),
            _since(state),
            or_(
                and_(Payment.channel == Channel.VA, Payment.paid_on <= va_cutoff),
                and_(Payment.channel == Channel.QRIS, Payment.paid_on <= qris_cutoff),
                and_(
                    Payment.channel == Channel.COUNTER,
                    Payment.sender == rules.sender,
                    Payment.paid_on <= va_cutoff,
                ),
            ),
        )
    )
    found = []
    for payment_id, channel, sender, ref, amount, paid_on, market_id in rows:
        name = payment_key(channel.value, sender, ref)
        found.append(
            _no_bank_line(state, Target.PAYMENT, name, payment_id, amount, paid_on, market_id)
        )
    return found


def _no_bank_line(
    state: _State,
    target: Target,
    name: str,
    subject_id: int,
    amount_idr: int,
    day: date,
    market_id: int | None = None,
) -> ComputedException:
    """A payment, deposit or batch past its grace period that no bank line claims."""
    return ComputedException(
        id=exception_id(name),
        type=ExceptionType.MISSING_BANK_LINE,
        subject=SubjectKind(target.value),
        subject_id=subject_id,
        amount_idr=amount_idr,
        difference_idr=-amount_idr,
        subject_date=day,
        market_id=market_id,
        detail={target.value: name, **_suggested(state, target, subject_id)},
    )


def _missing_deposits(state: _State) -> list[ComputedException]:
    session, rules = state.session, state.rules
    cutoff = _cutoff(rules, state.as_of, rules.grace_deposit_days)
    query = (
        select(
            Deposit.id, Deposit.slip_ref, Deposit.amount_idr, Deposit.deposited_on, User.username
        )
        .join(User, User.id == Deposit.officer_id)
        .where(~exists().where(Claim.deposit_id == Deposit.id), Deposit.deposited_on <= cutoff)
    )
    if rules.payments_since is not None:
        query = query.where(Deposit.deposited_on >= rules.payments_since)
    found = []
    for deposit_id, slip, amount, deposited_on, officer in session.execute(query):
        name = deposit_key(officer or "", slip)
        found.append(_no_bank_line(state, Target.DEPOSIT, name, deposit_id, amount, deposited_on))
    return found


def _missing_batches(state: _State) -> list[ComputedException]:
    session, rules = state.session, state.rules
    cutoff = _cutoff(rules, state.as_of, rules.grace_batch_days)
    rows = session.connection().execute(
        select(
            SettlementBatch.id,
            SettlementBatch.acquirer_id,
            SettlementBatch.batch_ref,
            SettlementBatch.net_idr,
            SettlementBatch.settlement_date,
        ).where(
            ~exists().where(Claim.batch_id == SettlementBatch.id),
            SettlementBatch.settlement_date <= cutoff,
        )
    )
    found = []
    for batch_id, acquirer, ref, net, settled in rows:
        name = batch_key(acquirer, ref)
        found.append(_no_bank_line(state, Target.BATCH, name, batch_id, net, settled))
    return found


# --- settlement batches: every rupiah explained -----------------------------------------------


def expected_fee_sql(rules: Rules) -> ColumnElement[int]:
    """Σ-able SQL for the fee the MDR schedule allows on one settlement line: gross x rate, half
    up per transaction, in integers (rates have at most 4 decimals: k millionths)."""
    branches = []
    for acquirer, periods in rules.mdr:
        for period in sorted(periods, key=lambda p: p.valid_from, reverse=True):
            millionths = int(period.rate_pct * 10_000)
            branches.append(
                (
                    and_(
                        Line.account_id == acquirer,
                        SettlementBatch.settlement_date >= period.valid_from,
                    ),
                    (Line.amount_idr * literal(millionths) + 500_000) // 1_000_000,
                )
            )
    if not branches:
        return literal(0)
    return case(*branches, else_=0)


@dataclass(frozen=True)
class Bridge:
    """One settlement batch explained: bank credit = Σ (gross − expected fee) of its payments."""

    batch_id: int
    name: str
    settlement_date: date
    credited_idr: int
    explained_idr: int
    missing_rows_idr: int  # batch net − Σ net of the lines stored (quarantined rows)
    unmatched_idr: int  # Σ net of stored lines no payment explains yet
    fee_variance_idr: int  # Σ (reported fee − scheduled fee) of the matched lines

    @property
    def residual_idr(self) -> int:
        return self.credited_idr - self.explained_idr

    @property
    def explained(self) -> bool:
        return not (self.missing_rows_idr or self.unmatched_idr or self.fee_variance_idr)


def bridges(session: AnySession, rules: Rules) -> list[Bridge]:
    """The bridge of every settlement batch a bank credit claims (one aggregate query)."""
    credit = aliased(Line)
    batch_claim = aliased(Claim)
    batch_match = aliased(Match)
    line_claim = aliased(Claim)
    matched = line_claim.match_id.is_not(None)
    net = Line.amount_idr - func.coalesce(Line.fee_idr, 0)
    rows = session.connection().execute(
        select(
            SettlementBatch.id,
            SettlementBatch.acquirer_id,
            SettlementBatch.batch_ref,
            SettlementBatch.settlement_date,
            SettlementBatch.net_idr,
            credit.amount_idr,
            batch_match.difference_idr,
            func.coalesce(func.sum(net), 0),
            func.coalesce(func.sum(case((matched, Line.amount_idr), else_=0)), 0),
            func.coalesce(func.sum(case((matched, func.coalesce(Line.fee_idr, 0)), else_=0)), 0),
            func.coalesce(func.sum(case((matched, expected_fee_sql(rules)), else_=0)), 0),
            func.coalesce(func.sum(case((matched, 0), else_=net)), 0),
        )
        .join(batch_claim, batch_claim.batch_id == SettlementBatch.id)
        .join(credit, credit.id == batch_claim.line_id)
        .join(batch_match, batch_match.id == batch_claim.match_id)
        .outerjoin(Line, Line.batch_id == SettlementBatch.id)
        .outerjoin(line_claim, line_claim.line_id == Line.id)
        .group_by(
            SettlementBatch.id,
            SettlementBatch.acquirer_id,
            SettlementBatch.batch_ref,
            SettlementBatch.settlement_date,
            SettlementBatch.net_idr,
            credit.amount_idr,
            batch_match.difference_idr,
        )
    )
    found = []
    for (
        batch_id,
        acquirer,
        ref,
        settled,
        batch_net,
        credited,
        accepted,
        stored_net,
        gross,
        fee,
        expected,
        unmatched,
    ) in rows:
        found.append(
            Bridge(
                batch_id=batch_id,
                name=batch_key(acquirer, ref),
                settlement_date=settled,
                credited_idr=int(credited),
                # A person's match may accept a difference between the credit and the batch.
                explained_idr=int(gross) - int(expected) + int(accepted),
                missing_rows_idr=int(batch_net) - int(stored_net),
                unmatched_idr=int(unmatched),
                fee_variance_idr=int(fee) - int(expected),
            )
        )
    return found


def _settlement_residuals(state: _State) -> list[ComputedException]:
    found = []
    for bridge in bridges(state.session, state.rules):
        if bridge.explained:
            continue
        found.append(
            ComputedException(
                id=exception_id(bridge.name),
                type=ExceptionType.SETTLEMENT_RESIDUAL,
                subject=SubjectKind.BATCH,
                subject_id=bridge.batch_id,
                amount_idr=bridge.credited_idr,
                difference_idr=bridge.residual_idr,
                subject_date=bridge.settlement_date,
                market_id=None,
                detail={
                    "batch": bridge.name,
                    "credited_idr": bridge.credited_idr,
                    "explained_idr": bridge.explained_idr,
                    "missing_rows_idr": bridge.missing_rows_idr,
                    "unmatched_idr": bridge.unmatched_idr,
                    "fee_variance_idr": bridge.fee_variance_idr,
                    "residual_idr": bridge.residual_idr,
                },
            )
        )
    return found


# --- keeping exceptions -----------------------------------------------------------------------


def next_status(status: ExceptionStatus, *, changed: bool) -> tuple[ExceptionStatus, bool]:
    """The status of an exception a run finds again, and whether that reopens it: a resolved
    one reopens; a decision (ignored, accepted) was about a type and an amount, and lapses when
    they change; an open one stays open."""
    if status is ExceptionStatus.RESOLVED:
        return ExceptionStatus.OPEN, True
    if status in (ExceptionStatus.IGNORED, ExceptionStatus.ACCEPTED) and changed:
        return ExceptionStatus.OPEN, True
    return status, False


def _existing_exceptions(session: AnySession, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The standing exceptions, and the resolved ones a run finds again, by id."""
    columns = (
        ReconException.id,
        ReconException.type,
        ReconException.status,
        ReconException.difference_idr,
        ReconException.detail,
    )
    existing: dict[str, Any] = {
        row.id: row
        for row in session.execute(select(*columns).where(ReconException.status.in_(LIVE_STATUSES)))
    }
    missing = sorted(set(wanted) - set(existing))
    for chunk in _chunks(missing):
        for row in session.execute(select(*columns).where(ReconException.id.in_(list(chunk)))):
            existing[row.id] = row
    return existing


def _merge_exceptions(
    state: _State, computed: list[ComputedException], run_id: int, result: RunResult
) -> list[tuple[str, str, str, int]]:
    """Insert, update, reopen and resolve exceptions; returns the live ones for the hash as
    (id, type, status, difference)."""
    session = state.session
    now = clock.now()
    table = ReconException.__table__
    wanted = {c.id: c for c in computed}
    existing = _existing_exceptions(session, wanted)
    inserts = []
    updates: list[dict[str, Any]] = []
    live: list[tuple[str, str, str, int]] = []
    for exc_id, item in wanted.items():
        row = existing.get(exc_id)
        if row is None:
            inserts.append(item)
            result.opened += 1
            live.append((exc_id, item.type.value, ExceptionStatus.OPEN.value, item.difference_idr))
            continue
        changed = row.type is not item.type or row.difference_idr != item.difference_idr
        status, reopened = next_status(row.status, changed=changed)
        if not reopened and not changed and row.detail == item.detail:
            live.append((exc_id, row.type.value, status.value, row.difference_idr))
            continue
        result.reopened += reopened
        values: dict[str, Any] = {
            "b_id": exc_id,
            "type": item.type,
            "amount_idr": item.amount_idr,
            "difference_idr": item.difference_idr,
            "subject_date": item.subject_date,
            "market_id": item.market_id,
            "detail": item.detail,
            "last_run_id": run_id,
            "updated_at": now,
            "status": status,
            "resolved_at": None,
            # A resolved exception found again opens anew: its age starts again.
            "opened_at": now if row.status is ExceptionStatus.RESOLVED else None,
        }
        updates.append(values)
        live.append((exc_id, item.type.value, values["status"].value, item.difference_idr))
    resolved = sorted(set(existing) - set(wanted))
    resolved = [i for i in resolved if existing[i].status in LIVE_STATUSES]
    result.resolved = len(resolved)
    if inserts:
        FastWriter(session, table, EXCEPTION_COLUMNS).write(  # type: ignore[arg-type]
            (
                item.id,
                item.type,
                ExceptionStatus.OPEN,
                item.subject,
                item.subject_id if item.subject is SubjectKind.LINE else None,
                item.subject_id if item.subject is SubjectKind.PAYMENT else None,
                item.subject_id if item.subject is SubjectKind.DEPOSIT else None,
                item.subject_id if item.subject is SubjectKind.BATCH else None,
                item.amount_idr,
                item.difference_idr,
                item.subject_date,
                item.market_id,
                now,
                run_id,
                run_id,
                None,
                None,
                now,
                item.detail,
            )
            for item in inserts
        )
    for values in updates:
        statement = (
            update(ReconException)
            .where(ReconException.id == bindparam("b_id"))
            .values(
                type=values["type"],
                amount_idr=values["amount_idr"],
                difference_idr=values["difference_idr"],
                subject_date=values["subject_date"],
                market_id=values["market_id"],
                detail=values["detail"],
                last_run_id=values["last_run_id"],
                updated_at=values["updated_at"],
                status=values["status"],
                resolved_at=None,
                **({"opened_at": values["opened_at"]} if values["opened_at"] else {}),
            )
        )
        session.execute(statement, {"b_id": values["b_id"]})
    for chunk in _chunks(resolved):
        session.execute(
            update(ReconException)
            .where(ReconException.id.in_(list(chunk)))
            .values(
                status=ExceptionStatus.RESOLVED,
                resolved_at=now,
                updated_at=now,
                last_run_id=run_id,
            )
        )
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _exc_id, kind, standing, difference in live:
        if standing == ExceptionStatus.OPEN.value:
            entry = by_type[kind]
            entry[0] += 1
            entry[1] += abs(difference)
    result.exceptions = {
        kind: {"open": count, "amount_idr": amount}
        for kind, (count, amount) in sorted(by_type.items())
    }
    result.lines_open = sum(1 for c in computed if c.subject is SubjectKind.LINE)
    return live


# --- the result hash --------------------------------------------------------------------------


def _file_hashes(session: AnySession, file_ids: set[int]) -> list[str]:
    hashes: set[str] = set()
    ids = sorted(file_ids)
    for chunk in _chunks(ids):
        hashes.update(
            h
            for (h,) in session.execute(
                select(ImportedFile.sha256).where(ImportedFile.id.in_(list(chunk)))
            )
        )
    return sorted(hashes)


def result_text(
    *,
    as_of: date,
    rules_version: str,
    input_files: Sequence[str],
    matches: Iterable[tuple[str, str, str]],
    exceptions: Iterable[tuple[str, str, str, int]],
) -> Iterator[bytes]:
    """The canonical text hashed as a run's result, in chunks (documented in docs/reconcile.md).

    Lines: a header, ``F <sha256>`` per input file, ``M <line> <target> <rule>`` per match,
    ``X <id> <type> <status> <difference>`` per standing exception; tab-separated, sorted.
    """
    lines = (f"M\t{line}\t{target}\t{rule}\n" for line, target, rule in sorted(matches))
    return _result_chunks(as_of, rules_version, input_files, _joined(lines), exceptions)


def _joined(lines: Iterable[str], size: int = 10_000) -> Iterator[str]:
    """Lines of text joined in batches of ``size`` (one ``encode`` and hash update per batch)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _result_chunks(
    as_of: date,
    rules_version: str,
    input_files: Sequence[str],
    match_text: Iterable[str],
    exceptions: Iterable[tuple[str, str, str, int]],
) -> Iterator[bytes]:
    """:func:`result_text` with the ``M`` lines already written and sorted (``match_text``)."""
    yield f"{RESULT_FORMAT}\nas_of\t{as_of.isoformat()}\nrules\t{rules_version}\n".encode()
    for digest in sorted(input_files):
        yield f"F\t{digest}\n".encode()
    for chunk in match_text:
        yield chunk.encode("utf-8")
    standing = (
        f"X\t{exc_id}\t{kind}\t{status}\t{difference}\n"
        for exc_id, kind, status, difference in sorted(exceptions)
    )
    for chunk in _joined(standing):
        yield chunk.encode("utf-8")


def _escaped(value: Any) -> ColumnElement[str]:
    """SQL for ``value.translate(_ESCAPE)`` (the backslash first, as the translation has it)."""
    for char, escape in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        value = func.replace(value, literal(char), literal(escape))
    return value  # type: ignore[no-any-return]


def _stored_text(column: Any) -> ColumnElement[str]:
    """An enum column's stored text, not converted to its member."""
    return type_coerce(column, String)


#: ``M`` lines fetched at a time for the result hash.
_HASH_CHUNK: Final = 10_000


def _run_matches(state: _State) -> Select[str, str, str]:
    """(line key, target key, rule) of every match the run made: the keys are spelt out by the
    database (the same text as :func:`line_key` and its siblings), the run holds no names."""
    officer = aliased(User)
    # Each key escaped whole, as line_key and its siblings do (the escape maps characters one
    # by one, and the literal parts hold none it maps): half the replace() calls per match.
    line = _escaped(
        literal("line:") + _stored_text(Line.source) + ":" + Line.account_id + ":" + Line.identity
    )
    target = _escaped(
        case(
            (
                Match.payment_id.is_not(None),
                literal("payment:")
                + _stored_text(Payment.channel)
                + ":"
                + Payment.sender
                + ":"
                + Payment.external_ref,
            ),
            (
                Match.deposit_id.is_not(None),
                literal("deposit:") + func.coalesce(officer.username, "") + ":" + Deposit.slip_ref,
            ),
            else_=literal("batch:") + SettlementBatch.acquirer_id + ":" + SettlementBatch.batch_ref,
        )
    )
    return (
        select(line.label("line"), target.label("target"), _stored_text(Match.rule).label("rule"))
        .select_from(Match)
        .join(Line, Line.id == Match.line_id)
        .outerjoin(Payment, Payment.id == Match.payment_id)
        .outerjoin(Deposit, Deposit.id == Match.deposit_id)
        .outerjoin(officer, officer.id == Deposit.officer_id)
        .outerjoin(SettlementBatch, SettlementBatch.id == Match.batch_id)
        .where(Match.run_id == state.run_id)
    )


def _match_text(state: _State) -> Iterator[str]:
    """The run's ``M`` lines, sorted, in chunks of text. PostgreSQL writes and sorts them itself
    (in parallel: a server-side cursor would forbid that), so a million keys need not become
    Python tuples to be sorted here; ``COLLATE "C"`` orders by code point, as Python's
    ``sorted`` does, so the bytes are the same as SQLite's, sorted here."""
    keys = _run_matches(state)
    connection = state.session.connection()
    if connection.dialect.name != "postgresql":
        rows = sorted(tuple(row) for row in connection.execute(keys))
        yield from _joined(f"M\t{line}\t{target}\t{rule}\n" for line, target, rule in rows)
        return
    found = keys.subquery("found")
    text_ = literal("M\t") + found.c.line + "\t" + found.c.target + "\t" + found.c.rule + "\n"
    texts = connection.execute(
        select(text_).order_by(
            found.c.line.collate("C"), found.c.target.collate("C"), found.c.rule.collate("C")
        )
    )
    # Read from the driver's cursor: texts need no conversion, and a million result rows made
    # on the way cost half a second to a second (the month) for nothing.
    cursor = texts.cursor
    while chunk := cursor.fetchmany(_HASH_CHUNK):
        yield "".join([line for (line,) in chunk])
    texts.close()


def _result_hash(
    state: _State, result: RunResult, live: Sequence[tuple[str, str, str, int]]
) -> str:
    digest = hashlib.sha256()
    for chunk in _result_chunks(
        state.as_of, result.rules_version, result.input_files, _match_text(state), live
    ):
        digest.update(chunk)
    return digest.hexdigest()


def latest_run(session: AnySession | None = None) -> Run | None:
    session = session or db.session
    found: Run | None = session.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()
    return found


def claimed_counts(session: AnySession) -> Mapping[str, int]:
    return {
        "claims": int(session.scalar(select(func.count()).select_from(Claim)) or 0),
        "matches": int(session.scalar(select(func.count()).select_from(Match)) or 0),
    }
