"""Wires the payment core into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask

from vendors.services import register_summary_part


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
    from payments.ledger import init_ledger, payments_summary_part
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
    _links(app)
    register_summary_part(app, payments_summary_part)
    # After the channels: their demo steps (bank and acquirer profiles) run before the payments.
    app.extensions["retribusi.demo_steps"].append(demo_step)


def _links(app: Flask) -> None:
    """Each door's task list: the pages of this package and its channels."""
    from payments.portal.setup import ADMIN_LINKS, FINANCE_LINKS, OFFICER_LINKS, RECEIPT_LINKS
    from vendors.services import VENDOR_ACTIONS

    links = app.extensions
    links[OFFICER_LINKS] += [
        "payments/links/officer_cash.html",
        "payments/links/officer_deposit.html",
        "qris/links/officer_cards.html",
    ]
    links[FINANCE_LINKS] += [
        "payments/links/finance_payments.html",
        "payments/links/finance_deposits.html",
        "payments/links/finance_payments_export.html",
        "payments/links/finance_deposits_export.html",
    ]
    links[ADMIN_LINKS].append("va/links/admin_partners.html")
    links[RECEIPT_LINKS].append("payments/links/receipt.html")
    links.setdefault(VENDOR_ACTIONS, []).append("payments/links/vendor_cash.html")
