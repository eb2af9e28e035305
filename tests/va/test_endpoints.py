"""The VA biller end to end: the simulated bank signs real calls through the Flask test client."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from payments.ledger import credit_balance
from payments.models import Allocation, Channel, Payment
from payments.sim.bank import PAYMENT_PATH, Padding, SimulatedBank, mt940_statement, triple
from payments.snap.models import SnapAnswer, SnapCall, VaType
from payments.verify import verify_ledger
from reconcile.formats.common import FileFormat, KeyKind, KeyRules
from reconcile.formats.mt940 import parse_mt940
from retribusi import clock
from retribusi.extensions import db
from tests.va.fixtures import TODAY, Billed, bank, billed_vendor

INQUIRY = "/v1.0/transfer-va/inquiry"
PAYMENT = "/v1.0/transfer-va/payment"


@pytest.fixture
def sim(app: Flask) -> SimulatedBank:
    return bank(app)[1]


@pytest.fixture
def sri(app: Flask, sim: SimulatedBank) -> Billed:
    return billed_vendor(app, name="Sri Rahayu", months=("2026-10", "2026-11"))


def data(reply: Any) -> dict[str, Any]:
    return dict(reply.body.get("virtualAccountData") or {})


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_the_bank_pays_a_vendors_bills_end_to_end(
    app: Flask, sim: SimulatedBank, sri: Billed
) -> None:
    result = sim.pay_bills(sri.va)
    assert result.accepted and result.paid_idr == sri.owed_idr > 0
    inquiry = data(result.inquiry)
    assert inquiry["inquiryStatus"] == "00"
    assert inquiry["virtualAccountName"] == "Sri Rahayu"
    assert inquiry["totalAmount"] == {"value": f"{sri.owed_idr}.00", "currency": "IDR"}
    assert [d["billNo"] for d in inquiry["billDetails"]] == [str(b) for b in sri.bill_ids]
    flag = data(result.last)
    assert result.last is not None and result.last.response_code == "2002500"
    assert flag["paymentFlagStatus"] == "00"
    assert flag["paymentFlagReason"] == {"english": "Success", "indonesia": "Sukses"}
    assert flag["virtualAccountNo"] == "   12345" + sri.va[5:]
    with app.app_context():
        [payment] = db.session.scalars(sa.select(Payment)).all()
        assert payment.channel is Channel.VA and payment.sender == "JATENG"
        assert payment.external_ref == result.payment_request_id
        assert payment.va_number == sri.va and payment.amount_idr == sri.owed_idr
        assert json.loads(json.dumps(payment.raw))["body"] == result.last.sent_body.decode()
        assert verify_ledger(db.session).ok
    # Nothing is owed any more: a second inquiry says so.
    again = sim.inquiry(sri.va)
    assert again.response_code == "4042414" and data(again)["inquiryStatus"] == "01"


def test_repeated_flags_record_one_payment_and_repeat_the_first_answer(
    app: Flask, sim: SimulatedBank, sri: Billed
) -> None:
    result = sim.pay_bills(sri.va)
    assert result.last is not None
    first = result.last.body
    # The bank repeats: same X-EXTERNAL-ID, a new one, and flagAdvise=Y.
    same_ext = sim.flag(
        sri.va,
        sri.owed_idr,
        request_id=result.payment_request_id,
        external_id=result.last.external_id,
    )
    retry = sim.flag(sri.va, sri.owed_idr, request_id=result.payment_request_id, retry=True)
    assert same_ext.body == retry.body == first
    assert count(app, Payment) == 1
    with app.app_context():
        answers = db.session.scalars(
            sa.select(SnapAnswer).where(SnapAnswer.outcome == "replay")
        ).all()
        assert len(answers) == 2 and all(a.replay_of is not None for a in answers)
    # The same paymentRequestId with another amount is not a replay.
    other = sim.flag(sri.va, sri.owed_idr - 1, request_id=result.payment_request_id, retry=True)
    assert other.response_code == "4042518" and data(other)["paymentFlagStatus"] == "01"
    assert count(app, Payment) == 1


def test_a_retry_without_trx_date_time_is_a_quiet_replay(
    app: Flask,
    sim: SimulatedBank,
    sri: Billed,
    frozen_clock: clock.FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flag without trxDateTime is paid at the moment we received it, so its retry (another
    X-EXTERNAL-ID, flagAdvise=Y, a minute later) says another time: still the same payment,
    answered with the first answer, and no warning of a reference reused with other content."""
    body = {
        **triple("12345", sim.customer_no(sri.va), Padding.SPACES),
        "paymentRequestId": sim.new_request_id(),
        "paidAmount": {"value": f"{sri.owed_idr}.00", "currency": "IDR"},
        "flagAdvise": "N",
    }
    first = sim.client.call(PAYMENT_PATH, body)
    assert first.response_code == "2002500"
    frozen_clock.advance(timedelta(minutes=1))
    retry = sim.client.call(PAYMENT_PATH, {**body, "flagAdvise": "Y"})
    assert retry.body == first.body
    assert count(app, Payment) == 1
    assert "reused with other content" not in caplog.text


