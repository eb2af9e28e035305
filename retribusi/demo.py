"""Demo accounts, one per role, with published credentials. Never loaded in production."""

from __future__ import annotations

from typing import Any

from retribusi.auth.models import Role
from retribusi.auth.services import create_user, find_user

DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"role": Role.ADMIN, "username": "admin", "secret": "admin-demo-2026", "name": "Admin Demo"},
    {
        "role": Role.FINANCE,
        "username": "keuangan",
        "secret": "keuangan-demo-2026",
        "name": "Staf Keuangan Demo",
    },
    {
        "role": Role.OFFICER,
        "username": "petugas",
        "secret": "petugas-demo-2026",
        "name": "Petugas Pasar Demo",
        "markets": ("KLEWER", "LEGI", "GEDE"),
    },
    {"role": Role.VENDOR, "phone": "081234567890", "secret": "246810", "name": "Sri Rahayu (Demo)"},
)


def load_accounts() -> list[dict[str, str]]:
    """Create each demo account unless it exists; return how to sign in with each."""
    shown = []
    for spec in DEMO_ACCOUNTS:
        login = spec.get("username") or spec["phone"]
        if find_user(login) is None:
            create_user(
                role=spec["role"],
                full_name=spec["name"],
                secret=spec["secret"],
                username=spec.get("username"),
                phone=spec.get("phone"),
                market_codes=spec.get("markets", ()),
                actor="demo",
            )
        page = "/login/pedagang" if spec["role"] is Role.VENDOR else "/login"
        shown.append(
            {"role": spec["role"].value, "login": login, "secret": spec["secret"], "page": page}
        )
    return shown
