"""The levy's demo step: illustrative tariffs, bills for recent months, an outage, the letters due.

It runs after the registry's step. With no placements loaded it only loads the tariffs. Every
part is idempotent: tariffs load once, a billing run bills only what is new, the outage is
recorded once, notices are issued once per bill and kind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from retribusi import clock
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from retribusi.levy.models import Outage
from retribusi.levy.notices import issue_notices
from retribusi.levy.reliefs import add_outage
from retribusi.levy.rules import Period
from retribusi.levy.tariffs import load_illustrative_tariffs
from vendors.models import Market, Placement

DEMO_MONTHS = 4  # the current month and the three before it
DEMO_OUTAGE_MARKET = "KLEWER"
DEMO_OUTAGE_REFERENCE = "DEMO: mesin tapping rusak, kesepakatan HPPK-Disdag"


def _demo_outage(first_month: Period) -> int:
    """The 2017 Klewer story in miniature: two weeks of broken machines, no sanction meanwhile."""
    exists = db.session.scalar(select(Outage.id).where(Outage.reference == DEMO_OUTAGE_REFERENCE))
    market = db.session.scalar(select(Market.id).where(Market.code == DEMO_OUTAGE_MARKET))
    if exists is not None or market is None:
        return 0
    start = first_month.first_day + timedelta(days=12)
    add_outage(
        market_code=DEMO_OUTAGE_MARKET,
        channel="card",
        started_on=start,
        ended_on=start + timedelta(days=13),
        reference=DEMO_OUTAGE_REFERENCE,
        actor="demo",
    )
    return 1


def demo_step() -> dict[str, Any]:
    tariffs = load_illustrative_tariffs(actor="demo")
    placements = db.session.scalar(select(func.count()).select_from(Placement)) or 0
    summary: dict[str, Any] = {"tariffs_added": tariffs, "bills": 0, "principal_idr": 0}
    if not placements:
        return {"levy": summary}
    today = clock.today_wib()
    periods = [Period.of(today)]
    while len(periods) < DEMO_MONTHS:
        periods.insert(0, periods[0].previous())
    summary["outages_added"] = _demo_outage(periods[0])
    for period in periods:
        run = issue_bills(period.label, actor="demo", issued_on=period.first_day)
        summary["bills"] += run.bills
        summary["principal_idr"] += run.principal_idr
    summary["notices"] = issue_notices(actor="demo").to_dict()["total"]
    return {"levy": summary}
