"""The demo bank: its profile (registered by ``retribusi demo``), its keys and secret on disk,
and the demo-only "pay via the simulated bank" use case.

The simulator keeps what a real bank would keep on its side in the instance folder:
``sim_bank/private_key.pem`` (its RSA key; we hold only the public half in the profile),
``sim_bank/profile.json`` (client id, partner id, company code and the client secret we issued)
and ``sim_bank/journal.jsonl`` (what it paid, for the MT940 statement). Never in production.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, Final

from flask import current_app

from payments.sim.bank import PayResult, SimulatedBank
from payments.sim.client import (
    FlaskTransport,
    HttpTransport,
    PartnerIdentity,
    SnapClient,
    Transport,
    load_or_create_key,
)
from payments.sim.qris import SimBatch
from payments.snap.models import PartnerKind, VaType
from payments.snap.partners import PartnerInput, add_partner, find_by_client_id, rotate_secret
from payments.va.services import va_numbers_for_vendor
from retribusi import clock
from retribusi.errors import Forbidden, NotFound

DEMO_BANK: Final = {
    "code": "JATENG",
    "name": "Bank Jateng (simulasi)",
    "client_id": "bankjateng-sim",
    "company_code": "88810",
    "max_bill_details": 5,
}
STATE_DIR: Final = "sim_bank"
CONFIG_ENABLED: Final = "SIM_BANK_ENABLED"


def sim_enabled() -> bool:
    """Demo mode only: on by default outside production, and never in production."""
    if current_app.config.get("ENV") == "production":
        return False
    return bool(current_app.config.get(CONFIG_ENABLED, True))


def state_dir() -> Path:
    return Path(current_app.instance_path) / STATE_DIR


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def register_demo_bank() -> dict[str, Any]:
    """Create the demo bank profile with the simulator's public key (idempotent). If the
    simulator lost its copy of the secret, a new one is issued and saved."""
    folder = state_dir()
    key = load_or_create_key(folder / "private_key.pem")
    profile_path = folder / "profile.json"
    existing = find_by_client_id(str(DEMO_BANK["client_id"]))
    saved = json.loads(profile_path.read_text()) if profile_path.exists() else None
    if existing is None:
        issued = add_partner(
            PartnerInput(
                code=str(DEMO_BANK["code"]),
                kind=PartnerKind.BANK,
                name=str(DEMO_BANK["name"]),
                client_id=str(DEMO_BANK["client_id"]),
                public_key_pem=PartnerIdentity("", "", key).public_key_pem,
                company_code=str(DEMO_BANK["company_code"]),
                va_type=VaType.CLOSED,
                max_bill_details=int(str(DEMO_BANK["max_bill_details"])),
            ),
            actor="demo",
        )
    elif saved is None or saved.get("client_id") != existing.client_id:
        issued = rotate_secret(existing.code, actor="demo")
    else:
        return {"sim_bank": {"code": existing.code, "profile": str(profile_path)}}
    partner = issued.partner
    _write_private(
        profile_path,
        json.dumps(
            {
                "code": partner.code,
                "client_id": partner.client_id,
                "partner_id": partner.partner_id,
                "company_code": partner.company_code,
                "client_secret": issued.client_secret,
            },
            indent=2,
        ),
    )
    return {"sim_bank": {"code": partner.code, "profile": str(profile_path)}}


def demo_step() -> dict[str, Any]:
    return register_demo_bank()


@dataclass(frozen=True)
class DemoBankState:
    code: str
    client_id: str
    partner_id: str
    company_code: str
    client_secret: str


def load_state(folder: Path | None = None) -> DemoBankState:
    path = (folder or state_dir()) / "profile.json"
    if not path.exists():
        raise NotFound("the simulated bank is not set up: run `retribusi demo` first")
    data = json.loads(path.read_text())
    return DemoBankState(
        code=data["code"],
        client_id=data["client_id"],
        partner_id=data["partner_id"],
        company_code=data["company_code"],
        client_secret=data["client_secret"],
    )


def demo_bank(base_url: str | None = None, *, folder: Path | None = None) -> SimulatedBank:
    """The simulated demo bank, talking over real HTTP to ``base_url``, or in-process through
    the application's test client (the same WSGI stack, signatures and all) when it is None."""
    folder = folder or state_dir()
    state = load_state(folder)
    # The application's clock either way: it is the system's, except where tests move it (and
    # then the server the simulator calls runs on that same clock).
    now = clock.current_clock().now
    transport: Transport = (
        HttpTransport(base_url) if base_url else FlaskTransport(current_app.test_client())
    )
    identity = PartnerIdentity(
        client_id=state.client_id,
        partner_id=state.partner_id,
        private_key=load_or_create_key(folder / "private_key.pem"),
        client_secret=state.client_secret,
    )
    return SimulatedBank(
        client=SnapClient(identity, transport, now=now),
        code=state.code,
        company_code=state.company_code,
        journal_path=folder / "journal.jsonl",
    )


def pay_via_simulated_bank(vendor_id: int) -> PayResult:
    """Demo only: the simulated bank pays everything the vendor owes through their VA."""
    if not sim_enabled():
        raise Forbidden("the simulated bank is switched off")
    state = load_state()
    va = next((n for n in va_numbers_for_vendor(vendor_id) if n.bank_code == state.code), None)
    if va is None:
        raise NotFound("this vendor has no VA at the simulated bank")
    return demo_bank().pay_bills(va.digits)


def credit_settlements(batches: Iterable[SimBatch]) -> None:
    """The simulated bank books the acquirer's transfer of each settlement batch (once per
    batch) at 08:00 WIB of its settlement date; nothing without a simulated bank."""
    try:
        bank = demo_bank()
    except NotFound:
        return
    for batch in batches:
        at = datetime.combine(batch.settlement_date, time(8), clock.JAKARTA)
        bank.credit_transfer(batch.batch_id, batch.net_idr, batch.transfer_details, at=at)


def sim_pay_option(account: Any) -> tuple[str, dict[str, Any]] | None:
    """The vendor's page, demo only: "pay via the simulated bank" (``payments.portal``)."""
    if not sim_enabled() or not account.outstanding_idr:
        return None
    return "sim/_pay_option.html", {}
