"""The composition root: the one place that knows every blueprint and domain package."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, request, session
from flask_babel import get_locale
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix

from retribusi import clock
from retribusi.api import RetribusiApi
from retribusi.config import load_config
from retribusi.extensions import babel, csrf, db, limiter, login_manager, migrate
from retribusi.money import format_idr
from retribusi.web import BoundedIntConverter

MIGRATIONS_DIR = __file__.rsplit("/", 1)[0] + "/migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    instance = os.environ.get("RETRIBUSI_INSTANCE_PATH")
    app = Flask(
        "retribusi",
        instance_relative_config=True,
        instance_path=os.path.abspath(instance) if instance else None,
    )
    load_config(app, config)
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    if int(app.config["PROXY_HOPS"]):
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.config.setdefault("PUBLIC_ENDPOINTS", frozenset({"api-docs.openapi_json"}))
    app.extensions[clock.EXTENSION_KEY] = clock.SystemClock()
    app.extensions["retribusi.demo_steps"] = []

    register_extensions(app)
    register_blueprints(app)
    register_hooks(app)
    register_commands(app)

    from retribusi.auth.access import check_all_declared

    check_all_declared(app, app.config["PUBLIC_ENDPOINTS"])
    # Every model is imported by now: resolve the relationships here, so a wrong one fails at
    # start-up, not on some request, and no worker's first query pays for it (about 0.2 s).
    configure_mappers()
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    return app


def _select_locale() -> str:
    languages = current_languages()
    chosen = session.get("lang")
    return chosen if chosen in languages else languages[0]


def current_languages() -> tuple[str, ...]:
    from flask import current_app

    return tuple(current_app.config["LANGUAGES"])


# Each unit keeps its own Indonesian catalogue; Flask-Babel merges them.
I18N_UNITS = (
    "retribusi",
    "retribusi/levy",
    "vendors",
    "payments",
    "payments/qris",
    "payments/va",
    "payments/sim",
    "payments/portal",
    "reconcile",
)


def import_models() -> None:
    """Import every package's models so that ``Base.metadata`` knows all tables (migrations)."""
    import payments.models
    import payments.qris.models
    import payments.snap.models  # noqa: F401
    import reconcile.models  # noqa: F401
    import retribusi.audit
    import retribusi.auth.models
    import retribusi.levy.models  # noqa: F401
    import vendors.models  # noqa: F401


def register_extensions(app: Flask) -> None:
    from retribusi.security import init_login

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES",
        ";".join(os.path.join(root, unit, "translations") for unit in I18N_UNITS),
    )
    babel.init_app(app, locale_selector=_select_locale)
    init_login(app, login_manager)
    app.extensions["retribusi.api"] = RetribusiApi(app)
    app.jinja_env.filters["rupiah"] = format_idr
    app.jinja_env.filters["wib"] = clock.format_wib


def register_blueprints(app: Flask) -> None:
    from retribusi.api.kernel import blp as kernel_api
    from retribusi.auth.views import bp as auth_bp
    from retribusi.web import bp as web_bp
    from retribusi.web import register_error_handlers

    app.register_blueprint(web_bp)
    app.register_blueprint(auth_bp)
    api: RetribusiApi = app.extensions["retribusi.api"]
    api.register_blueprint(kernel_api)
    register_error_handlers(app)

    # Domain packages, in the direction imports flow: each registers its blueprints, API, CLI
    # groups and demo steps.
    import payments.setup
    import reconcile.setup
    import retribusi.levy.setup
    import vendors.setup

    vendors.setup.init_app(app)
    retribusi.levy.setup.init_app(app)
    payments.setup.init_app(app)
    reconcile.setup.init_app(app)


def register_hooks(app: Flask) -> None:
    from retribusi.auth.access import enforce
    from retribusi.security import csrf_gate, refuse_nul, security_headers

    app.before_request(refuse_nul)
    app.before_request(csrf_gate)
    app.before_request(enforce)
    app.after_request(security_headers)

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "languages": app.config["LANGUAGES"],
            "request_path": request.path,
            "get_locale": get_locale,
        }


def register_commands(app: Flask) -> None:
    from retribusi.cli import register

    register(app)