@pytest.mark.parametrize("padding", list(Padding))
def test_padding_variants_are_found_and_echoed(
    app: Flask, sim: SimulatedBank, sri: Billed, padding: Padding
) -> None:
    reply = sim.inquiry(sri.va, padding=padding)
    assert reply.response_code == "2002400"
    sent = json.loads(reply.sent_body)
    for name in ("partnerServiceId", "customerNo", "virtualAccountNo"):
        assert data(reply)[name] == sent[name]
    flag = sim.flag(sri.va, sri.owed_idr, request_id=sim.new_request_id(), padding=padding)
    assert flag.response_code == "2002500"
    assert data(flag)["virtualAccountNo"] == sent["virtualAccountNo"]
    with app.app_context():
        assert db.session.scalars(sa.select(Payment.va_number)).one() == sri.va


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("10000.5", "4002501"),
        ("-1", "4002501"),
        ("1e9", "4002501"),
        ("abc", "4002501"),
        ("", "4002502"),
    ],
)
def test_bad_amounts_are_refused_with_the_right_code(
    app: Flask, sim: SimulatedBank, sri: Billed, amount: str, code: str
) -> None:
    reply = sim.flag(sri.va, 1, request_id=sim.new_request_id(), amount_text=amount or None)
    if not amount:
        body = json.loads(reply.sent_body)
        body["paidAmount"] = {"currency": "IDR"}
        reply = sim.client.call(PAYMENT, body)
    assert reply.response_code == code, reply.body
    assert data(reply)["paymentFlagStatus"] == "01"
    assert count(app, Payment) == 0


def test_closed_va_refuses_another_amount_and_partial_takes_part(app: Flask) -> None:
    _reg, closed = bank(app, code="CLOSED")
    _reg2, partial = bank(app, code="PARTIAL", va_type=VaType.PARTIAL, partner_id="P2")
    vendor = billed_vendor(app, code="CLOSED")
    wrong = closed.flag(vendor.va, vendor.owed_idr - 1000, request_id=closed.new_request_id())
    assert wrong.response_code == "4042513" and data(wrong)["paymentFlagStatus"] == "01"
    more = closed.flag(vendor.va, vendor.owed_idr + 1, request_id=closed.new_request_id())
    assert more.response_code == "4042513"
    with app.app_context():
        from payments.va.services import va_numbers_for_vendor

        [va_p] = [
            n.digits for n in va_numbers_for_vendor(vendor.vendor_id) if n.bank_code == "PARTIAL"
        ]
    part = partial.flag(va_p, 1000, request_id=partial.new_request_id())
    assert part.response_code == "2002500"
    over = partial.flag(va_p, vendor.owed_idr, request_id=partial.new_request_id())
    assert over.response_code == "4042513"
    rest = partial.flag(va_p, vendor.owed_idr - 1000, request_id=partial.new_request_id())
    assert rest.response_code == "2002500"
    assert partial.flag(va_p, 1, request_id=partial.new_request_id()).response_code == "4042514"


