"""Demo only: "pay via the simulated bank" for the signed-in vendor (POST, CSRF-protected).

Off in production (``SIM_BANK_ENABLED`` is ignored there): the endpoint answers 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from payments.sim.demo import pay_via_simulated_bank, sim_enabled
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.money import format_idr
from vendors.services import vendor_for_user

bp = Blueprint("sim", __name__)


@bp.post("/simulasi/bank/bayar")
@roles_required(Role.VENDOR)
def pay() -> ResponseReturnValue:
    if not sim_enabled():
        abort(404)
    vendor = vendor_for_user(current_account().id)
    if vendor is None:
        abort(404)
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
    return redirect(url_for("web.home"))
