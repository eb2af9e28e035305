"""The QRIS demo step: every demo stall's static code, built and checked (not stored).

Static codes are computed when a card or an image is asked for, so 8 000 stalls cost no storage;
the step builds each one once to prove it decodes without an error, and reports the count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from payments.qris.builder import build_static
from payments.qris.codec import decode
from payments.qris.config import settings
from payments.qris.services import stall_label
from retribusi.extensions import db
from vendors.models import Stall


def demo_step() -> dict[str, Any]:
    config = settings()
    summary: dict[str, Any] = {"enabled": config.enabled, "demo_merchant": config.demo}
    if not config.enabled:
        return {"qris": summary}
    stalls = db.session.scalars(
        select(Stall).options(selectinload(Stall.market), selectinload(Stall.block))
    )
    count = 0
    broken: list[str] = []
    for stall in stalls:
        _key, identity = config.merchant_for(stall.market.code)
        payload = build_static(identity, stall_reference=stall_label(stall))
        if not decode(payload).valid:  # pragma: no cover - the builder's output is always valid
            broken.append(stall.reference)
        count += 1
    summary["stalls_with_static_code"] = count
    summary["broken"] = broken[:10]
    return {"qris": summary}
