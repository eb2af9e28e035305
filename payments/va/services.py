"""VA use cases: each vendor's VA numbers, and the biller side of inquiry, payment and status.

**Numbering.** A vendor's ``customerNo`` under a bank is the vendor's id (stable: vendors are
never deleted or renumbered) zero-padded to ``width - 1`` digits plus a Damm check digit
(``payments.snap.numbering``); the ``virtualAccountNo`` is the bank's ``partnerServiceId`` in
front. No table is needed: the number is a pure function of the vendor and the bank profile,
so it exists for every vendor from the moment they are registered and can never disagree with
itself. Looking a VA up is the reverse: check digit, then the vendor by id.

**Payment.** In one database transaction: lock the vendor row (PostgreSQL), look for an earlier
flag with the same ``paymentRequestId`` (a replay answers the first answer, whatever
``flagAdvise`` says), check the amount against what is owed *now* under the VA type (closed:
exactly the total; partial: at most the total; open: anything, the excess becoming credit),
then :func:`payments.ledger.record_payment`, which allocates and receipts and commits. The lock
makes concurrent flags for one vendor take turns, so the amount check and the allocation see
the same bills. On SQLite the payment's first write (claiming its reference) takes the
database's write lock before the bills are read, so there too the check and the allocation of
two concurrent flags cannot interleave (``tests/va/test_concurrency.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from flask import current_app
from sqlalchemy import exists, select

from payments.ledger import PaymentIn, Recorded, find_payment, payment_result, record_payment
from payments.models import Channel, Payment
from payments.snap.calls import first_answer_for_payment
from payments.snap.codes import Case, PaymentFlagStatus, Reason, SnapError
from payments.snap.endpoint import SnapOutcome, SnapRequest, stage_answer
from payments.snap.messages import (
    BillLine,
    FlagAdvise,
    MessageErrorKind,
    PaidBill,
    SnapMessageError,
    SnapResponse,
    build_inquiry_response,
    build_payment_response,
    build_status_response,
    parse_inquiry_request,
    parse_payment_request,
    parse_status_request,
)
from payments.snap.models import Partner, PartnerKind, VaType
from payments.snap.numbering import (
    ReceivedTriple,
    VaErrorKind,
    VaKey,
    VaNumberError,
    make_customer_no,
    make_partner_service_id,
    normalize_va,
)
from payments.snap.partners import PartnerInfo
from retribusi import clock
from retribusi.errors import Conflict, NotFound
from retribusi.extensions import db
from retribusi.levy.billing import OpenBill, open_bills_for_vendor
from retribusi.levy.errors import field_of
from retribusi.levy.models import Bill
from vendors.models import Vendor

#: A payment flag stamped more than this before now is refused: BCA answers status for D and
#: D-1 only, and a far-back date would stop sanctions that did accrue.
MAX_FLAG_AGE: Final = timedelta(days=7)
#: ... or more than this after now (bank clocks drift; ledger.PAYMENT_FUTURE_SKEW_S agrees).
MAX_FLAG_AHEAD: Final = timedelta(minutes=5)
OTHER_BILLS_NO: Final = "LAINNYA"


@dataclass(frozen=True)
class VaNumber:
    """One of a vendor's VAs, as pages, cards and the API show it."""

    bank_code: str
    bank_name: str
    partner_service_id: str  # "   12345"
    customer_no: str  # "0000012340"
    virtual_account_no: str  # "   123450000012340"
    digits: str  # what the payer types: "123450000012340"
    va_type: str


def _number(partner: PartnerInfo, vendor_id: int) -> VaNumber:
    assert partner.company_code is not None
    assert partner.va_type is not None
    customer_no = make_customer_no(vendor_id, width=partner.customer_no_width)
    partner_service_id = make_partner_service_id(partner.company_code)
    return VaNumber(
        bank_code=partner.code,
        bank_name=partner.name,
        partner_service_id=partner_service_id,
        customer_no=customer_no,
        virtual_account_no=partner_service_id + customer_no,
        digits=partner.company_code + customer_no,
        va_type=partner.va_type.value,
    )


