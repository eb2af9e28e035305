"""Reconciliation's demo step: the sample statement and settlement files, imported and run.

The samples (docs/samples) are fictitious and match no demo payment, so the finance pages show a
run, quarantined lines and a queue of exceptions to try the actions on. Idempotent: a file seen
before changes nothing, and a run with nothing new matches nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from reconcile.importing import import_file
from reconcile.runs import latest_run, run_reconciliation

SAMPLES: Final = Path(__file__).resolve().parent.parent / "docs" / "samples"
DEMO_ACQUIRER: Final = "qris-demo"
# (file, format, bank profile, acquirer)
FILES: Final[tuple[tuple[str, str, str | None, str | None], ...]] = (
    ("statement.mt940", "mt940", None, None),
    ("statement-camt053.xml", "camt053", None, None),
    ("qris-settlement.csv", "qris_settlement", None, DEMO_ACQUIRER),
    ("bank-bca.csv", "bank_csv", "bca", None),
)


def demo_step() -> dict[str, Any]:
    imported = []
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
