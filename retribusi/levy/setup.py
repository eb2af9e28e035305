"""Wires the levy into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask

from retribusi.config import apply_defaults
from retribusi.levy.config import DEFAULTS, settings


def init_app(app: Flask) -> None:
    """Register the levy's configuration, blueprints, API, CLI commands and demo step."""
    from retribusi.levy.api import blp
    from retribusi.levy.billing import vendor_levy_summary
    from retribusi.levy.cli import billing_cli, reliefs_cli, tariffs_cli
    from retribusi.levy.demo import demo_step
    from retribusi.levy.views import bp
    from vendors.services import register_summary_part

    apply_defaults(app, DEFAULTS)
    settings(app.config)  # a bad rule stops the start, not the first billing run
    app.register_blueprint(bp)
    app.extensions["retribusi.api"].register_blueprint(blp)
    app.cli.add_command(billing_cli)
    app.cli.add_command(tariffs_cli)
    app.cli.add_command(reliefs_cli)
    app.extensions["retribusi.demo_steps"].append(demo_step)
    register_summary_part(app, vendor_levy_summary)  # `vendors show` and the vendor API
