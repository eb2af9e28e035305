"""Wires the bank simulator in (demo mode only; see ``payments.sim.demo.sim_enabled``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """``retribusi sim``, the demo bank profile in ``retribusi demo``, the demo pay button."""
    from payments.portal.setup import add_pay_option
    from payments.qris.setup import CODE_EXTRAS
    from payments.sim.cli import sim_cli
    from payments.sim.demo import demo_step, sim_pay_option
    from payments.sim.views import bp

    app.config.setdefault("SIM_BANK_ENABLED", app.config.get("ENV") != "production")
    app.cli.add_command(sim_cli)
    app.register_blueprint(bp)
    app.extensions["retribusi.demo_steps"].append(demo_step)
    add_pay_option(app, sim_pay_option)
    app.extensions.setdefault(CODE_EXTRAS, []).append("sim/_qris_code_extra.html")
