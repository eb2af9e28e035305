"""QRIS services on a real database: configuration, stall labels, dynamic bill codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.qris import decode
from payments.qris.config import (
    DEMO_MERCHANT,
    QrisConfigError,
    load_settings,
)
from payments.qris.models import QrisCode, QrisCodeBill
from payments.qris.services import (
    bill_label,
    dynamic_code_for,
    get_code,
    stall_for_label,
    stall_label,
    static_payload,
)
from retribusi import clock, create_app
from retribusi.auth.models import Role
from retribusi.errors import DomainError, Forbidden, NotFound, ValidationFailed
from retribusi.extensions import db
from retribusi.levy.billing import open_bills_for_vendor
from retribusi.levy.errors import reason_of
from tests.conftest import base_config
from tests.factories import make_user
from tests.levy import factories as f
from tests.payments.factories import pay
from tests.qris.conftest import TODAY, Billed

MONTH_IDR = 157_500


def refused(call: Any, kind: type[DomainError], reason: str) -> None:
    with pytest.raises(kind) as info:
        call()
    assert reason_of(info.value) == reason, info.value.details


# --------------------------------------------------------------------------- configuration


def config(**changes: Any) -> dict[str, Any]:
    return {
        "QRIS_MERCHANTS": None,
        "QRIS_CODE_LIFETIME_S": 3600,
        "QRIS_CODE_REUSE_MIN_LEFT_S": 600,
        "ENV": "test",
        **changes,
    }


def test_demo_merchant_outside_production_and_off_in_production() -> None:
    demo = load_settings(config())
    assert demo.demo and demo.enabled
    assert demo.merchants["*"].nmid == DEMO_MERCHANT["nmid"]
    off = load_settings(config(ENV="production"))
    assert not off.enabled
    with pytest.raises(DomainError) as info:
        off.merchant_for("KLEWER")
    assert reason_of(info.value) == "not_configured"


def test_market_entries_lay_over_the_dinas_entry() -> None:
    merchants = {
        "*": dict(DEMO_MERCHANT),
        "KLEWER": {"nmid": "ID1026123456790", "name": "PASAR KLEWER", "postal_code": "57115"},
        "GEDE": {"merchant_pan": "9360011312345673"[:-1] + "3", "nmid": "ID1026123456791"},
    }
    loaded = load_settings(config(QRIS_MERCHANTS=merchants))
    assert not loaded.demo
    klewer = loaded.merchants["KLEWER"]
    assert (klewer.nmid, klewer.merchant_name, klewer.postal_code) == (
        "ID1026123456790",
        "PASAR KLEWER",
        "57115",
    )
    assert klewer.merchant_pan == loaded.merchants["*"].merchant_pan == "9360011312345673"
    assert loaded.merchant_for("KLEWER")[0] == "KLEWER"
    assert loaded.merchant_for("LEGI")[0] == "*"


@pytest.mark.parametrize(
    ("merchants", "message"),
    [
        ({"*": {**DEMO_MERCHANT, "name": "X" * 26}}, "merchant_name"),
        ({"*": {**DEMO_MERCHANT, "city": "K" * 16}}, "merchant_city"),
        ({"*": {**DEMO_MERCHANT, "nmid": "ID12"}}, "nmid"),
        ({"*": {**DEMO_MERCHANT, "criteria": "XYZ"}}, "criteria"),
        ({"*": {**DEMO_MERCHANT, "postal_code": "5711"}}, "postal_code"),
        ({"*": {**DEMO_MERCHANT, "nns": "12345678"}}, "nns"),
        ({"*": {**DEMO_MERCHANT, "mcc": "93"}}, "mcc"),
        ({"*": {**DEMO_MERCHANT, "acquirer_guid": "bad guid"}}, "acquirer_guid"),
        ({"*": {**DEMO_MERCHANT, "name": "PASAR|GEDE"}}, "merchant_name"),
        (
            {
                "*": {k: v for k, v in DEMO_MERCHANT.items() if k not in {"nns", "merchant_number"}}
                | {"merchant_pan": "9360011312345670"}
            },
            "Luhn",
        ),
        ({"*": {k: v for k, v in DEMO_MERCHANT.items() if k != "nmid"}}, "missing nmid"),
        ({"*": {**DEMO_MERCHANT, "colour": "green"}}, "unknown field"),
        ({"*": {**DEMO_MERCHANT, "nmid": 1026}}, "must be a string"),
        ({"KLEWER": DEMO_MERCHANT}, "'*' entry"),
        ({"*": DEMO_MERCHANT, "KLEWER": {"name": "N" * 30}}, "QRIS_MERCHANTS['KLEWER']"),
        ("not a mapping", "object keyed"),
    ],
)
def test_bad_merchant_configuration_names_the_field(merchants: object, message: str) -> None:
    with pytest.raises(QrisConfigError, match=message.replace("|", r"\|").replace("[", r"\[")):
        load_settings(config(QRIS_MERCHANTS=merchants))


@pytest.mark.parametrize(
    "changes",
    [
        {"QRIS_CODE_LIFETIME_S": 10},
        {"QRIS_CODE_LIFETIME_S": "3600"},
        {"QRIS_CODE_REUSE_MIN_LEFT_S": 99999},
    ],
)
def test_bad_lifetime_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(QrisConfigError, match="RETRIBUSI_QRIS_CODE"):
        load_settings(config(**changes))


def test_a_bad_value_stops_the_app(database_url: str) -> None:
    bad = {**base_config(database_url), "QRIS_MERCHANTS": {"*": {**DEMO_MERCHANT, "nmid": "X"}}}
    with pytest.raises(QrisConfigError, match=r"QRIS configuration: .*nmid"):
        create_app(bad)


# ------------------------------------------------------------------------------- stall labels


def test_stall_label_is_the_reference_and_reads_back(app: Flask, ctx: None) -> None:
    stall = f.stall("KLEWER", block_code="A")
    assert stall_label(stall) == stall.reference == f"KLEWER-A-{stall.number}"
    assert stall_for_label(stall.reference) == stall
    payload = static_payload(stall)
    decoded = decode(payload)
    assert decoded.issues == ()
    assert decoded.value("01") == "11"
    assert decoded.value("54") is None
    assert decoded.value("62.07") == stall.reference


def test_block_codes_with_dashes_read_back(app: Flask, ctx: None) -> None:
    stall = f.stall("LEGI", block_code="B-SB")
    assert stall_label(stall) == f"LEGI-B-SB-{stall.number}"
    assert stall_for_label(stall_label(stall)) == stall


def test_long_or_ambiguous_references_use_the_stall_id(app: Flask, ctx: None) -> None:
    long_stall = f.stall("PANGGUNGREJO", block_code="BLOK-TIMUR-LT2")
    long_stall.number = "K-0012"  # a dash in the number: the reference would not read back
    db.session.commit()
    assert stall_label(long_stall) == f"STALL.{long_stall.id}"
    assert stall_for_label(f"STALL.{long_stall.id}") == long_stall
    assert decode(static_payload(long_stall)).issues == ()
    for unknown in ["STALL.999999", "KLEWER-Z-001", "", "x" * 26, "no-dashes", "STALL.x"]:
        assert stall_for_label(unknown) is None


# ------------------------------------------------------------------------------- bill labels


@pytest.mark.parametrize(
    ("number", "label"),
    [
        ("SKRD/2026/11/LEGI/000088", "SKRD/2026/11/LEGI/000088"),
        ("SKRD/2026/11/KLEWER/000088", "S2611KLEWER000088"),
        ("KARCIS/2026/11/PANGGUNGREJO/000001", "K2611PANGGUNGREJO000001"),
        ("SKRD/2026/11/A_VERY_LONG_MARKET_CODE_X/123456", "S2611A_VERY_LONG_MA123456"),
        ("weird number with spaces and more than 25", "BILL.42"),
    ],
)
def test_bill_label_fits_tag_62_01(number: str, label: str) -> None:
    assert bill_label(number, 42) == label
    assert len(label) <= 25


# ------------------------------------------------------------------------------ dynamic codes


def test_dynamic_code_for_open_bills(billed: Billed) -> None:
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids, actor="test")
    # October is a month overdue on 23 November: 1 % sanction on its principal.
    assert code.amount_idr == 2 * MONTH_IDR + 1_575
    assert [b.outstanding_idr for b in code.bills] == [MONTH_IDR + 1_575, MONTH_IDR]
    assert [b.bill_id for b in code.bills] == billed.bill_ids  # oldest first
    assert code.expires_at == clock.now() + timedelta(hours=1)
    assert not code.reused
    decoded = decode(code.payload)
    assert decoded.issues == ()
    assert decoded.amount_idr == code.amount_idr
    assert decoded.value("01") == "12"
    assert decoded.value("62.05") == code.reference
    assert decoded.value("62.01") == code.bill_label == bill_label(billed.bills[0].number, 0)
    stored = db.session.scalars(sa.select(QrisCode)).one()
    assert (stored.reference, stored.amount_idr, stored.payload) == (
        code.reference,
        code.amount_idr,
        code.payload,
    )
    assert stored.stall_id == billed.holding.stall.id
    assert stored.bill_ids == tuple(billed.bill_ids)


def test_amount_is_what_is_owed_today(billed: Billed) -> None:
    pay(billed.vendor_id, 100_000)  # part of October
    code = dynamic_code_for(billed.vendor_id, [billed.bill_ids[0]])
    owed = open_bills_for_vendor(billed.vendor_id, TODAY)[0].outstanding_idr
    assert code.amount_idr == owed == MONTH_IDR + 1_575 - 100_000


def test_a_live_code_is_handed_out_again(app: Flask, billed: Billed, frozen_clock: Any) -> None:
    first = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    again = dynamic_code_for(billed.vendor_id, list(reversed(billed.bill_ids)))
    assert again.reused and again.reference == first.reference
    other = dynamic_code_for(billed.vendor_id, billed.bill_ids[:1])
    assert other.reference != first.reference
    # With less than QRIS_CODE_REUSE_MIN_LEFT_S left, a fresh code is made.
    frozen_clock.advance(timedelta(minutes=51))
    fresh = dynamic_code_for(billed.vendor_id, billed.bill_ids)
    assert not fresh.reused and fresh.reference != first.reference
    assert f.count(QrisCode) == 3
    assert f.count(QrisCodeBill) == 5


def test_bad_requests_are_refused(billed: Billed) -> None:
    other = f.holding("KLEWER", area_m2="5")
    vendor_id = billed.vendor_id
    refused(lambda: dynamic_code_for(vendor_id, []), ValidationFailed, "required")
    refused(lambda: dynamic_code_for(vendor_id, [0]), ValidationFailed, "type")
    refused(lambda: dynamic_code_for(vendor_id, [True]), ValidationFailed, "type")  # type: ignore[list-item]
    refused(lambda: dynamic_code_for(vendor_id, list(range(1, 30))), ValidationFailed, "too_many")
    refused(lambda: dynamic_code_for(vendor_id, [999_999]), ValidationFailed, "not_open")
    refused(
        lambda: dynamic_code_for(other.vendor.id, billed.bill_ids), ValidationFailed, "not_open"
    )
    refused(lambda: dynamic_code_for(987_654, billed.bill_ids), NotFound, "not_found")
    pay(vendor_id, 2 * MONTH_IDR + 1_575)  # everything paid
    refused(lambda: dynamic_code_for(vendor_id, billed.bill_ids), ValidationFailed, "not_open")
    assert f.count(QrisCode) == 0


def test_total_over_the_qris_limit_is_refused(app: Flask, ctx: None) -> None:
    f.illustrative_tariffs()
    big = f.holding("KLEWER", area_m2="400")
    from tests.qris.conftest import issue

    bills = [b for b in issue("2026-09", "2026-10", "2026-11") if b.vendor_id == big.vendor.id]
    total = sum(b.principal_idr for b in bills)
    assert total > 10_000_000
    refused(
        lambda: dynamic_code_for(big.vendor.id, [b.id for b in bills]),
        ValidationFailed,
        "over_limit",
    )


def test_access_vendor_own_and_officer_scope(billed: Billed) -> None:
    mine = make_user(Role.VENDOR, secret="135790", phone="081299990001")
    billed.holding.vendor.user_id = mine.id
    db.session.commit()
    stranger = make_user(Role.VENDOR, secret="135790", phone="081299990002")
    officer_here = make_user(Role.OFFICER, secret="officer-password-1", market_codes=("KLEWER",))
    officer_there = make_user(Role.OFFICER, secret="officer-password-1", market_codes=("LEGI",))
    refused(
        lambda: dynamic_code_for(billed.vendor_id, billed.bill_ids, user=stranger),
        Forbidden,
        "forbidden",
    )
    refused(
        lambda: dynamic_code_for(billed.vendor_id, billed.bill_ids, user=officer_there),
        Forbidden,
        "forbidden",
    )
    code = dynamic_code_for(billed.vendor_id, billed.bill_ids, user=mine)
    assert get_code(code.reference, mine).reference == code.reference
    assert get_code(code.reference, officer_here).amount_idr == code.amount_idr
    refused(lambda: get_code(code.reference, stranger), NotFound, "not_found")
    refused(lambda: get_code(code.reference, officer_there), Forbidden, "forbidden")
    refused(lambda: get_code("Q000000000000"), NotFound, "not_found")


def test_codes_are_append_only(billed: Billed) -> None:
    dynamic_code_for(billed.vendor_id, billed.bill_ids)
    for statement in (
        "UPDATE qris_codes SET amount_idr = 1",
        "DELETE FROM qris_codes",
        "UPDATE qris_code_bills SET outstanding_idr = 1",
        "DELETE FROM qris_code_bills",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
