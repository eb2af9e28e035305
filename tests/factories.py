"""Test data made through the real services, so tests exercise the same rules as production."""

from __future__ import annotations

import itertools
from typing import Any

from retribusi.auth.models import Role, User
from retribusi.auth.services import create_user

_seq = itertools.count(1)


def make_user(role: Role, *, secret: str, **kwargs: Any) -> User:
    n = next(_seq)
    if role is Role.VENDOR:
        kwargs.setdefault("phone", f"0812{n:08d}")
    else:
        kwargs.setdefault("username", f"{role.value}{n}")
    if role is Role.OFFICER:
        kwargs.setdefault("market_codes", ("KLEWER",))
    kwargs.setdefault("full_name", f"Test {role.value.title()} {n}")
    return create_user(role=role, secret=secret, **kwargs)