def active_banks() -> list[PartnerInfo]:
    rows = db.session.scalars(
        select(Partner)
        .where(Partner.kind == PartnerKind.BANK, Partner.active.is_(True))
        .order_by(Partner.code)
    )
    return [PartnerInfo.of(row) for row in rows]


def va_numbers_for_vendor(vendor_id: int) -> list[VaNumber]:
    """The vendor's VA number at every active bank, in bank-code order.

    For stall cards, the vendor's page and the API. A vendor id too large for a bank's
    customerNo width has no VA there (never the case with the default width of 10).
    """
    numbers = []
    for partner in active_banks():
        try:
            numbers.append(_number(partner, vendor_id))
        except ValueError:
            continue
    return numbers


def va_summary_part(vendor: Vendor) -> dict[str, Any]:
    """``vendors show --json`` and the vendor API: ``va_numbers``."""
    return {"va_numbers": [asdict(n) for n in va_numbers_for_vendor(vendor.id)]}


# ------------------------------------------------------------------------------- look-ups


def locate(partner: PartnerInfo, triple: ReceivedTriple) -> VaKey:
    """The key a received triple names under this bank, whatever padding the bank used; its
    ``sequence`` is the vendor's id, if such a vendor exists."""
    assert partner.company_code is not None
    return normalize_va(triple, company_code=partner.company_code, width=partner.customer_no_width)


def _no_vendor() -> VaNumberError:
    return VaNumberError(VaErrorKind.NOT_OURS, "no vendor with this VA", field="customerNo")


def resolve_vendor(partner: PartnerInfo, triple: ReceivedTriple) -> tuple[VaKey, Vendor]:
    """The vendor a received triple names under this bank, whatever padding the bank used."""
    key = locate(partner, triple)
    vendor = db.session.get(Vendor, key.sequence)
    if vendor is None:
        raise _no_vendor()
    return key, vendor


def _ever_billed(vendor_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(Bill.vendor_id == vendor_id))))


def _nothing_owed(vendor_id: int) -> SnapError:
    if _ever_billed(vendor_id):
        return SnapError(Case.PAID_BILL, None, "every bill of this VA is paid")
    return SnapError(Case.INVALID_BILL, "No Bill", "nothing was ever billed to this VA")


def _bill_line(bill: OpenBill) -> BillLine:
    return BillLine(
        bill_no=str(bill.bill_id),
        amount_idr=bill.outstanding_idr,
        name=f"Retribusi {bill.period}",
        short_name=bill.period,
        description=Reason(f"Stall fee {bill.period}", f"Retribusi {bill.period}"),
    )


def bill_lines(bills: list[OpenBill], max_lines: int) -> list[BillLine]:
    """One line per open bill, oldest first; when the bank shows fewer lines than there are
    bills, the last line sums the rest (the total stays exact)."""
    if len(bills) <= max_lines:
        return [_bill_line(b) for b in bills]
    shown = [_bill_line(b) for b in bills[: max_lines - 1]]
    rest = bills[max_lines - 1 :]
    shown.append(
        BillLine(
            bill_no=OTHER_BILLS_NO,
            amount_idr=sum(b.outstanding_idr for b in rest),
            name=f"{len(rest)} tagihan lain",
            short_name="Lainnya",
            description=Reason(f"{len(rest)} older bills", f"{len(rest)} tagihan lain"),
        )
    )
    return shown


# -------------------------------------------------------------------------------- inquiry


def inquiry(call: SnapRequest) -> SnapOutcome:
    """``transfer-va/inquiry``: the vendor's name, the total owed today, the open bills."""
    request = parse_inquiry_request(call.payload)
    _key, vendor = resolve_vendor(call.partner, request.triple)
    bills = open_bills_for_vendor(vendor.id, clock.business_date(call.received_at))
    open_va = call.partner.va_type is VaType.OPEN
    if not bills and not open_va:
        raise _nothing_owed(vendor.id)
    response = build_inquiry_response(
        request,
        virtual_account_name=vendor.full_name,
        bills=bill_lines(bills, call.partner.max_bill_details),
        max_bill_details=call.partner.max_bill_details,
        allow_empty=open_va,
    )
    db.session.rollback()  # end the read transaction
    return SnapOutcome(response)


