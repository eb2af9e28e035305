"""e-Retribusi Pasar: the kernel (app factory, config, database, money, clock, audit, auth) and
the levy itself (tariffs, bills, sanctions, arrears)."""

from retribusi.app import create_app

__all__ = ["create_app"]
