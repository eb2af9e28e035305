"""The bank simulator as a QRIS acquirer: pays codes with signed notifications, settles the day.

What a real acquirer does, as far as this platform can see it:

1. a payer's app scans one of our codes; the acquirer reads the payload (tag 54 amount, 62-05
   reference of a dynamic code, 62-07 label of a static stall code) and takes the money;
2. it calls ``POST /snap/v1.0/qr/qr-mpm-notify`` with a SNAP-signed body (symmetric HMAC-SHA512
   with its B2B token, or asymmetric SHA256withRSA), and calls again when it gets no answer;
3. the next day it settles: one credit per batch to the Dinas account, and a settlement report
   listing each transaction and each batch with its fee (MDR; 0 % for government levies).

:func:`notification_for` is step 1-2's body, :func:`signed_headers` its headers, and
:func:`settlement_csv` step 3's report in the layout ``reconcile.formats.qris_settlement``
reads (docs/import-formats.md "QRIS settlement"). The acquirer keeps its own record of what it
paid (:class:`SimJournal`, one JSON line per payment), so the report is independent of what the
platform recorded, which is what reconciliation needs to find a difference.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app

from payments.qris.codec import decode
from payments.sim.client import (
    FlaskTransport,
    HttpTransport,
    PartnerIdentity,
    SnapClient,
    load_or_create_key,
)
from payments.snap.models import PartnerKind
from payments.snap.partners import PartnerInput, add_partner, find_by_client_id, rotate_secret
from payments.snap.signature import format_snap_timestamp, sign_asymmetric, sign_symmetric
from retribusi import clock
from retribusi.errors import Forbidden

NOTIFY_PATH: Final = "/snap/v1.0/qr/qr-mpm-notify"
#: The settlement CSV header, exactly as ``reconcile.formats.qris_settlement.COLUMNS``.
SETTLEMENT_COLUMNS: Final = (
    "record_type",
    "batch_id",
    "settlement_date",
    "nmid",
    "rrn",
    "reference_label",
    "bill_number",
    "transaction_time",
    "gross",
    "fee",
    "net",
    "transaction_count",
)
#: MDR for government levies (P2G payments: 0 % per Bank Indonesia; qris.md §2.7).
DEFAULT_MDR_PCT: Final = Decimal("0")
#: Transactions per settlement batch; a real acquirer batches per merchant and cut-off.
DEFAULT_BATCH_SIZE: Final = 500
_MAX_MDR_PCT: Final = Decimal("5")


class SimError(ValueError):
    """A payload the simulated acquirer would not accept (its app would refuse to pay it)."""


class SignMode(StrEnum):
    SYMMETRIC = "symmetric"  # HMAC-SHA512 with the client secret and a B2B token
    ASYMMETRIC = "asymmetric"  # SHA256withRSA with the acquirer's private key, no token


@dataclass(frozen=True)
class SimPayment:
    """One payment the simulated acquirer made (a line of its journal)."""

    rrn: str  # the acquirer's reference: originalReferenceNo, the RRN of the report
    nmid: str
    amount_idr: int
    paid_at: str  # ISO 8601 with offset (WIB)
    reference_label: str  # 62-05 of a dynamic code, "" for a static one
    bill_number: str  # 62-01 of a dynamic code, "" for a static one
    store_label: str  # 62-07 of a static code, "" for a dynamic one


def new_rrn(paid_at: datetime) -> str:
    """An acquirer reference: date, time and random digits (unique per acquirer)."""
    return f"{paid_at:%y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


def payment_for(
    payload: str, *, paid_at: datetime, amount_idr: int | None = None, rrn: str | None = None
) -> SimPayment:
    """What paying ``payload`` means: the acquirer reads the code as any payer's app does.

    A dynamic code is paid for its own amount (``amount_idr`` may force another, to test the
    platform's refusal); a static code needs the amount the payer typed.
    """
    decoded = decode(payload)
    if not decoded.valid:
        codes = ", ".join(str(i.code) for i in decoded.errors)
        raise SimError(f"the payer's app refuses this code: {codes}")
    nmid = decoded.value("51.02") or ""
    if decoded.value("01") == "12":
        amount = amount_idr if amount_idr is not None else decoded.amount_idr
        reference = decoded.value("62.05") or ""
        bill = decoded.value("62.01") or ""
        store = ""
    else:
        amount = amount_idr
        reference = bill = ""
        store = decoded.value("62.07") or ""
    if amount is None or amount <= 0:
        raise SimError("a static code needs the amount the payer types (amount_idr)")
    if paid_at.tzinfo is None:
        raise SimError("paid_at needs a time zone")
    return SimPayment(
        rrn=rrn or new_rrn(paid_at),
        nmid=nmid,
        amount_idr=amount,
        paid_at=paid_at.isoformat(timespec="seconds"),
        reference_label=reference,
        bill_number=bill,
        store_label=store,
    )


def notification_for(payment: SimPayment, *, status: str = "00") -> dict[str, Any]:
    """The SNAP notify body for a payment (ASPI MPM service 52)."""
    body: dict[str, Any] = {
        "originalReferenceNo": payment.rrn,
        "latestTransactionStatus": status,
        "transactionStatusDesc": "success" if status == "00" else "not success",
        "amount": {"value": f"{payment.amount_idr}.00", "currency": "IDR"},
        "additionalInfo": {"paidTime": payment.paid_at, "nmid": payment.nmid},
    }
    if payment.reference_label:
        body["originalPartnerReferenceNo"] = payment.reference_label
    if payment.store_label:
        body["externalStoreId"] = payment.store_label
    return body


def body_bytes(body: Mapping[str, Any]) -> bytes:
    """The bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class SimProfile:
    """How the simulated acquirer authenticates, as registered in the platform's profile."""

    partner_id: str  # X-PARTNER-ID
    mode: SignMode
    client_secret: str | None = None  # symmetric
    private_key: rsa.RSAPrivateKey | None = None  # asymmetric
    channel_id: str = "95221"


def signed_headers(
    profile: SimProfile,
    body: bytes,
    *,
    now: datetime,
    access_token: str | None = None,
    external_id: str | None = None,
    path: str = NOTIFY_PATH,
) -> dict[str, str]:
    """SNAP headers with X-SIGNATURE over ``body`` as it will be sent."""
    timestamp = format_snap_timestamp(now)
    headers = {
        "Content-Type": "application/json",
        "X-TIMESTAMP": timestamp,
        "X-PARTNER-ID": profile.partner_id,
        "X-EXTERNAL-ID": external_id or f"{secrets.randbelow(10**18):018d}",
        "CHANNEL-ID": profile.channel_id,
    }
    if profile.mode is SignMode.SYMMETRIC:
        if profile.client_secret is None or access_token is None:
            raise SimError("symmetric signing needs the client secret and a B2B access token")
        headers["Authorization"] = f"Bearer {access_token}"
        headers["X-SIGNATURE"] = sign_symmetric(
            client_secret=profile.client_secret,
            method="POST",
            endpoint_url=path,
            access_token=access_token,
            body=body,
            timestamp=timestamp,
        )
    else:
        if profile.private_key is None:
            raise SimError("asymmetric signing needs the acquirer's private key")
        headers["X-SIGNATURE"] = sign_asymmetric(
            private_key=profile.private_key,
            method="POST",
            endpoint_url=path,
            body=body,
            timestamp=timestamp,
        )
    return headers


# ------------------------------------------------------------------------------- settlement


def _fee(gross_idr: int, mdr_pct: Decimal) -> int:
    # One rounding per transaction, half up to whole rupiah, as acquirers report it.
    return int((Decimal(gross_idr) * mdr_pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _wib_date(iso: str) -> date:
    return datetime.fromisoformat(iso).date()


@dataclass(frozen=True)
class SimBatch:
    """One settlement batch: what the acquirer pays out, net of its fees, in one transfer."""

    batch_id: str
    settlement_date: date
    nmid: str
    rows: tuple[tuple[SimPayment, int], ...]  # each payment with its fee

    @property
    def gross_idr(self) -> int:
        return sum(payment.amount_idr for payment, _fee in self.rows)

    @property
    def fee_idr(self) -> int:
        return sum(fee for _payment, fee in self.rows)

    @property
    def net_idr(self) -> int:
        return self.gross_idr - self.fee_idr

    @property
    def transfer_details(self) -> str:
        """How the transfer reads on the city's bank statement (reconcile finds the batch)."""
        return f"QRIS STL BATCH {self.batch_id} NMID {self.nmid}"


def settlement_batches(
    payments: Iterable[SimPayment],
    *,
    settlement_date: date,
    business_date: date | None = None,
    mdr_pct: Decimal = DEFAULT_MDR_PCT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    acquirer_code: str = "SIM",
) -> list[SimBatch]:
    """The batches settling the payments of ``business_date`` (default: the day before
    ``settlement_date``): at most ``batch_size`` transactions of one NMID each."""
    if not Decimal(0) <= mdr_pct <= _MAX_MDR_PCT:
        raise SimError(f"MDR must be 0-{_MAX_MDR_PCT} %")
    if not 1 <= batch_size <= 100_000:
        raise SimError("batch size must be 1-100000")
    day = business_date or date.fromordinal(settlement_date.toordinal() - 1)
    chosen = sorted(
        (p for p in payments if _wib_date(p.paid_at) == day),
        key=lambda p: (p.nmid, p.paid_at, p.rrn),
    )
    by_nmid: dict[str, list[SimPayment]] = {}
    for payment in chosen:
        by_nmid.setdefault(payment.nmid, []).append(payment)
    batches = []
    for nmid, group in by_nmid.items():
        for start in range(0, len(group), batch_size):
            serial = start // batch_size + 1
            # At most 25 characters: what a statement's "QRIS … BATCH <id>" can carry.
            batch_id = f"{acquirer_code}-{settlement_date:%y%m%d}-{nmid[-6:]}-{serial:03d}"
            rows = tuple(
                (p, _fee(p.amount_idr, mdr_pct)) for p in group[start : start + batch_size]
            )
            batches.append(SimBatch(batch_id, settlement_date, nmid, rows))
    return batches


def settlement_csv(batches: Iterable[SimBatch]) -> bytes:
    """The settlement report of ``batches`` (``reconcile/formats/qris_settlement.py``'s form):
    ``TRX`` rows, then a ``BATCH`` row per batch. Amounts are whole rupiah with two decimals."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    for batch in batches:
        settled = batch.settlement_date.isoformat()
        for payment, fee in batch.rows:
            writer.writerow(
                [
                    "TRX",
                    batch.batch_id,
                    settled,
                    batch.nmid,
                    payment.rrn,
                    payment.reference_label,
                    payment.bill_number,
                    payment.paid_at,
                    f"{payment.amount_idr}.00",
                    f"{fee}.00",
                    f"{payment.amount_idr - fee}.00",
                    "",
                ]
            )
        writer.writerow(
            [
                "BATCH",
                batch.batch_id,
                settled,
                batch.nmid,
                "",
                "",
                "",
                "",
                f"{batch.gross_idr}.00",
                f"{batch.fee_idr}.00",
                f"{batch.net_idr}.00",
                str(len(batch.rows)),
            ]
        )
    return out.getvalue().encode("utf-8")


class SimJournal:
    """The acquirer's own record of what it paid: one JSON line per payment, append-only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, payment: SimPayment) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(payment), ensure_ascii=False) + "\n")

    def payments(self) -> list[SimPayment]:
        if not self.path.exists():
            return []
        found = []
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    found.append(SimPayment(**json.loads(line)))
        return found

    def find(self, rrn: str) -> SimPayment | None:
        return next((p for p in self.payments() if p.rrn == rrn), None)

    def last(self) -> SimPayment | None:
        found = self.payments()
        return found[-1] if found else None


def totals(payments: Sequence[SimPayment]) -> dict[str, int]:
    return {"count": len(payments), "gross_idr": sum(p.amount_idr for p in payments)}


# ------------------------------------------------------------------- the simulated acquirer


#: The demo acquirer's profile (registered by ``retribusi demo``). Its state is kept where a real
#: acquirer keeps it, on its own side: ``instance/sim_qris/`` (RSA key, the client secret we
#: issued, its journal). Never in production.
DEMO_ACQUIRER: Final = {
    "code": "SIMQRIS",
    "name": "Acquirer QRIS (simulasi)",
    "client_id": "qris-acquirer-sim",
}
STATE_DIR: Final = "sim_qris"
NOTIFY_SERVICE_PATH: Final = "/v1.0/qr/qr-mpm-notify"  # below the SNAP prefix


@dataclass(frozen=True)
class AcquirerReply:
    payment: SimPayment
    response_code: str
    body: Mapping[str, Any]


class SimulatedAcquirer:
    """Pays our codes through the real notify endpoint, signed as its profile says."""

    def __init__(
        self, client: SnapClient, journal: SimJournal, *, asymmetric: bool = False
    ) -> None:
        self.client = client
        self.journal = journal
        self.asymmetric = asymmetric

    def _send(self, payment: SimPayment, status: str) -> AcquirerReply:
        reply = self.client.call(
            NOTIFY_SERVICE_PATH,
            notification_for(payment, status=status),
            asymmetric=self.asymmetric,
        )
        return AcquirerReply(payment, reply.response_code, reply.body)

    def pay(
        self,
        payload: str,
        *,
        amount_idr: int | None = None,
        paid_at: datetime | None = None,
        status: str = "00",
    ) -> AcquirerReply:
        """The payer scans ``payload`` and pays; the acquirer notifies us. A successful payment
        is journalled whatever we answer: the payer's money has moved and will be settled."""
        moment = paid_at or clock.to_wib(self.client.now())
        payment = payment_for(payload, paid_at=moment, amount_idr=amount_idr)
        if status == "00":
            self.journal.append(payment)
        return self._send(payment, status)

    def repeat(self, rrn: str | None = None) -> AcquirerReply:
        """Send a journalled payment's notification again (an acquirer retry)."""
        payment = self.journal.find(rrn) if rrn else self.journal.last()
        if payment is None:
            raise SimError("nothing to repeat: no such payment in the journal")
        return self._send(payment, "00")


def _state_dir() -> Path:
    return Path(current_app.instance_path) / STATE_DIR


def sim_enabled() -> bool:
    return current_app.config.get("ENV") != "production"


def register_demo_acquirer() -> dict[str, Any]:
    """The demo acquirer's profile with the simulator's public key (idempotent); the client
    secret we issue is saved on the simulator's side. Refused in production."""
    if not sim_enabled():
        raise Forbidden("the simulated acquirer is never registered in production")
    folder = _state_dir()
    key = load_or_create_key(folder / "private_key.pem")
    saved_path = folder / "profile.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else None
    existing = find_by_client_id(DEMO_ACQUIRER["client_id"])
    if existing is None:
        issued = add_partner(
            PartnerInput(
                code=DEMO_ACQUIRER["code"],
                kind=PartnerKind.QRIS_ACQUIRER,
                name=DEMO_ACQUIRER["name"],
                client_id=DEMO_ACQUIRER["client_id"],
                public_key_pem=PartnerIdentity("", "", key).public_key_pem,
            ),
            actor="demo",
        )
        partner, secret, created = issued.partner, issued.client_secret, True
    elif saved is None:
        # The simulator lost its copy of the secret (instance folder wiped): issue a new one.
        issued = rotate_secret(existing.code, actor="demo")
        partner, secret, created = issued.partner, issued.client_secret, False
    else:
        partner, secret, created = existing, str(saved["client_secret"]), False
    profile = {
        "code": partner.code,
        "client_id": partner.client_id,
        "partner_id": partner.partner_id,
        "client_secret": secret,
    }
    folder.mkdir(parents=True, exist_ok=True)
    saved_path.touch(mode=0o600)
    saved_path.write_text(json.dumps(profile))
    return {"sim_acquirer": {"code": partner.code, "created": created}}


def demo_acquirer(base_url: str | None = None) -> SimulatedAcquirer:
    """The demo acquirer, talking to this app in-process or to a server at ``base_url``."""
    folder = _state_dir()
    saved_path = folder / "profile.json"
    if not saved_path.exists():
        register_demo_acquirer()
    saved = json.loads(saved_path.read_text())
    identity = PartnerIdentity(
        client_id=saved["client_id"],
        partner_id=saved["partner_id"],
        private_key=load_or_create_key(folder / "private_key.pem"),
        client_secret=saved["client_secret"],
    )
    transport: Any = (
        HttpTransport(base_url) if base_url else FlaskTransport(current_app.test_client())
    )
    # X-EXTERNAL-ID must be unique per partner and day across runs of the simulator too.
    client = SnapClient(identity, transport, external_id_prefix=f"{secrets.randbelow(10**12):012d}")
    return SimulatedAcquirer(client, SimJournal(folder / "journal.jsonl"))


def demo_step() -> dict[str, Any]:
    """``retribusi demo``: register the demo acquirer profile for the simulator."""
    if not sim_enabled():
        return {}
    return register_demo_acquirer()