# -------------------------------------------------------------------------------- payment


def _paid_at(trx_date_time_at: datetime | None, received_at: datetime) -> datetime:
    if trx_date_time_at is None:
        return received_at
    if not received_at - MAX_FLAG_AGE <= trx_date_time_at <= received_at + MAX_FLAG_AHEAD:
        raise SnapMessageError(
            MessageErrorKind.INVALID_FIELD,
            "trxDateTime is more than 7 days ago or in the future",
            field="trxDateTime",
        )
    return trx_date_time_at


def _check_amount(partner: PartnerInfo, vendor_id: int, paid_idr: int, owed_idr: int) -> None:
    limit = int(current_app.config["PAYMENT_MAX_IDR"])
    if paid_idr > limit:
        raise SnapError(Case.EXCEEDS_AMOUNT_LIMIT, None, f"paid more than Rp{limit:,}")
    if partner.va_type is VaType.OPEN:
        return
    if owed_idr == 0:
        raise _nothing_owed(vendor_id)
    if partner.va_type is VaType.CLOSED and paid_idr != owed_idr:
        raise SnapError(Case.INVALID_AMOUNT, None, f"closed VA: owed {owed_idr}, paid {paid_idr}")
    if paid_idr > owed_idr:
        raise SnapError(Case.INVALID_AMOUNT, None, f"paid {paid_idr} exceeds owed {owed_idr}")


def _paid_bills(recorded: Recorded) -> list[PaidBill]:
    return [
        PaidBill(str(b.bill_id), b.principal_idr + b.sanction_idr, recorded.receipt_number)
        for b in recorded.bills
    ]


def _replay(call: SnapRequest, existing: Payment, paid_idr: int, va_digits: str) -> SnapOutcome:
    """A flag we already recorded: the first answer, unchanged; nothing is written."""
    if existing.amount_idr != paid_idr or existing.va_number != va_digits:
        raise SnapError(
            Case.INCONSISTENT_REQUEST,
            None,
            "paymentRequestId already recorded with another VA or amount",
        )
    first = first_answer_for_payment(db.session, existing.id)
    if first is not None:
        response = SnapResponse(first.http_status, dict(first.body))
        replay_of: int | None = first.call_id
    else:
        # The first call's answer was never stored (the process died after the commit):
        # answer from the payment itself.
        request = parse_payment_request(call.payload)
        vendor = db.session.get(Vendor, existing.vendor_id)
        response = build_payment_response(
            request,
            virtual_account_name=vendor.full_name if vendor else None,
            paid_bills=_paid_bills(payment_result(existing.id)),
        )
        replay_of = None
    db.session.rollback()
    return SnapOutcome(response, "replay", payment_id=existing.id, replay_of=replay_of)


