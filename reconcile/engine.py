"""The matching engine's decisions, as pure functions over candidate edges (no database).

A *rule* proposes candidate edges between lines and targets (payments, deposits, batches): the
database finds them with one set-based join per rule (:mod:`reconcile.runs`). An edge is
*eligible* when the amounts are equal, the dates fall in the rule's window, the target is not
claimed, neither side was taken by an earlier rule of this run, and no person unmatched this very
pair before. The engine then decides, per connected group of eligible edges:

* a group where every line is a candidate of every target (complete bipartite, which includes
  the ordinary one line / one payment case) cannot be told apart by the rule: lines in
  (booking date, identity) order are paired with targets in their natural order, one to one.
  Extra lines are duplicates of the lines paired; extra targets stay for later rules or become
  exceptions after their grace period;
* any other group is ambiguous: nothing in it is matched automatically, and every line and
  target in it is handed to a person with its candidates.

Everything is ordered by natural keys (identities, references), never by database ids or by
the order rows arrive in, so the same inputs give the same pairs on any database.

A line left unmatched is then classified from the evidence its edges left (in this order):
duplicate (what it would pay is claimed by another line), ambiguous, amount mismatch (the key
matches, the amount does not), else unknown credit; a debit is an unknown debit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconcile.config import MAX_COMPONENT
from reconcile.models import ExceptionType, Rule


class Target(StrEnum):
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One edge a rule's query found for an unmatched line."""

    line: int
    target: int
    same_amount: bool
    in_window: bool
    # The line that holds the target's claim (before this run), None when the target is free.
    claimed_by: int | None
    target_amount_idr: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a rule found for a line it did not match (kept for the line's exception)."""

    rule: Rule
    target_kind: Target
    target: int
    same_amount: bool
    claimed_by: int | None
    target_amount_idr: int


@dataclass
class Pairing:
    pairs: list[tuple[int, int]] = field(default_factory=list)
    # Extra line -> the lines of its group that were paired (it duplicates them).
    extras: dict[int, tuple[int, ...]] = field(default_factory=dict)
    ambiguous_lines: dict[int, tuple[int, ...]] = field(default_factory=dict)
    ambiguous_targets: dict[int, tuple[int, ...]] = field(default_factory=dict)


def pair_edges(
    edges: Iterable[tuple[int, int]],
    line_order: Mapping[int, Any],
    target_order: Mapping[int, Any],
    *,
    max_component: int = MAX_COMPONENT,
) -> Pairing:
    """Decide eligible edges (see the module docstring). ``*_order`` give natural sort keys."""
    listed = edges if isinstance(edges, list) else list(edges)
    # Degrees first (plain counts): most edges are one line to one target and need no sets.
    line_degree: dict[int, int] = {}
    target_degree: dict[int, int] = {}
    for line, target in listed:
        line_degree[line] = line_degree.get(line, 0) + 1
        target_degree[target] = target_degree.get(target, 0) + 1
    result = Pairing()
    by_line: dict[int, set[int]] = defaultdict(set)
    by_target: dict[int, set[int]] = defaultdict(set)
    for line, target in listed:
        if line_degree[line] == 1 and target_degree[target] == 1:
            result.pairs.append((line, target))
        else:
            by_line[line].add(target)
            by_target[target].add(line)
    seen: set[int] = set()
    for line, targets in by_line.items():
        if line in seen:
            continue
        if len(targets) == 1:
            (target,) = targets
            if len(by_target[target]) == 1:  # a duplicated edge between one line and one target
                seen.add(line)
                result.pairs.append((line, target))
                continue
        lines, group_targets = _component(line, by_line, by_target, max_component)
        seen |= lines
        _decide(lines, group_targets, by_line, line_order, target_order, result, max_component)
    return result


def _component(
    start: int,
    by_line: Mapping[int, set[int]],
    by_target: Mapping[int, set[int]],
    limit: int,
) -> tuple[set[int], set[int]]:
    """The connected group of ``start`` (a little beyond ``limit`` at most: bounded work)."""
    lines = {start}
    targets: set[int] = set()
    frontier = [start]
    while frontier:
        line = frontier.pop()
        for target in by_line[line]:
            if target in targets:
                continue
            targets.add(target)
            for other in by_target[target]:
                if other not in lines:
                    lines.add(other)
                    frontier.append(other)
        if len(lines) + len(targets) > 2 * limit:
            break
    return lines, targets


def _decide(
    lines: set[int],
    targets: set[int],
    by_line: Mapping[int, set[int]],
    line_order: Mapping[int, Any],
    target_order: Mapping[int, Any],
    result: Pairing,
    limit: int,
) -> None:
    complete = (
        len(lines) <= limit
        and len(targets) <= limit
        and all(by_line[line] == targets for line in lines)
    )
    if not complete:
        ordered_targets = tuple(sorted(targets, key=target_order.__getitem__))
        for line in lines:
            result.ambiguous_lines[line] = tuple(
                sorted(by_line[line], key=target_order.__getitem__)
            )
        for target in ordered_targets:
            result.ambiguous_targets[target] = tuple(
                sorted((ln for ln in lines if target in by_line[ln]), key=line_order.__getitem__)
            )
        return
    ordered_lines = sorted(lines, key=line_order.__getitem__)
    ordered_targets_list = sorted(targets, key=target_order.__getitem__)
    count = min(len(ordered_lines), len(ordered_targets_list))
    paired = tuple(ordered_lines[:count])
    result.pairs.extend(zip(ordered_lines[:count], ordered_targets_list[:count], strict=True))
    for extra in ordered_lines[count:]:
        result.extras[extra] = paired


@dataclass
class Matcher:
    """Runs the rules one after another; each line and target is taken at most once."""

    released: frozenset[tuple[int, Target, int]] = frozenset()
    taken_lines: set[int] = field(default_factory=set)
    taken: dict[Target, set[int]] = field(default_factory=lambda: defaultdict(set))
    matches: list[tuple[int, Target, int, Rule]] = field(default_factory=list)
    evidence: dict[int, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    duplicates: dict[int, tuple[int, ...]] = field(default_factory=dict)
    ambiguous_targets: dict[tuple[Target, int], tuple[int, ...]] = field(default_factory=dict)
    # Lines a run made claims for (line -> target), for the duplicate check of later lines.
    claimed_now: dict[tuple[Target, int], int] = field(default_factory=dict)

    def apply(
        self,
        rule: Rule,
        kind: Target,
        candidates: Iterable[Candidate],
        line_order: Mapping[int, Any],
        target_order: Mapping[int, Any],
    ) -> list[tuple[int, int]]:
        """Match what ``rule`` can; remember the evidence of what it cannot."""
        taken = self.taken[kind]
        eligible: list[tuple[int, int]] = []
        for c in candidates:
            if c.line in self.taken_lines:
                continue
            holder = c.claimed_by
            if holder is None and c.target in taken:
                holder = self.claimed_now.get((kind, c.target))
            ok = (
                c.same_amount
                and c.in_window
                and holder is None
                and (c.line, kind, c.target) not in self.released
            )
            if ok:
                eligible.append((c.line, c.target))
            elif c.in_window:
                self.evidence[c.line].append(
                    Evidence(rule, kind, c.target, c.same_amount, holder, c.target_amount_idr)
                )
        decided = pair_edges(eligible, line_order, target_order)
        for line, target in decided.pairs:
            self.taken_lines.add(line)
            taken.add(target)
            self.claimed_now[(kind, target)] = line
            self.matches.append((line, kind, target, rule))
        for line, siblings in decided.extras.items():
            self.duplicates.setdefault(line, siblings)
        for line, targets in decided.ambiguous_lines.items():
            for target in targets:
                self.evidence[line].append(Evidence(rule, kind, target, True, None, 0))
        for target, lines in decided.ambiguous_targets.items():
            self.ambiguous_targets.setdefault((kind, target), lines)
        # Evidence of lines taken by this rule is no longer needed.
        for line, _target in decided.pairs:
            self.evidence.pop(line, None)
        return decided.pairs


@dataclass(frozen=True)
class Verdict:
    type: ExceptionType
    detail: dict[str, Any]
    difference_idr: int


def classify_line(
    *,
    is_credit: bool,
    amount_idr: int,
    evidence: Iterable[Evidence],
    duplicate_of: tuple[int, ...] | None,
    target_ref: Mapping[tuple[Target, int], str],
    line_ref: Mapping[int, str],
) -> Verdict:
    """The exception of a line no rule matched. ``*_ref`` name targets and lines for people."""
    if not is_credit:
        return Verdict(ExceptionType.UNKNOWN_DEBIT, {}, -amount_idr)
    items = sorted(
        set(evidence),
        key=lambda e: (
            e.rule.value,
            e.target_kind.value,
            target_ref.get((e.target_kind, e.target), ""),
        ),
    )

    def describe(e: Evidence) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "rule": e.rule.value,
            "kind": e.target_kind.value,
            "id": e.target,
            "ref": target_ref.get((e.target_kind, e.target), ""),
        }
        if not e.same_amount:
            entry["amount_idr"] = e.target_amount_idr
        if e.claimed_by is not None:
            entry["claimed_by"] = line_ref.get(e.claimed_by, str(e.claimed_by))
        return entry

    if duplicate_of:
        return Verdict(
            ExceptionType.DUPLICATE,
            {"of_lines": sorted(line_ref.get(line, str(line)) for line in duplicate_of)},
            amount_idr,
        )
    claimed = [e for e in items if e.same_amount and e.claimed_by is not None]
    if claimed:
        # The same detail as a duplicate found within one run: the lines it duplicates.
        holders = {e.claimed_by for e in claimed if e.claimed_by is not None}
        return Verdict(
            ExceptionType.DUPLICATE,
            {"of_lines": sorted(line_ref.get(line, str(line)) for line in holders)},
            amount_idr,
        )
    ambiguous = [e for e in items if e.same_amount and e.claimed_by is None]
    if ambiguous:
        return Verdict(
            ExceptionType.AMBIGUOUS, {"candidates": [describe(e) for e in ambiguous]}, amount_idr
        )
    other = [e for e in items if not e.same_amount]
    if other:
        closest = min(other, key=lambda e: (abs(amount_idr - e.target_amount_idr), e.target))
        return Verdict(
            ExceptionType.AMOUNT_MISMATCH,
            {"candidates": [describe(e) for e in other]},
            amount_idr - closest.target_amount_idr,
        )
    return Verdict(ExceptionType.UNKNOWN_CREDIT, {}, amount_idr)
