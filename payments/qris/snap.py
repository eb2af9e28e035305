"""``POST /snap/v1.0/qr/qr-mpm-notify`` (SNAP service 52): an acquirer reports a QRIS payment.

The SNAP layer (``payments.snap.endpoint``) does everything before the handler: headers, the
acquirer's profile (``kind = qris_acquirer``), the timestamp window, the B2B token and HMAC-SHA512
(symmetric profiles) or SHA256withRSA (asymmetric profiles) over the body as received, the raw
call log and the X-EXTERNAL-ID claim. The handler reads the body, records the payment through
``payments.qris.notify`` and answers ``2005200``; a refusal is a :class:`NotifyError` carrying
its SNAP case. ``originalReferenceNo`` is the message's own key: the same notification sent
again under the same X-EXTERNAL-ID is a replay, not a ``409``.
"""

from __future__ import annotations

from flask import Blueprint

from payments.qris.notify import apply_notification, parse_notification, success_body
from payments.snap.calls import first_answer_for_payment
from payments.snap.codes import Service
from payments.snap.endpoint import (
    SNAP_MOUNT,
    SnapOutcome,
    SnapRequest,
    snap_endpoint,
    string_field,
)
from payments.snap.messages import SnapResponse
from payments.snap.models import PartnerKind, SignatureMode
from retribusi.extensions import db

bp = Blueprint("qris_snap", __name__, url_prefix=SNAP_MOUNT)

NOTIFY_PATH = "/v1.0/qr/qr-mpm-notify"


def qr_mpm_notify(call: SnapRequest) -> SnapOutcome:
    """Record the QRIS payment a signed notification reports, once."""
    notification = parse_notification(call.payload)
    raw = {
        "snap_call_id": call.call_id,
        "x_external_id": call.headers.external_id,
        "body": call.body.decode("utf-8", "replace"),
    }
    result = apply_notification(call.partner.code, notification, raw=raw)
    recorded = result.recorded
    replay_of = None
    if recorded.replayed:
        first = first_answer_for_payment(db.session, recorded.payment_id)
        replay_of = None if first is None else first.call_id
    return SnapOutcome(
        SnapResponse(200, success_body(result)),
        outcome="replay" if recorded.replayed else "ok",
        payment_id=recorded.payment_id,
        replay_of=replay_of,
    )


bp.post(NOTIFY_PATH)(
    snap_endpoint(
        Service.QR_MPM_NOTIFY,
        kinds={PartnerKind.QRIS_ACQUIRER},
        modes={SignatureMode.SYMMETRIC, SignatureMode.ASYMMETRIC},
        request_key=string_field("originalReferenceNo"),
    )(qr_mpm_notify)
)