def test_open_va_takes_any_amount_and_keeps_the_excess_as_credit(app: Flask) -> None:
    _reg, open_bank = bank(app, code="OPEN", va_type=VaType.OPEN)
    vendor = billed_vendor(app, code="OPEN")
    reply = open_bank.flag(vendor.va, vendor.owed_idr + 5000, request_id=open_bank.new_request_id())
    assert reply.response_code == "2002500"
    with app.app_context():
        assert credit_balance(vendor.vendor_id) == 5000
    nothing_owed = open_bank.inquiry(vendor.va)
    assert nothing_owed.response_code == "2002400"
    assert data(nothing_owed)["totalAmount"]["value"] == "0.00"


def test_unknown_or_never_billed_va_is_4042412(app: Flask, sim: SimulatedBank, sri: Billed) -> None:
    bad_check_digit = sri.va[:-1] + str((int(sri.va[-1]) + 1) % 10)
    assert sim.inquiry(bad_check_digit).response_code == "4042412"
    unknown_vendor = "12345" + "0099999990"
    assert sim.inquiry(unknown_vendor).response_code in {"4042412"}
    with app.app_context():
        from payments.va.services import va_numbers_for_vendor
        from tests.levy import factories as f

        newcomer = f.vendor("Belum Ditagih")
        [va] = [n.digits for n in va_numbers_for_vendor(newcomer.id)]
    reply = sim.inquiry(va)
    assert reply.response_code == "4042412"
    assert reply.body["responseMessage"] == "Invalid Bill/Virtual Account [No Bill]"


def test_non_ascii_name_and_reserialised_body(app: Flask, sim: SimulatedBank, sri: Billed) -> None:
    name = "Bu Siti Rahayu – Kios A/12 é"
    ok = sim.flag(sri.va, sri.owed_idr, request_id=sim.new_request_id(), name=name)
    assert ok.response_code == "2002500"
    assert data(ok)["virtualAccountName"] == name
    # Signed over the raw bytes, sent re-serialised with ensure_ascii: the hash differs.
    body = json.loads(ok.sent_body)
    body["paymentRequestId"] = sim.new_request_id()
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    reserialised = json.dumps(body, separators=(",", ":")).encode()
    headers = sim.client.signed_headers(PAYMENT, raw, external_id="RESER1")
    answer = app.test_client().post("/snap" + PAYMENT, headers=headers, data=reserialised)
    assert answer.get_json()["responseCode"] == "4012500"
    assert answer.get_json()["responseMessage"] == "Unauthorized. [Signature]"


def test_status_finds_the_flag(app: Flask, sim: SimulatedBank, sri: Billed) -> None:
    assert sim.status(sri.va).response_code == "4042601"
    result = sim.pay_bills(sri.va)
    found = sim.status(sri.va, result.payment_request_id)
    assert found.response_code == "2002600"
    assert data(found)["paymentRequestId"] == result.payment_request_id
    assert data(found)["paidAmount"]["value"] == f"{sri.owed_idr}.00"
    assert sim.status(sri.va).response_code == "2002600"  # the latest
    assert sim.status(sri.va, "NOSUCHFLAG").response_code == "4042601"


