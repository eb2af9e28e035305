"""Wires the vendor registry into the application (called by ``create_app``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from retribusi.auth.services import MARKET_CHOICES
from retribusi.config import apply_defaults
from retribusi.extensions import db
from vendors.importer import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS
from vendors.placements import DEFAULT_VACANCY_MONTHS

DEFAULTS = {
    # Bounds on an import: the largest file and the most rows one import may carry.
    "VENDORS_IMPORT_MAX_BYTES": DEFAULT_MAX_BYTES,
    "VENDORS_IMPORT_MAX_ROWS": DEFAULT_MAX_ROWS,
    # Months a place must stand unused before its SHP may be revoked for vacancy (Pasar Legi: 2).
    "VENDORS_VACANCY_MONTHS": DEFAULT_VACANCY_MONTHS,
    # Size of the demo population (retribusi demo).
    "VENDORS_DEMO_VENDORS": 5000,
}


def market_choices() -> dict[str, str]:
    """The markets an officer may be scoped to, for the administrator's account pages."""
    from vendors.models import Market

    rows = db.session.execute(select(Market.code, Market.name).order_by(Market.code))
    return {str(code): str(name) for code, name in rows.all()}


def init_app(app: Flask) -> None:
    """Register the registry's blueprints, API, CLI commands, demo step and market choices."""
    from vendors.api import blp as api_blp
    from vendors.cli import vendors_cli
    from vendors.demo import demo_step
    from vendors.views import bp

    apply_defaults(app, DEFAULTS)
    app.register_blueprint(bp)
    app.extensions["retribusi.api"].register_blueprint(api_blp)
    app.cli.add_command(vendors_cli)
    app.extensions["retribusi.demo_steps"].append(demo_step)
    app.extensions[MARKET_CHOICES] = market_choices
