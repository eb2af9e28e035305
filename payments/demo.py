"""Demo payments (filled in below)."""

from __future__ import annotations

from typing import Any


def demo_step() -> dict[str, Any]:
    return {"payments": {}}
