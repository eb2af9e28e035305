"""Wires the QRIS channel into the application (called by ``payments.setup.init_app``)."""

from __future__ import annotations

from flask import Flask

# Templates shown under a dynamic code (the demo's "pay with the simulated acquirer").
CODE_EXTRAS = "qris.code_extras"


def init_app(app: Flask) -> None:
    """Check the QRIS configuration (a bad value stops the start), register pages, CLI, demo."""
    from payments.portal.setup import ADMIN_NOTICES, add_pay_option
    from payments.qris.api import blp as api_blp
    from payments.qris.cli import qris_cli
    from payments.qris.config import init_config
    from payments.qris.demo import demo_step
    from payments.qris.services import qris_pay_option
    from payments.qris.snap import bp as snap_bp
    from payments.qris.views import bp

    init_config(app)
    app.register_blueprint(bp)
    app.register_blueprint(snap_bp)
    app.extensions["retribusi.api"].register_blueprint(api_blp)
    app.cli.add_command(qris_cli)
    app.extensions["retribusi.demo_steps"].append(demo_step)
    app.extensions.setdefault(CODE_EXTRAS, [])
    add_pay_option(app, qris_pay_option)
    app.extensions[ADMIN_NOTICES].append(admin_notices)
    _register_simulator(app)


def admin_notices() -> list[str]:
    """What the administrator must know: QRIS off (production without a merchant), or the demo
    merchant, whose codes no acquirer pays out."""
    from flask_babel import gettext as _

    from payments.qris.config import settings

    config = settings()
    if not config.enabled:
        return [
            _(
                "QRIS is switched off: RETRIBUSI_QRIS_MERCHANTS is not set, so vendors cannot"
                " pay by QRIS."
            )
        ]
    if config.demo:
        return [
            _(
                "QRIS uses the demo merchant, which no acquirer pays out. Set"
                " RETRIBUSI_QRIS_MERCHANTS before vendors pay real money."
            )
        ]
    return []


def _register_simulator(app: Flask) -> None:
    """``retribusi sim qris …`` under the bank simulator's ``sim`` group when there is one,
    else under a ``sim`` group of its own; the demo acquirer profile in ``retribusi demo``."""
    import click

    from payments.sim.qris import demo_step as sim_demo_step
    from payments.sim.qris_cli import sim_qris_cli

    group = app.cli.commands.get("sim")
    if not isinstance(group, click.Group):
        group = click.Group("sim", help="Simulated partners (demo and tests only).")
        app.cli.add_command(group)
    group.add_command(sim_qris_cli)
    app.extensions["retribusi.demo_steps"].append(sim_demo_step)
