"""The billing run, tickets, void and reissue, status and what a vendor owes, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError

from payments.ledger import reverse_payment
from payments.models import Allocation, Component
from retribusi import clock
from retribusi.audit import AuditEvent
from retribusi.db import transaction
from retribusi.errors import Conflict, DomainError, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import (
    close_period,
    issue_bills,
    open_bills_for_vendor,
    record_ticket,
    sync_bill_status,
    void_bill,
)
from retribusi.levy.bulk import RowWriter
from retribusi.levy.errors import reason_of
from retribusi.levy.models import Bill, BillingRun, BillKind, BillLine, BillStatus
from retribusi.levy.reliefs import ReliefInput, add_relief
from retribusi.levy.tariffs import TariffInput, add_tariff_version
from tests.levy import factories as f
from tests.payments.factories import pay
from vendors.models import StallType

TODAY = date(2026, 11, 23)  # the frozen clock, in Jakarta


def bills(**where: Any) -> list[Bill]:
    query = sa.select(Bill).order_by(Bill.id)
    for name, value in where.items():
        query = query.where(getattr(Bill, name) == value)
    return list(db.session.scalars(query))


def snapshot() -> tuple[int, int, int, int]:
    return (f.count(Bill), f.count(BillLine), f.count(BillingRun), f.audit_count())


def refused(call: Any, error: type[DomainError], reason: str) -> DomainError:
    before = snapshot()
    with pytest.raises(error) as caught:
        call()
    assert reason_of(caught.value) == reason, caught.value.details
    db.session.rollback()
    assert snapshot() == before, "a refused action changed something"
    return caught.value


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    """Service-level tests: one application context for the whole test."""
    with app.app_context():
        yield


@pytest.fixture
def klewer(app: Flask) -> f.Holding:
    f.illustrative_tariffs()
    return f.holding("KLEWER", area_m2="5")


def test_klewer_kios_is_billed_157500_for_november(app: Flask, klewer: f.Holding) -> None:
    summary = issue_bills("2026-11", actor="test")
    assert (summary.bills, summary.principal_idr, summary.monthly) == (1, 157_500, 1)
    (bill,) = bills()
    assert bill.number == "SKRD/2026/11/KLEWER/000001"
    assert (bill.kind, bill.status, bill.principal_idr) == (
        BillKind.MONTHLY,
        BillStatus.ISSUED,
        157_500,
    )
    assert (bill.due_on, bill.issued_on, bill.illustrative) == (date(2026, 11, 30), TODAY, True)
    assert (bill.month_days_rule, bill.rounding_rule, bill.sanction_cap_months) == (
        "30",
        "half_up",
        24,
    )
    lines = {line.component.value: line for line in bill.lines}
    service = lines["pelayanan_pasar"]
    assert (service.quantity, service.rate_idr, service.amount_idr) == (150, 950, 142_500)
    assert service.legal_basis == "Perda 5/2016 (illustrative TNTD)"
    assert lines["persampahan"].amount_idr == 15_000
    assert sum(line.amount_idr for line in bill.lines) == bill.principal_idr


def test_actual_month_rule_bills_december_for_31_days(app: Flask, klewer: f.Holding) -> None:
    app.config["BILL_MONTH_DAYS"] = "actual"
    # December has not begun on the frozen date, but kios are billed a month in advance.
    assert issue_bills("2026-12", actor="test").principal_idr == 5 * 1050 * 31


def test_rerun_bills_only_what_is_new_and_dry_run_matches(app: Flask, klewer: f.Holding) -> None:
    dry = issue_bills("2026-11", actor="test", dry_run=True)
    assert f.count(Bill) == 0 and dry.run_id is None
    real = issue_bills("2026-11", actor="test")
    assert (dry.bills, dry.lines, dry.principal_idr, dry.digest) == (
        real.bills,
        real.lines,
        real.principal_idr,
        real.digest,
    )
    with app.app_context():
        f.holding("KLEWER", area_m2="10")
    again = issue_bills("2026-11", actor="test")
    assert (again.bills, again.already_billed, again.principal_idr) == (1, 1, 315_000)
    assert bills()[-1].number == "SKRD/2026/11/KLEWER/000002"
    nothing = issue_bills("2026-11", actor="test")
    assert (nothing.bills, nothing.already_billed, nothing.run_id) == (0, 2, None)
    assert f.count(Bill) == 2


def test_the_database_allows_one_live_bill_per_placement_and_period(
    app: Flask, klewer: f.Holding
) -> None:
    issue_bills("2026-11", actor="test")
    (bill,) = bills()
    row = {c.name: getattr(bill, c.name) for c in Bill.__table__.columns if c.name != "id"}
    row.update(number="SKRD/2026/11/KLEWER/999999", number_seq=999_999)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(Bill), [row])
    db.session.rollback()


def test_pro_rated_when_the_placement_starts_and_ends_inside_the_month(app: Flask) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        starts = f.holding("KLEWER", start_on=date(2026, 11, 16))
        ends = f.holding("KLEWER", start_on=date(2025, 1, 1), ended_on=date(2026, 11, 16))
    issue_bills("2026-11", actor="test")
    by_placement = {b.placement_id: b for b in bills()}
    late, early = by_placement[starts.placement.id], by_placement[ends.placement.id]
    assert (late.service_from, late.service_to, late.principal_idr) == (
        date(2026, 11, 16),
        date(2026, 11, 30),
        78_750,
    )
    # ended_on is the first day no longer held: 1-15 November.
    assert (early.service_from, early.service_to, early.principal_idr) == (
        date(2026, 11, 1),
        date(2026, 11, 15),
        78_750,
    )
    assert late.principal_idr + early.principal_idr == 157_500


def test_tariff_change_inside_the_month_splits_the_lines(app: Flask, klewer: f.Holding) -> None:
    add_tariff_version(
        TariffInput(
            "kios",
            "persampahan",
            "per_m2_day",
            "200",
            "Perwali 9/2026",
            date(2026, 11, 16),
            market_code="KLEWER",
        ),
        actor="test",
    )
    issue_bills("2026-11", actor="test")
    (bill,) = bills()
    sampah = [line for line in bill.lines if line.component.value == "persampahan"]
    assert [(line.service_from.day, line.service_to.day, line.amount_idr) for line in sampah] == [
        (1, 15, 7_500),
        (16, 30, 15_000),
    ]
    assert sampah[1].legal_basis == "Perwali 9/2026"
    assert bill.principal_idr == 142_500 + 22_500


def test_pelataran_tickets_one_per_day_of_use_up_to_today(app: Flask) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        ground = f.holding(
            "LEGI", stall_type=StallType.PELATARAN, area_m2="2", start_on=date(2026, 11, 20)
        )
    summary = issue_bills("2026-11", actor="test")
    assert (summary.daily, summary.principal_idr) == (4, 4 * 1_100)  # 20-23 November
    tickets = bills(kind=BillKind.DAILY)
    assert [t.period_start.day for t in tickets] == [20, 21, 22, 23]
    assert tickets[0].number == "KARCIS/2026/11/LEGI/000001"
    assert all(t.principal_idr == 1_100 and t.due_on == t.period_start for t in tickets)
    assert ground.placement.id == tickets[0].placement_id


def test_officer_records_a_ticket_on_the_spot_and_the_run_skips_it(
    app: Flask, frozen_clock: Any
) -> None:
    with app.app_context():
        f.illustrative_tariffs()
        ground = f.holding(
            "LEGI", stall_type=StallType.PELATARAN, area_m2="2", start_on=date(2026, 11, 23)
        )
    ticket = record_ticket(ground.placement.id, user=None, actor="test")
    assert (ticket.principal_idr, ticket.period_start) == (1_100, TODAY)
    refused(
        lambda: record_ticket(ground.placement.id, user=None, actor="test"),
        Conflict,
        "already_billed",
    )
    summary = issue_bills("2026-11", actor="test")
    assert (summary.bills, summary.already_billed) == (0, 1)


def test_tickets_are_for_pelataran_only(app: Flask, klewer: f.Holding) -> None:
    refused(
        lambda: record_ticket(klewer.placement.id, user=None, actor="test"),
        ValidationFailed,
        "not_pelataran",
    )


@pytest.mark.parametrize("period", ["2026-13", "26-11", "2026/11", "", "2026-11-01", "abcd-ef"])
def test_malformed_period_is_refused_and_nothing_written(
    app: Flask, klewer: f.Holding, period: str
) -> None:
    error = refused(lambda: issue_bills(period, actor="test"), ValidationFailed, "malformed")
    assert error.details["errors"][0]["field"] == "period"


def test_billing_a_closed_period_twice_is_refused(app: Flask, klewer: f.Holding) -> None:
    assert issue_bills("2026-10", actor="test").bills == 1
    close_period("2026-10", actor="test")
    refused(lambda: issue_bills("2026-10", actor="test"), Conflict, "closed")
    refused(lambda: issue_bills("2026-10", actor="test", dry_run=True), Conflict, "closed")
    refused(lambda: close_period("2026-10", actor="test"), Conflict, "closed")
    refused(lambda: close_period("2026-11", actor="test"), ValidationFailed, "not_over")


def test_unknown_market_is_refused(app: Flask, klewer: f.Holding) -> None:
    refused(
        lambda: issue_bills("2026-11", market_code="NOPE", actor="test"),
        ValidationFailed,
        "unknown",
    )


def test_run_for_one_market_leaves_the_others(app: Flask, klewer: f.Holding) -> None:
    with app.app_context():
        f.holding("LEGI", area_m2="4")
    summary = issue_bills("2026-11", market_code="LEGI", actor="test")
    assert summary.by_market == {"LEGI": {"bills": 1, "principal_idr": 4 * 1050 * 30}}
    assert issue_bills("2026-11", actor="test").by_market.keys() == {"KLEWER"}


def test_no_tariff_and_no_tntd_are_reported_not_billed(app: Flask) -> None:
    with app.app_context():
        f.holding("KLEWER")  # no tariffs loaded yet
    summary = issue_bills("2026-11", actor="test")
    assert (summary.bills, summary.skipped) == (0, {"no_tariff": 1})
    add_tariff_version(
        TariffInput(
            "kios",
            "pelayanan_pasar",
            "tntd_pct_day",
            "0.1",
            "Perda 5/2016",
            date(2026, 1, 1),
            market_class="IA",
        ),
        actor="test",
    )
    assert issue_bills("2026-11", actor="test").skipped == {"no_tntd": 1}


def test_exemption_and_reduction_change_what_the_run_charges(app: Flask, klewer: f.Holding) -> None:
    with app.app_context():
        other = f.holding("KLEWER", block_code="B")
    add_relief(
        ReliefInput(
            "exemption",
            "SK 1/2026",
            date(2026, 10, 1),
            date(2026, 11, 1),
            date(2026, 11, 30),
            market_code="KLEWER",
            block_code="A",
        ),
        actor="test",
    )
    add_relief(
        ReliefInput(
            "reduction",
            "SK 2/2026",
            date(2026, 10, 1),
            date(2026, 11, 16),
            date(2026, 11, 30),
            vendor_id=other.vendor.id,
            reduction_pct="50",
        ),
        actor="test",
    )
    summary = issue_bills("2026-11", actor="test")
    assert summary.skipped == {"exempt": 1}
    (bill,) = bills()
    assert bill.placement_id == other.placement.id
    assert bill.principal_idr == 157_500 - 157_500 // 4
    relieved = [line for line in bill.lines if line.relief_pct]
    assert relieved and all("SK 2/2026" in line.legal_basis for line in relieved)


def test_void_with_reason_and_reissue_with_current_tariff(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-11", actor="test")
    (bill,) = bills()
    refused(lambda: void_bill(bill.id, reason="short", actor="test"), ValidationFailed, "required")
    add_relief(
        ReliefInput(
            "reduction",
            "SK 3/2026",
            date(2026, 11, 20),
            date(2026, 11, 1),
            date(2026, 11, 30),
            market_code="KLEWER",
            reduction_pct="10",
        ),
        actor="test",
    )
    result = void_bill(
        bill.id, reason="pengurangan SK 3/2026 berlaku", actor="user:1", reissue=True
    )
    assert result.voided.status is BillStatus.VOIDED
    assert result.voided.void_reason == "pengurangan SK 3/2026 berlaku"
    assert result.reissued is not None
    assert result.reissued.number == "SKRD/2026/11/KLEWER/000002"
    assert (result.reissued.principal_idr, result.reissued.replaces_id) == (141_750, bill.id)
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions[-2:] == ["bill.voided", "bill.reissued"]
    refused(
        lambda: void_bill(bill.id, reason="again, by mistake", actor="test"),
        Conflict,
        "already_voided",
    )


def test_voiding_a_paid_bill_is_refused(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-11", actor="test")
    (bill,) = bills()
    pay(klewer.vendor.id, 157_500)
    assert db.session.get(Bill, bill.id).status is BillStatus.PAID  # type: ignore[union-attr]
    refused(
        lambda: void_bill(bill.id, reason="wrong stall, vendor says", actor="test"),
        Conflict,
        "has_payments",
    )
    db.session.expire_all()
    assert db.session.get(Bill, bill.id).status is BillStatus.PAID  # type: ignore[union-attr]


def test_issued_bills_cannot_be_repriced_in_the_database(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-11", actor="test")
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.update(Bill).values(principal_idr=1))
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.update(BillLine).values(amount_idr=1))
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.delete(Bill))
    db.session.rollback()
    assert bills()[0].principal_idr == 157_500


def status(bill_id: int) -> BillStatus:
    db.session.expire_all()
    found = db.session.get(Bill, bill_id)
    assert found is not None
    return found.status


def test_status_follows_the_ledger(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-10", actor="test", issued_on=date(2026, 10, 1))
    (bill,) = bills()
    assert bill.due_on == date(2026, 10, 10)
    vendor_id = klewer.vendor.id
    early = pay(vendor_id, 100_000, paid_at=datetime(2026, 10, 5, 3, tzinfo=UTC))
    assert status(bill.id) is BillStatus.PARTIALLY_PAID
    # Rest of the principal one month and a half late: 1 % of 57,500 = 575 sanction.
    late = pay(vendor_id, 57_500)
    (open_bill,) = open_bills_for_vendor(vendor_id, TODAY)
    assert (open_bill.principal_outstanding_idr, open_bill.sanction_outstanding_idr) == (0, 575)
    assert status(bill.id) is BillStatus.PARTIALLY_PAID
    last = pay(vendor_id, 575)
    assert status(bill.id) is BillStatus.PAID
    assert open_bills_for_vendor(vendor_id, TODAY) == []
    for recorded in (last, late, early):
        reverse_payment(
            recorded.payment_id, reference="REV", reason="bank reversed it", actor="test"
        )
    assert status(bill.id) is BillStatus.ISSUED


def test_over_allocation_is_refused(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-11", actor="test")
    (bill,) = bills()
    paid = pay(klewer.vendor.id, 157_500)

    def allocate(component: Component, amount_idr: int) -> Allocation:
        return Allocation(
            payment_id=paid.payment_id,
            bill_id=bill.id,
            component=component,
            amount_idr=amount_idr,
            paid_on=TODAY,
            created_at=clock.now(),
        )

    # The database refuses a rupiah of principal beyond the bill's.
    db.session.add(allocate(Component.PRINCIPAL, 1))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    # Sanction within the regime's ceiling passes the database, but none is due before the due
    # date: the status sync refuses it.
    db.session.add(allocate(Component.SANCTION, 1))
    with pytest.raises(Conflict) as caught, transaction(db.session):
        sync_bill_status(db.session, bill.id, as_of=TODAY, actor="p")
    assert reason_of(caught.value) == "over_allocated"


def test_open_bills_oldest_first_with_sanction_apart(app: Flask, klewer: f.Holding) -> None:
    for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
        first = date(int(month[:4]), int(month[5:]), 1)
        issue_bills(month, actor="test", issued_on=min(first, TODAY))
    opened = open_bills_for_vendor(klewer.vendor.id, TODAY)
    assert [b.period for b in opened] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    # August: due 10 Aug, 3 complete months late on 23 Nov: 3 % of 157,500.
    assert [(b.principal_outstanding_idr, b.sanction_outstanding_idr) for b in opened] == [
        (157_500, 4_725),
        (157_500, 3_150),
        (157_500, 1_575),
        (157_500, 0),
    ]
    assert opened[0].figures.days_overdue == (TODAY - date(2026, 8, 10)).days


def test_stale_bills_are_reported_after_an_shp_ends(app: Flask, klewer: f.Holding) -> None:
    issue_bills("2026-11", actor="test")
    placement = klewer.placement
    with app.app_context():
        row = db.session.merge(placement)
        row.ended_on = date(2026, 11, 20)
        row.status = row.status.__class__("revoked")
        db.session.commit()
    summary = issue_bills("2026-11", actor="test")
    assert summary.stale == ["SKRD/2026/11/KLEWER/000001"]


def test_bills_are_issued_in_one_audit_event_per_run(app: Flask, klewer: f.Holding) -> None:
    with app.app_context():
        for _ in range(3):
            f.holding("KLEWER")
    before = f.audit_count()
    summary = issue_bills("2026-11", actor="cli")
    assert summary.bills == 4 and f.audit_count() == before + 1
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None and event.action == "billing.run"
    assert (event.actor, event.details["bills"], event.details["digest"]) == (
        "cli",
        4,
        summary.digest,
    )


def test_issued_on_sets_past_due_dates_but_never_the_future(app: Flask, klewer: f.Holding) -> None:
    refused(
        lambda: issue_bills("2026-12", actor="t", issued_on=TODAY + timedelta(days=1)),
        ValidationFailed,
        "future",
    )


def test_vendor_summary_part_shows_what_is_owed(app: Flask, klewer: f.Holding) -> None:
    from vendors.services import vendor_summary

    issue_bills("2026-10", actor="t", issued_on=date(2026, 10, 1))
    levy = vendor_summary(klewer.vendor)["bills"]
    assert (levy["open_count"], levy["principal_outstanding_idr"]) == (1, 157_500)
    assert levy["sanction_outstanding_idr"] == 1_575
    assert levy["open"][0]["number"] == "SKRD/2026/10/KLEWER/000001"


def test_tariff_versions_cannot_be_edited_in_the_database(app: Flask, klewer: f.Holding) -> None:
    from retribusi.levy.models import TariffVersion

    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.update(TariffVersion).values(rate=1))
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.delete(TariffVersion))
    db.session.rollback()


@pytest.mark.postgres
def test_concurrent_runs_bill_each_placement_once(app: Flask, klewer: f.Holding) -> None:
    import threading

    for _ in range(20):
        f.holding("KLEWER")
    results: list[Any] = []

    def run() -> None:
        with app.app_context():
            try:
                results.append(issue_bills("2026-11", actor="t").bills)
            except DomainError as error:  # pragma: no cover - would show in the assertion
                results.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [0, 0, 21]
    numbers = db.session.scalars(sa.select(Bill.number)).all()
    assert len(numbers) == len(set(numbers)) == 21


def test_a_row_the_database_refuses_in_a_bulk_write_is_an_integrity_error(app: Flask) -> None:
    """PostgreSQL's COPY raises the driver's own error; the writer raises SQLAlchemy's, as an
    INSERT would, so a concurrent run is reported as a conflict and never as a crash."""
    from vendors.models import Market

    table = Market.__table__
    assert isinstance(table, sa.Table)
    with app.app_context():
        session = db.session
        writer = RowWriter(session, table, ("code", "name", "kecamatan", "created_at"))
        row = writer.part(("code", "name", "kecamatan", "created_at"))
        values = ("DUP", "Pasar Dup", "Jebres", datetime(2026, 1, 1, tzinfo=UTC))
        with pytest.raises(IntegrityError), transaction(session):
            writer.write([[row(values)], [row(values)]])
        assert session.scalar(sa.select(sa.func.count()).select_from(Market)) == 0
