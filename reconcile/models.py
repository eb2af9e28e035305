"""Reconciliation: imported files, statement and settlement lines, matches, exceptions, runs.

Facts are append-only (database triggers refuse UPDATE and DELETE, migration
``0008_reconcile``): files, statements, settlement batches, lines, quarantined lines, matches,
events and runs. Two tables are *projections*, kept in the same transaction as the facts they
follow:

* ``recon_claims``: the active matches. Its unique indexes are what makes every line, payment,
  deposit and settlement batch claimed at most once, whatever code writes to it. A match is
  inserted into ``recon_matches`` (the fact) and ``recon_claims`` (the projection) together; an
  unmatch is a ``recon_events`` row (unique per match) and the claim's deletion.
* ``recon_exceptions``: one row per subject (a line, a payment, a deposit or a batch) that a run
  could not explain, under a stable id derived from the subject's natural key, with its type,
  status (open, resolved, ignored, accepted), age and assignee.

Money is whole rupiah in BIGINT ``*_idr`` columns.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from retribusi.db import Base, BigId, IdPK, JsonDoc

#: Longest text kept from a statement line (the importers' ``MAX_FIELD_CHARS``).
TEXT_CHARS = 2000


def _enum(cls: type[StrEnum], name: str, length: int = 24) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=length,
        create_constraint=True,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class Source(StrEnum):
    """Where a line comes from: the city's bank statement, or a QRIS acquirer's settlement."""

    BANK = "bank"
    SETTLEMENT = "settlement"


class LineDirection(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


class Rule(StrEnum):
    """Why a line was matched: the engine's rules, in the order they run, then people."""

    CREATED = "created"  # the payment was made from this line ("paid but not credited")
    VA = "va"  # VA credit to VA payment: VA number, amount, business-day window
    REFERENCE = "reference"  # bank or acquirer reference = the payment's external reference
    QRIS_BILL = "qris_bill"  # settlement line to QRIS payment by bill number (tag 62-01)
    BATCH = "batch"  # bank credit to the acquirer's settlement batch, by batch id and net
    DEPOSIT = "deposit"  # bank credit to an officer's cash deposit, by slip reference
    MANUAL = "manual"  # matched by a person, with a reason


AUTO_RULES = frozenset(
    {Rule.CREATED, Rule.VA, Rule.REFERENCE, Rule.QRIS_BILL, Rule.BATCH, Rule.DEPOSIT}
)


class ExceptionType(StrEnum):
    UNKNOWN_CREDIT = "unknown_credit"  # money in, no payment, deposit or batch explains it
    UNKNOWN_DEBIT = "unknown_debit"  # money out (fees, interest tax, transfers): a person says
    AMBIGUOUS = "ambiguous"  # several candidates fit equally: a person chooses
    AMOUNT_MISMATCH = "amount_mismatch"  # the key matches, the amount does not
    DUPLICATE = "duplicate"  # a second line for what another line already explains
    MISSING_BANK_LINE = "missing_bank_line"  # a payment, deposit or batch past its grace period
    SETTLEMENT_RESIDUAL = "settlement_residual"  # a batch not explained to the rupiah


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # a later run found it explained (matched), or a person matched it
    IGNORED = "ignored"  # a person: not a payment matter (with a reason)
    ACCEPTED = "accepted"  # a person: the difference is known and explained (with a reason)


#: Statuses under which an exception still stands (a line in one of them is not "pending").
LIVE_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.IGNORED, ExceptionStatus.ACCEPTED)


class SubjectKind(StrEnum):
    LINE = "line"
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    BATCH = "batch"


class EventAction(StrEnum):
    MATCH = "match"
    UNMATCH = "unmatch"
    IGNORE = "ignore"
    ACCEPT = "accept"
    REOPEN = "reopen"
    ASSIGN = "assign"
    CREATE_PAYMENT = "create_payment"


class ImportedFile(Base):
    """One imported file, once (by SHA-256): how many lines it had and where each one went."""

    __tablename__ = "recon_files"
    __table_args__ = (
        CheckConstraint(
            "lines_read = lines_new + lines_known + lines_rejected", name="every_line_counted"
        ),
        CheckConstraint(
            "lines_new >= 0 AND lines_known >= 0 AND lines_rejected >= 0", name="counts_positive"
        ),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )

    id: Mapped[IdPK]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(20))
    profile_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[Source] = mapped_column(_enum(Source, "recon_source", 12))
    # The bank account number, or the acquirer id for a settlement report.
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    lines_read: Mapped[int] = mapped_column(Integer)
    lines_new: Mapped[int] = mapped_column(Integer)
    lines_known: Mapped[int] = mapped_column(Integer)  # already stored from an earlier file
    lines_rejected: Mapped[int] = mapped_column(Integer)  # quarantined, with a reason
    statements_new: Mapped[int] = mapped_column(Integer, default=0)
    statements_known: Mapped[int] = mapped_column(Integer, default=0)
    batches_new: Mapped[int] = mapped_column(Integer, default=0)
    batches_known: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(120))


