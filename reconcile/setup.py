"""Wires reconciliation into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask

from retribusi.config import apply_defaults


def init_app(app: Flask) -> None:
    """Configuration (checked now: a bad rule stops the start), pages, API, CLI."""
    from payments.portal.setup import FINANCE_LINKS
    from reconcile.api import blp
    from reconcile.cli import reconcile_cli
    from reconcile.config import DEFAULTS, rules_from_config
    from reconcile.demo import demo_step
    from reconcile.views import bp

    apply_defaults(app, DEFAULTS)
    rules_from_config(app.config)
    app.register_blueprint(bp)
    app.extensions["retribusi.api"].register_blueprint(blp)
    app.cli.add_command(reconcile_cli)
    app.extensions["retribusi.demo_steps"].append(demo_step)
    app.extensions[FINANCE_LINKS].append("reconcile/links/finance.html")
