"""``retribusi reconcile verify``: the "nothing lost" invariants, checked against the stored rows.

Each check is one set-based query and names what it found:

* ``file_counts``: for every imported file, lines read = new + known + rejected, and the rows
  stored against it are exactly its new lines and its quarantined lines;
* ``claim_without_match`` / ``claim_differs``: every claim is a match, with the same line and
  counterpart; ``claim_released``: no claim stands for a match that was unmatched;
  ``match_lost``: every match that was not unmatched still stands;
* ``claimed_twice``: no line, payment, deposit or batch is claimed twice (the unique indexes
  make this impossible; the check says so if they were ever dropped);
* ``line_*`` / ``match_*``: every file, statement, batch, line, payment, deposit and run a line
  or a match names exists (these high-volume facts carry no foreign keys);
* ``auto_amount``: a match the engine made pairs equal amounts;
* ``line_two_states`` / ``line_unaccounted``: every line is in exactly one state (matched, or
  one standing exception); a line the last run saw is never left without one;
* ``payment_two_states``: a matched payment has no standing exception;
* ``settlement_unexplained``: for every settlement batch a bank credit claims, Σ explained =
  Σ credited, or a standing settlement-residual exception says by how much it is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from payments.models import Deposit, Payment
from payments.verify import Violation
from reconcile.config import current_rules
from reconcile.models import (
    AUTO_RULES,
    LIVE_STATUSES,
    Claim,
    Event,
    EventAction,
    ExceptionType,
    ImportedFile,
    Line,
    Match,
    ReconException,
    RejectedLine,
    Run,
    SettlementBatch,
    Statement,
)
from reconcile.runs import bridges
from retribusi.db import AnySession

#: Violations reported per check (the count is always complete).
SHOWN = 50


@dataclass(frozen=True)
class Report:
    files: int
    lines: int
    claims: int
    exceptions: int
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "lines": self.lines,
            "claims": self.claims,
            "exceptions": self.exceptions,
            "violations": [v.to_dict() for v in self.violations],
        }


def _count(session: AnySession, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _file_counts(session: AnySession) -> list[Violation]:
    lines = select(Line.file_id, func.count().label("n")).group_by(Line.file_id).subquery()
    rejected = (
        select(RejectedLine.file_id, func.count().label("n"))
        .group_by(RejectedLine.file_id)
        .subquery()
    )
    stored = func.coalesce(lines.c.n, 0)
    quarantined = func.coalesce(rejected.c.n, 0)
    rows = session.execute(
        select(
            ImportedFile.id,
            ImportedFile.sha256,
            ImportedFile.lines_read,
            ImportedFile.lines_new,
            ImportedFile.lines_known,
            ImportedFile.lines_rejected,
            stored,
            quarantined,
        )
        .outerjoin(lines, lines.c.file_id == ImportedFile.id)
        .outerjoin(rejected, rejected.c.file_id == ImportedFile.id)
        .where(
            or_(
                ImportedFile.lines_read
                != ImportedFile.lines_new + ImportedFile.lines_known + ImportedFile.lines_rejected,
                stored != ImportedFile.lines_new,
                quarantined != ImportedFile.lines_rejected,
            )
        )
        .order_by(ImportedFile.id)
    )
    return [
        Violation(
            "file_counts",
            f"file:{sha[:16]}",
            f"read {read} = new {new} + known {known} + rejected {rej}; stored {got_lines}"
            f" lines and {got_rejected} quarantined",
        )
        for _id, sha, read, new, known, rej, got_lines, got_rejected in rows
    ]


def _claims(session: AnySession) -> list[Violation]:
    found: list[Violation] = []
    unmatched = select(Event.match_id).where(Event.action == EventAction.UNMATCH)
    rows = session.execute(
        select(Claim.match_id, Match.id, Claim.line_id, Match.line_id)
        .outerjoin(Match, Match.id == Claim.match_id)
        .where(
            or_(
                Match.id.is_(None),
                Claim.line_id != Match.line_id,
                func.coalesce(Claim.payment_id, 0) != func.coalesce(Match.payment_id, 0),
                func.coalesce(Claim.deposit_id, 0) != func.coalesce(Match.deposit_id, 0),
                func.coalesce(Claim.batch_id, 0) != func.coalesce(Match.batch_id, 0),
            )
        )
    )
    for claim_id, match_id, _claim_line, _match_line in rows:
        check = "claim_without_match" if match_id is None else "claim_differs"
        found.append(Violation(check, f"match:{claim_id}", "the claim is not its match"))
    for (match_id,) in session.execute(select(Claim.match_id).where(Claim.match_id.in_(unmatched))):
        found.append(Violation("claim_released", f"match:{match_id}", "unmatched yet claimed"))
    for (match_id,) in session.execute(
        select(Match.id)
        .outerjoin(Claim, Claim.match_id == Match.id)
        .where(Claim.match_id.is_(None), Match.id.not_in(unmatched))
    ):
        found.append(Violation("match_lost", f"match:{match_id}", "neither standing nor unmatched"))
    for column in (Claim.line_id, Claim.payment_id, Claim.deposit_id, Claim.batch_id):
        for value, count in session.execute(
            select(column, func.count())
            .where(column.is_not(None))
            .group_by(column)
            .having(func.count() > 1)
        ):
            found.append(
                Violation("claimed_twice", f"{column.key}:{value}", f"claimed {count} times")
            )
    return found


def _references(session: AnySession) -> list[Violation]:
    """Every id a line or a match holds names a row that exists (they carry no foreign keys:
    their parents are append-only and written in the same transaction; this says so)."""
    found: list[Violation] = []
    checks: list[tuple[str, Any, Any, Any]] = [
        ("line_file", Line, Line.file_id, ImportedFile),
        ("line_statement", Line, Line.statement_id, Statement),
        ("line_batch", Line, Line.batch_id, SettlementBatch),
        ("match_line", Match, Match.line_id, Line),
        ("match_payment", Match, Match.payment_id, Payment),
        ("match_deposit", Match, Match.deposit_id, Deposit),
        ("match_batch", Match, Match.batch_id, SettlementBatch),
        ("match_run", Match, Match.run_id, Run),
    ]
    for check, child, column, parent in checks:
        target = aliased(parent)
        for child_id, value in session.execute(
            select(child.id, column)
            .outerjoin(target, target.id == column)
            .where(column.is_not(None), target.id.is_(None))
            .limit(SHOWN)
        ):
            found.append(
                Violation(check, f"{child.__tablename__}:{child_id}", f"names {value}, not found")
            )
    return found


def _auto_amounts(session: AnySession) -> list[Violation]:
    counterpart = case(
        (Match.payment_id.is_not(None), Payment.amount_idr),
        (Match.deposit_id.is_not(None), Deposit.amount_idr),
        else_=SettlementBatch.net_idr,
    )
    rows = session.execute(
        select(Match.id, Line.amount_idr, counterpart)
        .join(Claim, Claim.match_id == Match.id)
        .join(Line, Line.id == Match.line_id)
        .outerjoin(Payment, Payment.id == Match.payment_id)
        .outerjoin(Deposit, Deposit.id == Match.deposit_id)
        .outerjoin(SettlementBatch, SettlementBatch.id == Match.batch_id)
        .where(Match.rule.in_(sorted(AUTO_RULES)), Line.amount_idr != counterpart)
    )
    return [
        Violation("auto_amount", f"match:{mid}", f"line {a} paired with {b} by a rule")
        for mid, a, b in rows
    ]


def _states(session: AnySession) -> list[Violation]:
    found: list[Violation] = []
    live = ReconException.status.in_(LIVE_STATUSES)
    for (line_id,) in session.execute(
        select(Claim.line_id)
        .join(ReconException, ReconException.line_id == Claim.line_id)
        .where(live)
    ):
        found.append(
            Violation("line_two_states", f"line:{line_id}", "matched and an exception at once")
        )
    for (payment_id,) in session.execute(
        select(Claim.payment_id)
        .join(ReconException, ReconException.payment_id == Claim.payment_id)
        .where(live)
    ):
        found.append(
            Violation("payment_two_states", f"payment:{payment_id}", "matched and an exception")
        )
    latest = session.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()
    if latest is not None:
        seen_up_to = int(latest.summary.get("max_file_id") or 0)
        standing = aliased(ReconException)
        for line_id, identity in session.execute(
            select(Line.id, Line.identity)
            .outerjoin(Claim, Claim.line_id == Line.id)
            .outerjoin(
                standing, and_(standing.line_id == Line.id, standing.status.in_(LIVE_STATUSES))
            )
            .where(Claim.match_id.is_(None), standing.id.is_(None), Line.file_id <= seen_up_to)
            .limit(SHOWN)
        ):
            found.append(
                Violation(
                    "line_unaccounted",
                    f"line:{line_id}",
                    f"{identity}: seen by run {latest.id} but neither matched nor an exception",
                )
            )
    return found


def _settlements(session: AnySession) -> list[Violation]:
    rules = current_rules()
    residuals: dict[int, int] = {}
    for batch_id, difference in session.execute(
        select(ReconException.batch_id, ReconException.difference_idr).where(
            ReconException.type == ExceptionType.SETTLEMENT_RESIDUAL,
            ReconException.status.in_(LIVE_STATUSES),
        )
    ):
        if batch_id is not None:
            residuals[batch_id] = difference
    found = []
    for bridge in bridges(session, rules):
        if bridge.explained and bridge.residual_idr == 0:
            continue
        if residuals.get(bridge.batch_id) == bridge.residual_idr and not bridge.explained:
            continue
        found.append(
            Violation(
                "settlement_unexplained",
                bridge.name,
                f"credited {bridge.credited_idr}, explained {bridge.explained_idr}, residual"
                f" {bridge.residual_idr} with no standing settlement-residual exception for it",
            )
        )
    return found


def verify_reconciliation(session: AnySession) -> Report:
    """Every check above; a report naming each violation (empty: all invariants hold)."""
    violations = [
        *_file_counts(session),
        *_claims(session),
        *_references(session),
        *_auto_amounts(session),
        *_states(session),
        *_settlements(session),
    ]
    return Report(
        files=_count(session, ImportedFile),
        lines=_count(session, Line),
        claims=_count(session, Claim),
        exceptions=int(
            session.scalar(select(func.count()).where(ReconException.status.in_(LIVE_STATUSES)))
            or 0
        ),
        violations=tuple(violations),
    )
