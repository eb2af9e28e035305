"""The SNAP BI biller endpoints for virtual accounts (docs/snap-va.md).

``POST /snap/v1.0/transfer-va/inquiry`` (24), ``…/payment`` (25), ``…/status`` (26): the
SNAP layer authenticates and logs each call; :mod:`payments.va.services` answers it.
"""

from __future__ import annotations

from flask import Blueprint

from payments.snap.codes import Service
from payments.snap.endpoint import SNAP_MOUNT, snap_endpoint, string_field
from payments.snap.models import PartnerKind
from payments.va import services

bp = Blueprint("va_snap", __name__, url_prefix=SNAP_MOUNT)
BANKS = (PartnerKind.BANK,)

bp.post("/v1.0/transfer-va/inquiry")(
    snap_endpoint(Service.VA_INQUIRY, kinds=BANKS)(services.inquiry)
)
# paymentRequestId is the flag's own key: the same flag under a repeated X-EXTERNAL-ID is a
# replay, answered with the first answer, not a 409.
bp.post("/v1.0/transfer-va/payment")(
    snap_endpoint(Service.VA_PAYMENT, kinds=BANKS, request_key=string_field("paymentRequestId"))(
        services.payment
    )
)
bp.post("/v1.0/transfer-va/status")(snap_endpoint(Service.VA_STATUS, kinds=BANKS)(services.status))