def test_statement_is_mt940_the_importer_reads(app: Flask, sim: SimulatedBank, sri: Billed) -> None:
    other = billed_vendor(app, name="Wagiman")
    first = sim.pay_bills(sri.va)
    second = sim.pay_bills(other.va)
    sim.flag(other.va, other.owed_idr, request_id=second.payment_request_id, retry=True)
    text = sim.statement(TODAY)
    parsed = parse_mt940(text.encode(), key_rules=KeyRules())
    assert parsed.format is FileFormat.MT940
    assert len(parsed.lines) == 2 and not parsed.rejected  # the retry moved no money
    assert parsed.closing_balance_idr == sri.owed_idr + other.owed_idr
    by_ref = {line.bank_reference: line for line in parsed.lines}
    for result, vendor in ((first, sri), (second, other)):
        line = by_ref[result.payment_request_id]
        assert line.amount_idr == vendor.owed_idr
        assert any(k.kind is KeyKind.VA_NUMBER and k.value == vendor.va for k in line.keys)
    # The next day opens where this one closed.
    tomorrow = mt940_statement(sim.entries(), day=TODAY + timedelta(days=1))
    assert parse_mt940(tomorrow.encode()).opening_balance_idr == parsed.closing_balance_idr


def test_every_call_is_logged_before_its_answer(
    app: Flask, sim: SimulatedBank, sri: Billed
) -> None:
    sim.pay_bills(sri.va)
    with app.app_context():
        calls = db.session.scalars(sa.select(SnapCall).order_by(SnapCall.id)).all()
        answers = {a.call_id: a for a in db.session.scalars(sa.select(SnapAnswer))}
        assert [c.service for c in calls] == ["73", "24", "25"]
        assert all(c.id in answers for c in calls)
        payment_call = calls[-1]
        assert answers[payment_call.id].payment_id is not None
        assert answers[payment_call.id].answered_at >= payment_call.received_at
        assert clock.now() == payment_call.received_at


def test_nothing_is_allocated_twice(app: Flask, sim: SimulatedBank, sri: Billed) -> None:
    sim.pay_bills(sri.va)
    sim.pay_bills(sri.va)
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.sum(Allocation.amount_idr)))
        assert total == sri.owed_idr


def test_a_flag_for_a_vendor_that_does_not_exist_is_4042512(
    app: Flask, sim: SimulatedBank, sri: Billed
) -> None:
    """A well-formed VA (right check digit) of no vendor: the ledger finds no vendor to lock,
    and the bank is told the VA is not ours; nothing is written but the call and its answer."""
    from payments.snap.numbering import make_customer_no

    nobody = "12345" + make_customer_no(sri.vendor_id + 1000, width=10)
    reply = sim.flag(nobody, 5_000, request_id=sim.new_request_id())
    assert reply.response_code == "4042512"
    assert reply.body["responseMessage"] == "Invalid Bill/Virtual Account [Not Found]"
    assert count(app, Payment) == 0
    assert count(app, SnapAnswer) == count(app, SnapCall)


def test_a_new_flag_commits_the_call_then_the_payment_with_its_answer(
    app: Flask, sim: SimulatedBank, sri: Billed
) -> None:
    """Two commits for a new flag: the raw call first (on record before anything acts on it),
    then the payment and the answer that reports it, together; the vendor is read once."""
    sim.client.token()
    written: list[set[str]] = [set()]
    vendor_reads: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        if words[0] == "INSERT":
            written[-1].add(words[2])
        elif words[0] == "SELECT" and "FROM vendors " in " ".join(words) + " ":
            vendor_reads.append(statement)

    def committed(_conn: Any) -> None:
        written.append(set())

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", executed)
    sa.event.listen(engine, "commit", committed)
    try:
        reply = sim.flag(sri.va, sri.owed_idr, request_id=sim.new_request_id())
    finally:
        sa.event.remove(engine, "before_cursor_execute", executed)
        sa.event.remove(engine, "commit", committed)
    assert reply.response_code == "2002500"
    call, paid, after = written
    assert call == {"snap_calls", "snap_external_ids"}
    assert {"payments", "allocations", "receipts", "snap_answers"} <= paid
    assert after == set()
    assert len(vendor_reads) == 1
    with app.app_context():
        [answer] = db.session.scalars(
            sa.select(SnapAnswer).where(SnapAnswer.response_code == "2002500")
        ).all()
        [payment] = db.session.scalars(sa.select(Payment)).all()
        assert answer.payment_id == payment.id and answer.body == reply.body
