"""Wires the QRIS channel into the application (called by ``payments.setup.init_app``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Check the QRIS configuration (a bad value stops the start), register pages, CLI, demo."""
    from payments.qris.cli import qris_cli
    from payments.qris.config import init_config
    from payments.qris.demo import demo_step
    from payments.qris.snap import bp as snap_bp
    from payments.qris.views import bp

    init_config(app)
    app.register_blueprint(bp)
    app.register_blueprint(snap_bp)
    app.cli.add_command(qris_cli)
    app.extensions["retribusi.demo_steps"].append(demo_step)