class Statement(Base):
    """A statement the bank declared (MT940 ``:20:``…``:62F:``, camt ``Stmt``, a CSV footer)."""

    __tablename__ = "recon_statements"
    __table_args__ = (
        CheckConstraint(
            "opening_balance_idr + credit_total_idr - debit_total_idr = closing_balance_idr",
            name="balances_add_up",
        ),
        CheckConstraint("credit_total_idr >= 0 AND debit_total_idr >= 0", name="totals_positive"),
        # NULL numbers (CSV footers) never collide; numbered statements are stored once.
        UniqueConstraint("account_id", "number", "sequence"),
        Index("ix_recon_statements_account_closing", "account_id", "closing_date"),
    )

    id: Mapped[IdPK]
    file_id: Mapped[int] = mapped_column(BigId, ForeignKey("recon_files.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int | None] = mapped_column(Integer)
    sequence: Mapped[int | None] = mapped_column(Integer)
    statement_ref: Mapped[str | None] = mapped_column(String(64))
    opening_date: Mapped[date | None]
    closing_date: Mapped[date | None]
    opening_balance_idr: Mapped[int] = mapped_column(BigInteger)
    closing_balance_idr: Mapped[int] = mapped_column(BigInteger)
    credit_total_idr: Mapped[int] = mapped_column(BigInteger)
    debit_total_idr: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)
    closing_is_final: Mapped[bool] = mapped_column(Boolean)


class SettlementBatch(Base):
    """One QRIS settlement batch of an acquirer (its ``BATCH`` row), checked to add up."""

    __tablename__ = "recon_batches"
    __table_args__ = (
        UniqueConstraint("acquirer_id", "batch_ref"),
        CheckConstraint("gross_idr - fee_idr = net_idr", name="net_is_gross_less_fee"),
        CheckConstraint("fee_idr >= 0 AND net_idr >= 0", name="amounts_positive"),
        CheckConstraint("transaction_count >= 0", name="count_positive"),
    )

    id: Mapped[IdPK]
    file_id: Mapped[int] = mapped_column(BigId, ForeignKey("recon_files.id"), index=True)
    acquirer_id: Mapped[str] = mapped_column(String(64))
    batch_ref: Mapped[str] = mapped_column(String(64), index=True)
    settlement_date: Mapped[date]
    nmid: Mapped[str] = mapped_column(String(32))
    transaction_count: Mapped[int] = mapped_column(Integer)
    gross_idr: Mapped[int] = mapped_column(BigInteger)
    fee_idr: Mapped[int] = mapped_column(BigInteger)
    net_idr: Mapped[int] = mapped_column(BigInteger)


class Line(Base):
    """An accepted line: a bank-statement entry, or a QRIS settlement transaction.

    ``identity`` is the importer's stable identity (bank reference, else content hash, plus an
    occurrence counter), unique per source and account: an overlapping file adds only its new
    lines. The keys the importer extracted are kept whole in ``keys``; ``va_number``,
    ``bill_number``, ``qris_reference`` and ``nmid`` hold a key only when the line has exactly one
    of that kind (two VA numbers in one text are not a key, they are a question).
    """

    __tablename__ = "recon_lines"
    __table_args__ = (
        UniqueConstraint("source", "account_id", "identity"),
        Index("ix_recon_lines_account_booked", "account_id", "booking_date"),
        CheckConstraint("amount_idr > 0 AND amount_idr <= 1000000000000", name="amount_bounded"),
        CheckConstraint(
            "fee_idr IS NULL OR (fee_idr >= 0 AND fee_idr <= amount_idr)", name="fee_bounded"
        ),
        CheckConstraint(
            "(source = 'settlement') = (batch_id IS NOT NULL)", name="settlement_has_batch"
        ),
    )

    id: Mapped[IdPK]
    # No foreign keys on the three parent ids, and no index on the file: the parents are
    # append-only facts (never deleted, triggers refuse it) written in the same transaction, so a
    # check per line would only repeat what the import just did; ``verify`` checks that every
    # parent exists and counts a file's lines in one grouped scan. A million-line month saves
    # three checks a line (bills and bill lines do the same, bench/bench_billing.py).
    file_id: Mapped[int] = mapped_column(BigId)
    source: Mapped[Source] = mapped_column(_enum(Source, "recon_source", 12))
    account_id: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    line_no: Mapped[int] = mapped_column(Integer)
    booking_date: Mapped[date]
    value_date: Mapped[date]
    direction: Mapped[LineDirection] = mapped_column(_enum(LineDirection, "recon_direction", 8))
    amount_idr: Mapped[int] = mapped_column(BigInteger)  # gross, for a settlement line
    fee_idr: Mapped[int | None] = mapped_column(BigInteger)  # the MDR the acquirer took
    bank_reference: Mapped[str | None] = mapped_column(String(TEXT_CHARS))
    customer_reference: Mapped[str | None] = mapped_column(String(TEXT_CHARS))
    description: Mapped[str] = mapped_column(String(TEXT_CHARS))
    is_reversal: Mapped[bool] = mapped_column(Boolean)
    statement_id: Mapped[int | None] = mapped_column(BigId)
    batch_id: Mapped[int | None] = mapped_column(BigId, index=True)
    transaction_time: Mapped[datetime | None]
    va_number: Mapped[str | None] = mapped_column(String(32))
    bill_number: Mapped[str | None] = mapped_column(String(64))
    qris_reference: Mapped[str | None] = mapped_column(String(64))
    nmid: Mapped[str | None] = mapped_column(String(32))
    keys: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)


