"""Tariff versions: added with legal basis, never edited, refused when they would reprice bills."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from retribusi.audit import AuditEvent
from retribusi.errors import Conflict, DomainError, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.errors import reason_of
from retribusi.levy.models import TariffVersion
from retribusi.levy.tariffs import (
    TariffInput,
    add_tariff_version,
    illustrative_inputs,
    list_tariffs,
    withdraw_tariff_version,
)
from tests.levy import factories as f


@pytest.fixture(autouse=True)
def context(app: Flask) -> Any:
    with app.app_context():
        f.market("KLEWER")
        yield


def sampah(**changes: Any) -> TariffInput:
    values: dict[str, Any] = {
        "stall_type": "kios",
        "component": "persampahan",
        "basis": "per_m2_day",
        "rate": "100",
        "legal_basis": "Perda 5/2016",
        "valid_from": date(2026, 1, 1),
        "market_code": "KLEWER",
    }
    values.update(changes)
    return TariffInput(**values)


def refused(data: TariffInput, error: type[DomainError], reason: str) -> DomainError:
    before = (f.count(TariffVersion), f.count(AuditEvent))
    with pytest.raises(error) as caught:
        add_tariff_version(data, actor="test")
    assert reason_of(caught.value) == reason, caught.value.details
    db.session.rollback()
    assert (f.count(TariffVersion), f.count(AuditEvent)) == before
    return caught.value


def test_a_version_is_added_with_its_legal_basis_and_audited() -> None:
    version = add_tariff_version(sampah(), actor="user:7")
    assert (version.rate, version.legal_basis, version.scope_label) == (
        Decimal(100),
        "Perda 5/2016",
        "KLEWER",
    )
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event is not None
    assert (event.action, event.actor, event.details["rate"]) == (
        "tariff.version_added",
        "user:7",
        "100",
    )


@pytest.mark.parametrize(
    ("rate", "reason"),
    [
        ("0", "not_positive"),
        ("-5", "not_positive"),
        ("abc", "malformed"),
        ("NaN", "malformed"),
        ("1e400", "too_large"),
        ("100.00001", "too_precise"),
        ("", "malformed"),
    ],
)
def test_a_rate_of_zero_or_below_or_not_a_number_is_refused(rate: str, reason: str) -> None:
    error = refused(sampah(rate=rate), ValidationFailed, reason)
    assert error.details["errors"][0]["field"] == "rate"


def test_a_float_rate_is_refused() -> None:
    refused(sampah(rate=0.1), ValidationFailed, "malformed")


def test_a_percentage_of_tntd_is_at_most_100() -> None:
    refused(
        sampah(component="pelayanan_pasar", basis="tntd_pct_day", rate="101"),
        ValidationFailed,
        "too_large",
    )


def test_overlapping_versions_are_refused() -> None:
    add_tariff_version(sampah(valid_from=date(2026, 1, 1)), actor="test")
    refused(sampah(valid_from=date(2026, 1, 1), rate="120"), Conflict, "overlapping")
    refused(sampah(valid_from=date(2025, 6, 1), rate="120"), Conflict, "overlapping")
    ended = sampah(stall_type="los", valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30))
    add_tariff_version(ended, actor="test")
    refused(sampah(stall_type="los", valid_from=date(2026, 6, 1)), Conflict, "overlapping")
    assert add_tariff_version(sampah(stall_type="los", valid_from=date(2026, 7, 1)), actor="t")


def test_a_later_version_supersedes_from_its_start() -> None:
    add_tariff_version(sampah(valid_from=date(2026, 1, 1)), actor="test")
    newer = add_tariff_version(
        sampah(valid_from=date(2027, 1, 1), rate="150", legal_basis="Perwali 1/2027"), actor="test"
    )
    assert newer.valid_from == date(2027, 1, 1)
    assert len(list_tariffs()) == 2


def test_a_backdated_version_is_refused_once_days_are_billed() -> None:
    f.illustrative_tariffs()
    f.holding("KLEWER")
    issue_bills("2026-11", actor="test")
    error = refused(sampah(valid_from=date(2026, 11, 15), rate="200"), Conflict, "backdated")
    assert "2026-11-30" in error.message
    # A class-wide or city-wide version would reprice Klewer's November too.
    refused(
        sampah(market_code=None, market_class="IA", valid_from=date(2026, 11, 1)),
        Conflict,
        "backdated",
    )
    assert add_tariff_version(sampah(valid_from=date(2026, 12, 1), rate="200"), actor="test")


def test_scope_is_a_market_or_a_class_not_both() -> None:
    refused(sampah(market_class="IA"), ValidationFailed, "two_scopes")
    refused(sampah(market_code="NOPE"), ValidationFailed, "unknown")
    refused(sampah(market_code=None, market_class="IX"), ValidationFailed, "unknown")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"legal_basis": " "}, "legal_basis", "required"),
        ({"valid_from": "2026-02-30"}, "valid_from", "malformed"),
        ({"valid_to": date(2025, 12, 31)}, "valid_to", "before_start"),
        ({"stall_type": "warung"}, "stall_type", "unknown"),
        ({"default_tntd_idr_per_m2": 950000}, "default_tntd_idr_per_m2", "not_tntd"),
    ],
)
def test_other_bad_input_is_refused(changes: dict[str, Any], field: str, reason: str) -> None:
    error = refused(sampah(**changes), ValidationFailed, reason)
    assert error.details["errors"][0]["field"] == field


def test_withdraw_only_a_version_that_never_billed() -> None:
    f.illustrative_tariffs()
    unused = add_tariff_version(sampah(valid_from=date(2027, 1, 1)), actor="test")
    withdrawn = withdraw_tariff_version(unused.id, reason="typo in the Perwali number", actor="t")
    assert withdrawn.withdrawn_at is not None and unused not in list_tariffs()
    f.holding("KLEWER")
    issue_bills("2026-11", actor="test")
    used = next(
        v
        for v in list_tariffs()
        if v.stall_type.value == "kios" and v.illustrative and v.component.value == "persampahan"
    )
    with pytest.raises(Conflict) as caught:
        withdraw_tariff_version(used.id, reason="trying to edit history", actor="t")
    assert reason_of(caught.value) == "billed"


def test_illustrative_table_loads_once_and_is_marked() -> None:
    assert f.illustrative_tariffs() == 21
    assert f.illustrative_tariffs() == 0
    versions = list_tariffs()
    assert len(versions) == 21 and all(v.illustrative for v in versions)
    kios_ia = next(
        v
        for v in versions
        if v.scope_label == "IA"
        and v.stall_type.value == "kios"
        and v.component.value == "pelayanan_pasar"
    )
    assert (kios_ia.basis.value, kios_ia.rate, kios_ia.default_tntd_idr_per_m2) == (
        "tntd_pct_day",
        Decimal("0.1"),
        950_000,
    )


def test_illustrative_rates_match_the_csv() -> None:
    rows = illustrative_inputs()
    assert {(r.market_class, r.stall_type, r.component) for r in rows} >= {
        ("IA", "pelataran", "pelayanan_pasar"),
        ("*", "kios", "persampahan"),
    }
    for row in rows:
        if row.basis == "tntd_pct_day":
            assert Decimal(row.default_tntd_idr_per_m2) * Decimal(row.rate) / 100 > 0