def payment(call: SnapRequest) -> SnapOutcome:
    """``transfer-va/payment``: record the flag once, however often the bank repeats it.

    The vendor is not read here: the ledger locks and reads it (an unknown one is refused
    there, before anything is written), and the answer is staged in the payment's own
    transaction, so a new flag takes two commits (the call, then the payment with its answer).
    """
    request = parse_payment_request(call.payload)
    key = locate(call.partner, request.triple)
    paid_at = _paid_at(request.trx_date_time_at, call.received_at)
    sender = call.partner.code
    ref = request.payment_request_id
    if not call.external_id_fresh or request.flag_advise is FlagAdvise.RETRY:
        # A retry (the same X-EXTERNAL-ID, or the bank's flagAdvise=Y): answer from what was
        # recorded, without taking the vendor's lock. (One that finds nothing, its first flag
        # still in flight, goes to the ledger; without trxDateTime the moment it arrived is no
        # part of its meaning, so it is a quiet replay of that flag there too.)
        existing = find_payment(Channel.VA, sender, ref)
        if existing is not None:
            return _replay(call, existing, request.paid_amount_idr, key.payable_digits)

    def check_owed(owed_idr: int) -> None:
        # Inside the payment's transaction, on the bills it locked: what the VA may take.
        _check_amount(call.partner, key.sequence, request.paid_amount_idr, owed_idr)

    staged: list[SnapOutcome] = []

    def answer(recorded: Recorded) -> None:
        # Inside the payment's transaction: the vendor is the row the ledger locked (no query).
        vendor = db.session.get(Vendor, recorded.vendor_id)
        assert vendor is not None
        response = build_payment_response(
            request,
            virtual_account_name=vendor.full_name,
            paid_bills=_paid_bills(recorded),
        )
        outcome = SnapOutcome(response, "ok", payment_id=recorded.payment_id)
        staged.append(stage_answer(call, outcome))

    incoming = PaymentIn(
        channel=Channel.VA,
        sender=sender,
        external_ref=ref,
        vendor_id=key.sequence,
        amount_idr=request.paid_amount_idr,
        paid_at=paid_at,
        raw={
            "snap_call_id": call.call_id,
            "endpoint_url": call.endpoint_url,
            "external_id": call.headers.external_id,
            "body": call.body.decode("utf-8", "replace"),
        },
        recorded_by=f"snap:{sender}",
        va_number=key.payable_digits,
        paid_at_received=request.trx_date_time_at is None,
        check_owed=check_owed,
        on_recorded=answer,
    )
    try:
        recorded = record_payment(incoming)
    except NotFound as error:
        if field_of(error) == "vendor_id":
            raise _no_vendor() from error
        raise
    except Conflict:
        # A concurrent twin (SQLite) recorded it between our look and our insert.
        db.session.rollback()
        existing = find_payment(Channel.VA, sender, ref)
        if existing is None:
            raise
        return _replay(call, existing, request.paid_amount_idr, key.payable_digits)
    if recorded.replayed:
        existing = db.session.get(Payment, recorded.payment_id)
        assert existing is not None
        return _replay(call, existing, request.paid_amount_idr, key.payable_digits)
    return staged[-1]


# --------------------------------------------------------------------------------- status

_REVERSED: Final = Reason("Payment reversed", "Pembayaran dibatalkan")


def status(call: SnapRequest) -> SnapOutcome:
    """``transfer-va/status``: the flag asked about (by paymentRequestId, else inquiryRequestId,
    else the VA's latest), as we recorded it."""
    request = parse_status_request(call.payload)
    key, vendor = resolve_vendor(call.partner, request.triple)
    wanted = request.payment_request_id or request.inquiry_request_id
    query = select(Payment).where(
        Payment.channel == Channel.VA,
        Payment.sender == call.partner.code,
        Payment.va_number == key.payable_digits,
    )
    if wanted is not None:
        query = query.where(Payment.external_ref == wanted)
    found = db.session.scalars(query.order_by(Payment.paid_at.desc(), Payment.id.desc())).first()
    if found is None:
        raise SnapError(Case.TRANSACTION_NOT_FOUND, None, "no such payment flag")
    reversed_ = found.reversal is not None
    response = build_status_response(
        request,
        payment_request_id=found.external_ref,
        paid_amount_idr=found.amount_idr,
        transaction_at=clock.to_wib(found.paid_at),
        flag_status=PaymentFlagStatus.REJECTED if reversed_ else PaymentFlagStatus.SUCCESS,
        reason=_REVERSED if reversed_ else None,
        virtual_account_name=vendor.full_name,
    )
    db.session.rollback()
    return SnapOutcome(response, "reversed" if reversed_ else "ok", payment_id=found.id)


def va_pay_option(account: Any) -> tuple[str, dict[str, Any]] | None:
    """The vendor's page: their VA numbers with the steps to pay them (``payments.portal``)."""
    numbers = va_numbers_for_vendor(account.vendor.id)
    if not numbers:
        return None
    return "va/_pay_option.html", {"numbers": numbers}