class RejectedLine(Base):
    """A quarantined line of an imported file: where it was, which field failed, why."""

    __tablename__ = "recon_rejected_lines"

    id: Mapped[IdPK]
    file_id: Mapped[int] = mapped_column(BigId, ForeignKey("recon_files.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    line_no: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(String(500))


class Run(Base):
    """A committed reconciliation run: its inputs (files, rules), what it did, its result hash.

    Written last in the run's transaction (its id taken first), so the matches the run made can
    name it.
    """

    __tablename__ = "recon_runs"
    __table_args__ = (
        CheckConstraint("matched_count >= 0 AND matched_idr >= 0", name="counts_positive"),
    )

    id: Mapped[IdPK]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    as_of: Mapped[date]
    rules_version: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]]
    # SHA-256 of every imported file the run read, sorted.
    input_files: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    result_hash: Mapped[str] = mapped_column(String(64))
    matched_count: Mapped[int] = mapped_column(Integer)
    matched_idr: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any]]


class Match(Base):
    """A line matched to what explains it: a payment, a cash deposit or a settlement batch.

    The fact of the match, never changed; whether it still stands is ``recon_claims``.
    ``difference_idr`` = line amount − counterpart amount: always 0 for the engine's rules, and
    what a person accepted (with a reason) for a manual match.
    """

    __tablename__ = "recon_matches"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN payment_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN deposit_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_counterpart",
        ),
        CheckConstraint(
            "(rule IN ('manual', 'created') OR run_id IS NOT NULL)"
            " AND (rule <> 'manual' OR run_id IS NULL)"
            " AND (rule = 'manual' OR difference_idr = 0)",
            name="made_by_run_or_person",
        ),
    )

    # No foreign keys (a run writes a million of these): every id comes from rows the run read
    # under the reconciliation lock, and lines, payments, deposits, batches and runs are
    # append-only facts that can never disappear; ``verify`` checks every reference exists.
    id: Mapped[IdPK]
    line_id: Mapped[int] = mapped_column(BigId, index=True)
    payment_id: Mapped[int | None] = mapped_column(BigId)
    deposit_id: Mapped[int | None] = mapped_column(BigId)
    batch_id: Mapped[int | None] = mapped_column(BigId)
    rule: Mapped[Rule] = mapped_column(_enum(Rule, "recon_rule", 12))
    difference_idr: Mapped[int] = mapped_column(BigInteger, default=0)
    # The run that made it (its row is written last, in the same transaction); NULL when a
    # person made it, and then a ``recon_events`` row (match or create_payment) names it.
    run_id: Mapped[int | None] = mapped_column(BigId, index=True)
    created_at: Mapped[datetime]


