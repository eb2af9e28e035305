"""``retribusi qris …``: decode payloads, print a stall's static code, make a dynamic bill code.

``retribusi qris decode [PAYLOAD …]`` reads the payloads given as arguments, or one per line on
standard input when there are none (blank lines are skipped), and prints one JSON object per
payload and line (``payments.qris.decode_report``). Exit status: 0 when no payload has an error
(warnings allowed), 1 when at least one has, 2 for a usage error.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import IO, Any, Final

import click
from flask.cli import with_appcontext

from payments.qris.codec import MAX_INPUT_CHARS, decode_report
from payments.qris.config import settings
from payments.qris.services import dynamic_code_for, stall_for_label, stall_label, static_payload
from retribusi.cli import emit, fail
from retribusi.db import MAX_ID
from retribusi.errors import DomainError
from retribusi.levy.errors import not_found

_ERROR_EXIT: Final = 1


@click.group("qris", help="QRIS: decode payloads, stall codes, dynamic bill codes.")
def qris_cli() -> None:
    pass


def _json_line(report: dict[str, Any]) -> str:
    try:
        line = json.dumps(report, ensure_ascii=False)
        line.encode("utf-8")
    except UnicodeEncodeError:
        # Input that was not UTF-8 (kept as lone surrogates): escaped, still valid JSON.
        line = json.dumps(report, ensure_ascii=True)
    return line


def _stdin_payloads(stream: IO[str]) -> Iterator[str]:
    """Lines of ``stream``, each read at most ``MAX_INPUT_CHARS + 1`` characters at a time, so a
    line of a gigabyte costs no memory: its head is reported as too long, the rest skipped."""
    while True:
        line = stream.readline(MAX_INPUT_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_INPUT_CHARS and not line.endswith("\n"):
            while True:  # skip the rest of the over-long line
                rest = stream.readline(64 * 1024)
                if not rest or rest.endswith("\n"):
                    break
            yield line  # decode reports payload.too_long without parsing it
            continue
        if line.strip(" \t\r\n"):
            yield line.rstrip("\r\n")


def _stdin() -> IO[str]:
    """Standard input as UTF-8 text; bytes that are not UTF-8 become lone surrogates, which
    decode reports as ``charset.invalid`` instead of the command dying on them."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # already text (an embedding caller)
        return sys.stdin
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")


@qris_cli.command("decode")
@click.argument("payloads", nargs=-1)
def qris_decode(payloads: tuple[str, ...]) -> None:
    """Decode QRIS payloads (arguments, or one per line on stdin); one JSON line each.

    Exit 1 when any payload has an error, 0 otherwise.
    """
    source = iter(payloads) if payloads else _stdin_payloads(_stdin())
    failed = False
    for payload in source:
        report = decode_report(payload)
        failed |= bool(report["errors"])
        click.echo(_json_line(report))
    if failed:
        sys.exit(_ERROR_EXIT)


@qris_cli.command("static")
@click.argument("stall")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def qris_static(stall: str, as_json: bool) -> None:
    """Print the static code of STALL (its reference, e.g. KLEWER-A-012, or STALL.<id>)."""
    try:
        found = stall_for_label(stall.strip().upper() if "-" in stall else stall.strip())
        if found is None:
            raise not_found("stall", f"no stall {stall[:40]}")
        payload = static_payload(found)
    except DomainError as error:
        fail(error, as_json)
        return
    body = {"ok": True, "stall_id": found.id, "label": stall_label(found), "payload": payload}
    emit(body, as_json, payload)


@qris_cli.command("dynamic")
@click.option("--vendor", "vendor_id", type=click.IntRange(1, MAX_ID), required=True)
@click.option(
    "--bill",
    "bill_ids",
    type=click.IntRange(1, MAX_ID),
    multiple=True,
    required=True,
    help="A bill id; repeat for several bills of one market.",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def qris_dynamic(vendor_id: int, bill_ids: tuple[int, ...], as_json: bool) -> None:
    """Make (or hand out again) a dynamic code for a vendor's open bills; print the payload."""
    try:
        code = dynamic_code_for(vendor_id, bill_ids, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "reference": code.reference,
        "amount_idr": code.amount_idr,
        "bill_label": code.bill_label,
        "bills": [b.number for b in code.bills],
        "expires_at": code.expires_at.isoformat(),
        "reused": code.reused,
        "payload": code.payload,
    }
    emit(body, as_json, code.payload)


@qris_cli.command("config")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def qris_config(as_json: bool) -> None:
    """Show the merchant identities in use (checked when the application started)."""
    config = settings()
    merchants = {
        key: {
            "acquirer_guid": m.acquirer_guid,
            "merchant_pan": m.merchant_pan,
            "merchant_id": m.merchant_id,
            "criteria": str(m.merchant_criteria),
            "nmid": m.nmid,
            "mcc": m.mcc,
            "name": m.merchant_name,
            "city": m.merchant_city,
            "postal_code": m.postal_code,
        }
        for key, m in config.merchants.items()
    }
    body = {
        "ok": True,
        "enabled": config.enabled,
        "demo": config.demo,
        "code_lifetime_s": config.lifetime_s,
        "merchants": merchants,
    }
    lines = [
        f"{key}: {m['name']} NMID {m['nmid']} ({m['acquirer_guid']})"
        for key, m in merchants.items()
    ]
    if config.demo:
        lines.append("(demo merchant: set RETRIBUSI_QRIS_MERCHANTS for real payments)")
    if not config.enabled:
        lines.append("QRIS is switched off: RETRIBUSI_QRIS_MERCHANTS is not set")
    emit(body, as_json, "\n".join(lines))
