"""Reconciliation's demo step: a simulated day, and the sample files, imported and run.

The simulated day: the simulated bank pays a few vendors' bills by VA and the simulated acquirer
a few by QRIS, over the real SNAP endpoints; the acquirer settles the day's batches into the
city's account; the bank's MT940 of the day and the acquirer's settlement report are imported
and every line of them is matched. The samples (docs/samples) are fictitious and match no demo
payment, so the finance pages also show quarantined lines and a queue of exceptions to try the
actions on. Idempotent: the simulated day happens once (the bank's journal remembers it), a file
seen before changes nothing, and a run with nothing new matches nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from reconcile.importing import import_file
from reconcile.runs import latest_run, run_reconciliation
from retribusi import clock
from retribusi.extensions import db
from retribusi.levy.billing import open_bills_for_vendor
from retribusi.levy.models import Bill, BillStatus
from vendors.models import Vendor

SAMPLES: Final = Path(__file__).resolve().parent.parent / "docs" / "samples"
DEMO_ACQUIRER: Final = "qris-demo"
#: How many vendors the simulated day's bank pays by VA, and its acquirer by QRIS.
SIM_DAY_VA: Final = 4
SIM_DAY_QRIS: Final = 3
# (file, format, bank profile, acquirer)
FILES: Final[tuple[tuple[str, str, str | None, str | None], ...]] = (
    ("statement.mt940", "mt940", None, None),
    ("statement-camt053.xml", "camt053", None, None),
    ("qris-settlement.csv", "qris_settlement", None, DEMO_ACQUIRER),
    ("bank-bca.csv", "bank_csv", "bca", None),
)


def demo_step() -> dict[str, Any]:
    imported = simulated_day()
    for name, fmt, profile, acquirer in FILES:
        path = SAMPLES / name
        if not path.is_file():  # an installed package without the docs folder
            continue
        summary = import_file(
            path.read_bytes(),
            fmt,
            actor="demo",
            file_name=name,
            profile=profile,
            acquirer_id=acquirer,
        )
        imported.append({"file": name, "new": summary.lines_new, "seen": summary.seen_before})
    if not imported or (all(i["seen"] for i in imported) and latest_run() is not None):
        return {"reconcile": {"imported": imported}}  # nothing new: no run, nothing written
    run = run_reconciliation(actor="demo")
    return {
        "reconcile": {
            "imported": imported,
            "run_id": run.run_id,
            "matched": run.matched_count,
            "exceptions": run.exceptions,
        }
    }


def simulated_day() -> list[dict[str, Any]]:
    """Today, simulated (once): VA and QRIS payments through the simulators, the day's MT940 and
    settlement report imported. Nothing without the simulators (production) or without bills."""
    from payments.qris.services import dynamic_code_for
    from payments.sim.demo import demo_bank, pay_via_simulated_bank
    from payments.sim.demo import sim_enabled as bank_enabled
    from payments.sim.qris import DEMO_ACQUIRER as SIM_ACQUIRER
    from payments.sim.qris import demo_acquirer, settlement_batches, settlement_csv

    if not bank_enabled():
        return []
    bank = demo_bank()
    if bank.entries():
        return []  # the day was simulated before
    today = clock.today_wib()
    vendors = list(
        db.session.scalars(
            select(Bill.vendor_id)
            .join(Vendor, Vendor.id == Bill.vendor_id)
            # Not a vendor who signs in (the demo's own): their bills stay to pay on their page.
            .where(Bill.status == BillStatus.ISSUED, Vendor.user_id.is_(None))
            .group_by(Bill.vendor_id)
            .order_by(Bill.vendor_id)
            .limit(SIM_DAY_VA + SIM_DAY_QRIS)
        )
    )
    if not vendors:
        return []
    for vendor_id in vendors[:SIM_DAY_VA]:
        pay_via_simulated_bank(vendor_id)
    acquirer = demo_acquirer()
    for vendor_id in vendors[SIM_DAY_VA:]:
        oldest = open_bills_for_vendor(vendor_id, today)[:1]
        if oldest:
            acquirer.pay(dynamic_code_for(vendor_id, [oldest[0].bill_id], actor="demo").payload)
    # A same-day settlement, so the demo's one day holds the whole round trip.
    batches = settlement_batches(
        acquirer.journal.payments(),
        settlement_date=today,
        business_date=today,
        acquirer_code=str(SIM_ACQUIRER["code"]),
    )
    bank = demo_bank()  # the journal as the payments left it
    for batch in batches:  # the acquirer pays each batch in at once
        bank.credit_transfer(batch.batch_id, batch.net_idr, batch.transfer_details)
    files = (
        (f"sim-settlement-{today}.csv", settlement_csv(batches), "qris_settlement"),
        (f"sim-statement-{today}.mt940", bank.statement(today).encode(), "mt940"),
    )
    imported = []
    for name, data, fmt in files:
        acquirer_id = str(SIM_ACQUIRER["code"]) if fmt == "qris_settlement" else None
        summary = import_file(data, fmt, actor="demo", file_name=name, acquirer_id=acquirer_id)
        imported.append({"file": name, "new": summary.lines_new, "seen": summary.seen_before})
    return imported
