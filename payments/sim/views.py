"""Demo only: "pay via the simulated bank" for the signed-in vendor (POST, CSRF-protected).

Off in production (``SIM_BANK_ENABLED`` is ignored there): the endpoint answers 404.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from payments.sim.demo import pay_via_simulated_bank, sim_enabled
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.money import format_idr
from vendors.services import vendor_for_user, vendor_paid_by

bp = Blueprint("sim", __name__, template_folder="templates")
CODE_RE = re.compile(r"[A-Za-z0-9]{1,25}")  # a dynamic code's reference (QRIS tag 62-05)
SUCCESS_CODE = "2005200"  # SNAP: MPM payment notify accepted


@bp.post("/simulasi/bank/bayar")
@roles_required(Role.VENDOR)
def pay() -> ResponseReturnValue:
    if not sim_enabled():
        abort(404)
    user = current_account()
    raw_vendor = request.form.get("vendor_id", "")
    if raw_vendor:
        # A proxy payer pays for the vendor they help.
        if not (raw_vendor.isascii() and raw_vendor.isdigit() and len(raw_vendor) <= 18):
            abort(400)
        vendor = vendor_paid_by(user, int(raw_vendor))
    else:
        found = vendor_for_user(user.id)
        if found is None:
            abort(404)
        vendor = found
    result = pay_via_simulated_bank(vendor.id)
    last = result.last or result.inquiry
    body = {
        "ok": result.accepted,
        "paid_idr": result.paid_idr,
        "va": result.va_digits,
        "response_code": last.response_code if last else None,
    }
    if request.accept_mimetypes.best == "application/json":
        return jsonify(body), 200 if result.accepted else 409
    if result.accepted:
        flash(
            _("The simulated bank paid %(amount)s.", amount=format_idr(result.paid_idr)), "success"
        )
    else:
        flash(
            _("The simulated bank could not pay: nothing is owed, or the VA was refused."), "error"
        )
    return redirect(url_for("portal.account", vendor_id=vendor.id))


@bp.post("/simulasi/qris/bayar/<reference>")
@roles_required(Role.VENDOR)
def pay_qris(reference: str) -> ResponseReturnValue:
    """Demo only: the simulated acquirer pays one of the vendor's dynamic QRIS codes."""
    from payments.qris.services import get_code
    from payments.sim.qris import demo_acquirer

    if not sim_enabled() or not CODE_RE.fullmatch(reference):
        abort(404)
    code = get_code(reference, current_account())
    if code.expired:
        flash(_("This code has expired. Make a new one from your bills."), "error")
        return redirect(url_for("qris.code_page", reference=code.reference))
    reply = demo_acquirer().pay(code.payload)
    if reply.response_code == SUCCESS_CODE:
        flash(
            _("The simulated acquirer paid %(amount)s.", amount=format_idr(code.amount_idr)),
            "success",
        )
    else:
        flash(
            _("The platform refused the payment (code %(code)s).", code=reply.response_code),
            "error",
        )
    return redirect(url_for("portal.account", vendor_id=code.vendor_id))
