"""Wires the SNAP layer into the application (called from ``payments.setup.init_app``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The partner-secret key, the rate limit, the token endpoint, ``retribusi banks``."""
    from payments.snap.cli import banks_cli
    from payments.snap.endpoint import init_endpoint
    from payments.snap.secrets import init_secret_box
    from payments.snap.views import bp

    init_secret_box(app)
    init_endpoint(app)
    app.register_blueprint(bp)
    app.cli.add_command(banks_cli)
