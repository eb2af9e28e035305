"""STRD and the Surat Teguran ladder, outages and reliefs that pause them, and the letters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.audit import AuditEvent
from retribusi.errors import Conflict, ValidationFailed
from retribusi.extensions import db
from retribusi.levy import config as levy_config
from retribusi.levy.arrears import overdue_bills
from retribusi.levy.balances import figures_for
from retribusi.levy.billing import issue_bills
from retribusi.levy.errors import reason_of
from retribusi.levy.letters import bill_pdf, notice_pdf, tanggal
from retribusi.levy.models import Bill, Notice, NoticeKind, Outage, Relief
from retribusi.levy.notices import _held, due_notices, issue_notices, may_be_due
from retribusi.levy.reliefs import (
    ReliefInput,
    add_outage,
    add_relief,
    end_outage,
    revoke_relief,
)
from tests.levy import factories as f

TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        f.illustrative_tariffs()
        yield


def _bill_for(month: str, holding: f.Holding) -> Bill:
    first = date(int(month[:4]), int(month[5:]), 1)
    issue_bills(month, actor="test", issued_on=first, market_code=holding.market.code)
    return db.session.scalars(
        sa.select(Bill).where(Bill.placement_id == holding.placement.id, Bill.period == month)
    ).one()


def kinds(bill: Bill) -> list[str]:
    return sorted(db.session.scalars(sa.select(Notice.kind).where(Notice.bill_id == bill.id)).all())


def test_the_ladder_goes_one_step_at_a_time(frozen_clock: Any) -> None:
    holding = f.holding("KLEWER")
    august = _bill_for("2026-08", holding)  # due 10 August, 105 days late on 23 November
    november = _bill_for("2026-11", holding)  # due 10 November, 13 days late
    summary = issue_notices(actor="test")
    assert summary.counts == {"strd": 1, "sp1": 2, "sp2": 0, "sp3": 0}
    assert kinds(august) == ["sp1", "strd"] and kinds(november) == ["sp1"]
    assert issue_notices(actor="test").to_dict()["total"] == 0  # idempotent
    # SP2 waits 7 days after SP1 even though the bill is long overdue.
    frozen_clock.advance(timedelta(days=6))
    assert issue_notices(actor="test").counts["sp2"] == 0
    frozen_clock.advance(timedelta(days=1))
    assert issue_notices(actor="test").counts == {"strd": 0, "sp1": 0, "sp2": 2, "sp3": 0}
    frozen_clock.advance(timedelta(days=7))
    assert issue_notices(actor="test").counts["sp3"] == 2
    assert kinds(august) == ["sp1", "sp2", "sp3", "strd"]


def test_a_notice_keeps_the_figures_it_demanded(frozen_clock: Any) -> None:
    holding = f.holding("KLEWER")
    august = _bill_for("2026-08", holding)
    issue_notices(actor="test")
    strd = db.session.scalars(
        sa.select(Notice).where(Notice.bill_id == august.id, Notice.kind == NoticeKind.STRD)
    ).one()
    assert strd.number == "STRD/2026/11/KLEWER/000001"
    assert (strd.principal_outstanding_idr, strd.sanction_idr, strd.total_idr) == (
        157_500,
        4_725,
        162_225,
    )
    assert (strd.days_late, strd.months_late) == (105, 3)
    pdf = notice_pdf(strd)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_an_outage_pauses_sanctions_and_letters(frozen_clock: Any) -> None:
    holding = f.holding("KLEWER")
    november = _bill_for("2026-11", holding)
    add_outage(
        market_code="KLEWER",
        channel="va",
        started_on=date(2026, 11, 5),
        ended_on=None,
        reference="BA gangguan VA 5/11",
        actor="test",
    )
    summary = issue_notices(actor="test")
    assert (summary.counts["sp1"], summary.suspended) == (0, 1)
    account = figures_for(db.session, [november], TODAY)[november.id]
    assert (account.suspended_days, account.sanction_idr) == (13, 0)
    outage = db.session.scalars(sa.select(Outage)).one()
    end_outage(outage.id, ended_on=date(2026, 11, 15), actor="test")
    # Down 11-15 November: 13 days overdue, 5 of them paused, 8 count: SP1 (at 7) goes out.
    assert issue_notices(actor="test").counts["sp1"] == 1
    assert kinds(november) == ["sp1"]
    assert figures_for(db.session, [november], TODAY)[november.id].suspended_days == 5


def test_an_outage_elsewhere_changes_nothing() -> None:
    holding = f.holding("KLEWER")
    f.market("LEGI")
    _bill_for("2026-11", holding)
    add_outage(
        market_code="LEGI",
        channel="all",
        started_on=date(2026, 11, 1),
        ended_on=date(2026, 11, 30),
        reference="Legi fire",
        actor="test",
    )
    assert issue_notices(actor="test").counts["sp1"] == 1


def test_a_deferral_for_one_vendor_stops_their_sanction() -> None:
    holding = f.holding("KLEWER")
    august = _bill_for("2026-08", holding)
    add_relief(
        ReliefInput(
            "deferral",
            "SK 7/2026",
            date(2026, 8, 1),
            date(2026, 8, 1),
            date(2026, 10, 31),
            vendor_id=holding.vendor.id,
        ),
        actor="test",
    )
    account = figures_for(db.session, [august], TODAY)[august.id]
    assert (account.months_late, account.sanction_idr) == (0, 0)  # 105 - 82 suspended = 23 days
    relief = db.session.scalars(sa.select(Relief)).one()
    revoke_relief(relief.id, reason="entered for the wrong vendor", actor="test")
    assert figures_for(db.session, [august], TODAY)[august.id].sanction_idr == 4_725


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (
            ReliefInput("waiver", "SK 1", "2026-01-01", "2026-01-01", "2026-01-31"),
            "kind",
            "unknown",
        ),
        (
            ReliefInput("exemption", "", "2026-01-01", "2026-01-01", "2026-01-31"),
            "decision_number",
            "required",
        ),
        (
            ReliefInput("exemption", "SK 1", "2026-01-01", "2026-02-01", "2026-01-31"),
            "valid_to",
            "before_start",
        ),
        (
            ReliefInput(
                "reduction", "SK 1", "2026-01-01", "2026-01-01", "2026-01-31", reduction_pct="100"
            ),
            "reduction_pct",
            "out_of_range",
        ),
        (
            ReliefInput(
                "exemption", "SK 1", "2026-01-01", "2026-01-01", "2026-01-31", reduction_pct="10"
            ),
            "reduction_pct",
            "not_reduction",
        ),
        (
            ReliefInput(
                "exemption", "SK 1", "2026-01-01", "2026-01-01", "2026-01-31", block_code="A"
            ),
            "block",
            "needs_market",
        ),
        (
            ReliefInput("exemption", "SK 1", "2026-01-01", "2026-01-01", "2030-01-31"),
            "valid_to",
            "too_long",
        ),
        (
            ReliefInput("exemption", "SK 1", "1 Jan", "2026-01-01", "2026-01-31"),
            "decided_on",
            "malformed",
        ),
    ],
)
def test_bad_relief_input_is_refused(data: ReliefInput, field: str, reason: str) -> None:
    before = (f.count(Relief), f.count(AuditEvent))
    with pytest.raises(ValidationFailed) as caught:
        add_relief(data, actor="test")
    assert (caught.value.details["errors"][0]["field"], reason_of(caught.value)) == (field, reason)
    assert (f.count(Relief), f.count(AuditEvent)) == before


def test_bad_outage_input_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        add_outage(
            market_code=None, channel="pigeon", started_on=TODAY, reference="x" * 5, actor="t"
        )
    assert reason_of(caught.value) == "unknown"
    with pytest.raises(ValidationFailed) as caught:
        add_outage(
            market_code=None,
            channel="va",
            started_on=TODAY + timedelta(days=1),
            reference="tomorrow",
            actor="t",
        )
    assert reason_of(caught.value) == "future"
    outage = add_outage(
        market_code=None,
        channel="va",
        started_on=TODAY,
        ended_on=TODAY,
        reference="one day",
        actor="t",
    )
    with pytest.raises(Conflict):
        end_outage(outage.id, ended_on=TODAY, actor="t")
    assert f.count(Outage) == 1


def test_relief_and_outage_are_audited() -> None:
    f.market("KLEWER")
    add_relief(
        ReliefInput(
            "exemption", "SK 9/2026", "2026-11-01", "2026-11-01", "2026-11-30", market_code="KLEWER"
        ),
        actor="user:3",
    )
    add_outage(
        market_code="KLEWER",
        channel="card",
        started_on=TODAY,
        reference="mesin rusak",
        actor="user:3",
    )
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.actor == "user:3").order_by(AuditEvent.seq)
    ).all()
    assert actions == ["relief.added", "outage.recorded"]


def test_the_run_reads_only_bills_a_letter_could_be_due_for(frozen_clock: Any) -> None:
    """The SQL prefilter (calendar days and letters held) passes every bill the rules give a
    letter, day after day through the whole ladder, an outage included; and leaves out the bills
    that have every letter they can have so far."""
    holding = f.holding("KLEWER")
    bills = [_bill_for(f"2026-{m:02d}", holding) for m in range(6, 12)]
    add_outage(
        market_code="KLEWER",
        channel="va",
        started_on=date(2026, 11, 12),
        ended_on=date(2026, 11, 20),
        reference="BA gangguan VA 12/11",
        actor="test",
    )
    settings = levy_config.current()
    passed_over = 0
    for _day in range(45):
        today = frozen_clock.now().date()
        everything = overdue_bills(db.session, today)
        accounts = figures_for(db.session, everything, today)
        held = _held(db.session, [b.id for b in everything])
        due = {
            b.id
            for b in everything
            if accounts[b.id].outstanding_idr > 0
            and due_notices(b, accounts[b.id], held.get(b.id, {}), settings, today)
        }
        read = {b.id for b in overdue_bills(db.session, today, where=[may_be_due(today, settings)])}
        assert due <= read, today
        passed_over += len(everything) - len(read)
        issue_notices(actor="test")
        frozen_clock.advance(timedelta(days=1))
    assert all(kinds(b) == ["sp1", "sp2", "sp3", "strd"] for b in bills)
    assert passed_over > 100  # most days, most bills hold every letter due so far


def test_notices_dry_run_writes_nothing_and_matches() -> None:
    holding = f.holding("KLEWER")
    _bill_for("2026-09", holding)
    dry = issue_notices(actor="test", dry_run=True)
    assert f.count(Notice) == 0
    real = issue_notices(actor="test")
    assert (dry.counts, dry.digest) == (real.counts, real.digest)


def test_daily_tickets_get_no_letters() -> None:
    from vendors.models import StallType

    f.holding("LEGI", stall_type=StallType.PELATARAN, area_m2="2", start_on=date(2026, 9, 1))
    issue_bills("2026-09", actor="test")
    assert issue_notices(actor="test").to_dict()["total"] == 0


def test_bill_pdf_shows_the_lines() -> None:
    holding = f.holding("KLEWER")
    bill = _bill_for("2026-11", holding)
    account = figures_for(db.session, [bill], TODAY)[bill.id]
    pdf = bill_pdf(bill, account, TODAY)
    assert pdf.startswith(b"%PDF")
    assert tanggal(date(2026, 1, 10)) == "10 Januari 2026"


def test_notices_refuse_a_future_date_and_unknown_market() -> None:
    with pytest.raises(ValidationFailed):
        issue_notices(actor="t", as_of=TODAY + timedelta(days=1))
    with pytest.raises(ValidationFailed):
        issue_notices(actor="t", market_code="NOPE")
