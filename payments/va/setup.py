"""Wires the VA channel into the application (called from ``payments.setup.init_app``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The SNAP VA endpoints, the bank admin pages, VA numbers in the vendor summary."""
    from payments.portal.setup import add_pay_option
    from payments.va.admin import bp as admin_bp
    from payments.va.services import va_pay_option, va_summary_part
    from payments.va.views import bp
    from vendors.services import register_summary_part

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    register_summary_part(app, va_summary_part)
    add_pay_option(app, va_pay_option)
