"""Wires the payment core into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The ledger the levy reads, the receipt key, the front doors, the CLI commands, and the
    channels: the SNAP layer, virtual accounts, the bank simulator, QRIS."""
    import payments.qris.setup
    import payments.sim.setup
    import payments.snap.setup
    import payments.va.setup
    from payments.cli import ledger_cli
    from payments.ledger import init_ledger
    from payments.portal.setup import init_portal
    from payments.receipts import init_receipts

    init_ledger(app)
    init_receipts(app)
    init_portal(app)
    app.cli.add_command(ledger_cli)
    payments.snap.setup.init_app(app)
    payments.va.setup.init_app(app)
    # The bank simulator's `sim` group before QRIS, which adds `sim qris` to it.
    payments.sim.setup.init_app(app)
    payments.qris.setup.init_app(app)
