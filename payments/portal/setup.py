"""Wires the front doors: the vendor's and the officer's pages, and where "/" takes them.

Channels add to the vendor's page without the portal knowing them: each appends to
``app.extensions[PAY_OPTIONS]`` a function of the vendor's account that returns ``(template,
data)`` or ``None`` (the template is shown under the bills with ``account`` and ``data``),
and a template name to ``RECEIPT_LINKS`` (beside each receipt in the history, with ``entry``),
``OFFICER_LINKS``, ``FINANCE_LINKS`` or ``ADMIN_LINKS`` (the task lists of those doors), and
to ``ADMIN_NOTICES`` a function returning what the administrator must know about the
configuration (a channel switched off, a demo setting), shown at the top of their door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from retribusi.auth.models import Role
from retribusi.web import FRONT_DOORS

PAY_OPTIONS = "portal.pay_options"
RECEIPT_LINKS = "portal.receipt_links"
OFFICER_LINKS = "portal.officer_links"
FINANCE_LINKS = "portal.finance_links"
ADMIN_LINKS = "portal.admin_links"
ADMIN_NOTICES = "portal.admin_notices"


# An administrator's notice: () -> the warnings that apply now (translated text), or [].
AdminNotice = Callable[[], list[str]]

# A pay option: the vendor's account -> (template, data), or None when it does not apply.
PayOption = Callable[[Any], tuple[str, dict[str, Any]] | None]


def add_pay_option(app: Flask, option: PayOption) -> None:
    app.extensions.setdefault(PAY_OPTIONS, []).append(option)


def init_portal(app: Flask) -> None:
    from payments.portal.views import bp

    for key in (
        PAY_OPTIONS,
        RECEIPT_LINKS,
        OFFICER_LINKS,
        FINANCE_LINKS,
        ADMIN_LINKS,
        ADMIN_NOTICES,
    ):
        app.extensions.setdefault(key, [])
    doors = app.extensions.setdefault(FRONT_DOORS, {})
    doors[Role.VENDOR] = "portal.mine"
    doors[Role.OFFICER] = "portal.officer"
    doors[Role.FINANCE] = "portal.finance"
    doors[Role.ADMIN] = "portal.admin"
    app.register_blueprint(bp)