class Claim(Base):
    """Projection: the matches that stand. At most one per line, payment, deposit and batch."""

    __tablename__ = "recon_claims"
    __table_args__ = (
        Index(
            "uq_recon_claims_payment",
            "payment_id",
            unique=True,
            postgresql_where=text("payment_id IS NOT NULL"),
            sqlite_where=text("payment_id IS NOT NULL"),
        ),
        Index(
            "uq_recon_claims_deposit",
            "deposit_id",
            unique=True,
            postgresql_where=text("deposit_id IS NOT NULL"),
            sqlite_where=text("deposit_id IS NOT NULL"),
        ),
        Index(
            "uq_recon_claims_batch",
            "batch_id",
            unique=True,
            postgresql_where=text("batch_id IS NOT NULL"),
            sqlite_where=text("batch_id IS NOT NULL"),
        ),
    )

    match_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    # Copies of the match's columns, without foreign keys (as the match): ``verify`` checks that
    # every claim is its match.
    line_id: Mapped[int] = mapped_column(BigId, unique=True)
    payment_id: Mapped[int | None] = mapped_column(BigId)
    deposit_id: Mapped[int | None] = mapped_column(BigId)
    batch_id: Mapped[int | None] = mapped_column(BigId)


class ReconException(Base):
    """Projection: what a run could not explain, one row per subject, under a stable id.

    The id is derived from the subject's natural key (a line's account and identity, a payment's
    channel, sender and reference, …), so it survives runs, re-imports and rebuilt databases; an
    assignee, a decision and the age stay with it. A decision (ignored, accepted) lapses, and the
    exception reopens, when a later run finds a different type or amount.
    """

    __tablename__ = "recon_exceptions"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN line_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN payment_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN deposit_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN batch_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_subject",
        ),
        CheckConstraint(
            "(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_has_time"
        ),
        Index("ix_recon_exceptions_status_type", "status", "type"),
        Index(
            "uq_recon_exceptions_line",
            "line_id",
            unique=True,
            postgresql_where=text("line_id IS NOT NULL"),
            sqlite_where=text("line_id IS NOT NULL"),
        ),
        Index(
            "uq_recon_exceptions_payment",
            "payment_id",
            unique=True,
            postgresql_where=text("payment_id IS NOT NULL"),
            sqlite_where=text("payment_id IS NOT NULL"),
        ),
        Index(
            "uq_recon_exceptions_deposit",
            "deposit_id",
            unique=True,
            postgresql_where=text("deposit_id IS NOT NULL"),
            sqlite_where=text("deposit_id IS NOT NULL"),
        ),
        Index(
            "uq_recon_exceptions_batch",
            "batch_id",
            unique=True,
            postgresql_where=text("batch_id IS NOT NULL"),
            sqlite_where=text("batch_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    type: Mapped[ExceptionType] = mapped_column(_enum(ExceptionType, "recon_exception_type"))
    status: Mapped[ExceptionStatus] = mapped_column(
        _enum(ExceptionStatus, "recon_exception_status", 12)
    )
    subject: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, "recon_subject", 12))
    line_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("recon_lines.id"))
    payment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payments.id"))
    deposit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("deposits.id"))
    batch_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("recon_batches.id"))
    amount_idr: Mapped[int] = mapped_column(BigInteger)  # the subject's amount
    difference_idr: Mapped[int] = mapped_column(BigInteger, default=0)  # what is unexplained
    # The business day the subject belongs to (booking, payment, deposit or settlement date).
    subject_date: Mapped[date]
    market_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("markets.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime]
    first_run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("recon_runs.id", deferrable=True, initially="DEFERRED")
    )
    last_run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("recon_runs.id", deferrable=True, initially="DEFERRED")
    )
    resolved_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    updated_at: Mapped[datetime]


class Event(Base):
    """A person's action on the reconciliation, with actor and reason. Never changed: an action is
    undone by a new event (``undoes_id``): reopen undoes ignore or accept, unmatch undoes a
    match. A match is unmatched at most once (unique index)."""

    __tablename__ = "recon_events"
    __table_args__ = (
        Index(
            "uq_recon_events_unmatch",
            "match_id",
            unique=True,
            postgresql_where=text("action = 'unmatch'"),
            sqlite_where=text("action = 'unmatch'"),
        ),
    )

    id: Mapped[IdPK]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[EventAction] = mapped_column(_enum(EventAction, "recon_action", 16))
    exception_id: Mapped[str | None] = mapped_column(String(24), index=True)
    line_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("recon_lines.id"))
    match_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("recon_matches.id"))
    payment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payments.id"))
    reason: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    undoes_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("recon_events.id"))


#: Tables of facts: the database refuses UPDATE and DELETE on them.
FACT_TABLES = (
    "recon_files",
    "recon_statements",
    "recon_batches",
    "recon_lines",
    "recon_rejected_lines",
    "recon_runs",
    "recon_matches",
    "recon_events",
)
