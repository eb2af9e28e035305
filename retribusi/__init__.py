"""e-Retribusi Pasar: the kernel (app factory, config, database, money, clock, audit, auth) and
the levy itself (tariffs, bills, sanctions, arrears)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application (see ``retribusi.app``). Imported lazily, so that pure modules such
    as ``retribusi.money`` can be used without loading Flask and every extension."""
    from retribusi.app import create_app as build

    return build(config)


__all__ = ["create_app"]
