"""Wires the payment core into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The ledger the levy reads, the receipt key, officer cash and deposits, the pages, the API,
    the front doors, the CLI commands, the demo step, and the channels: the SNAP layer, virtual
    accounts, the bank simulator, QRIS."""
    import payments.qris.setup
    import payments.sim.setup
    import payments.snap.setup
    import payments.va.setup
    from payments.api import blp
    from payments.cash import init_cash
    from payments.cli import ledger_cli
    from payments.demo import demo_step
    from payments.deposits import init_deposits
    from payments.ledger import init_ledger
    from payments.portal.setup import init_portal
    from payments.receipts import init_receipts
    from payments.views import bp

    init_ledger(app)
    init_receipts(app)
    init_cash(app)
    init_deposits(app)
    app.register_blueprint(bp)
    app.extensions["retribusi.api"].register_blueprint(blp)
    app.cli.add_command(ledger_cli)
    init_portal(app)
    payments.snap.setup.init_app(app)
    payments.va.setup.init_app(app)
    # The bank simulator's `sim` group before QRIS, which adds `sim qris` to it.
    payments.sim.setup.init_app(app)
    payments.qris.setup.init_app(app)
    # After the channels: their demo steps (bank and acquirer profiles) run before the payments.
    app.extensions["retribusi.demo_steps"].append(demo_step)
