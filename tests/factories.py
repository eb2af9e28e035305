"""Test data made through the real services, so tests exercise the same rules as production."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from retribusi.auth.models import Role, User
from retribusi.auth.services import create_user
from retribusi.extensions import db

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


def run_together(app: Flask, work: list[Callable[[], Any]]) -> list[Any]:
    """Run each callable in its own thread and app context (its own session), all at once; each
    result is what the callable returned or the exception it raised."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[index] = work[index]()
            except Exception as error:  # the outcome under test
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
