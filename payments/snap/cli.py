"""``retribusi banks …``: SNAP partner profiles (banks and QRIS acquirers) from the console."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from payments.snap.messages import MAX_BILL_DETAILS
from payments.snap.models import PartnerKind, SignatureMode, VaType
from payments.snap.partners import (
    PartnerInput,
    add_partner,
    list_partners,
    public_row,
    rotate_secret,
    set_active,
    set_public_key,
)
from payments.snap.signature import (
    DEFAULT_SKEW_WINDOW_S,
    MAX_PEM_CHARS,
    MAX_SKEW_WINDOW_S,
    SignatureEncoding,
)
from retribusi.cli import emit, fail, read_file
from retribusi.errors import DomainError

# A label printed before the secret, not a secret.
_SHOWN_ONCE = "client secret (shown once; give it to the partner over a safe channel):"


#: A key file's option: a path (``-`` for standard input) the command reads itself
#: (:func:`retribusi.cli.read_file`) once every option has passed.
_KEY_FILE = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)


def _read_pem(path: Path) -> str:
    # A PEM is a few kilobytes; read a little more than the limit so the check can refuse it.
    # Bytes that are not UTF-8 (a DER or binary file given by mistake) become U+FFFD, which the
    # key check refuses like any other text that is not a PEM, naming the field.
    return read_file(path, MAX_PEM_CHARS + 1).decode("utf-8", "replace")


@click.group("banks", help="SNAP partner profiles: banks (VA) and QRIS acquirers.")
def banks_cli() -> None:
    pass


@banks_cli.command("add")
@click.option("--code", required=True, help="Our short name, e.g. JATENG (the ledger's sender).")
@click.option("--name", required=True, help="Display name, e.g. 'Bank Jateng'.")
@click.option("--client-id", required=True, help="The partner's X-CLIENT-KEY.")
@click.option(
    "--public-key",
    "public_key",
    type=_KEY_FILE,
    required=True,
    help="The partner's RSA public key: SPKI, PKCS#1 or certificate PEM ('-' for stdin).",
)
@click.option("--kind", type=click.Choice([k.value for k in PartnerKind]), default="bank")
@click.option("--partner-id", help="X-PARTNER-ID it sends (default: company code or client id).")
@click.option("--channel-id", help="CHANNEL-ID it must send (optional).")
@click.option("--company-code", help="Banks: the company code, partnerServiceId digits.")
@click.option("--va-type", type=click.Choice([t.value for t in VaType]), default="closed")
@click.option("--customer-no-width", type=click.IntRange(2, 20), default=10, show_default=True)
@click.option(
    "--max-bill-details",
    type=click.IntRange(1, MAX_BILL_DETAILS),
    default=MAX_BILL_DETAILS,
    show_default=True,
    help="Bills the bank's channel shows (BCA: 5).",
)
@click.option("--path-prefix", help="Prefix the partner calls behind a proxy, e.g. /openapi.")
@click.option(
    "--skew-window",
    type=click.IntRange(1, MAX_SKEW_WINDOW_S),
    default=DEFAULT_SKEW_WINDOW_S,
    show_default=True,
    help="Tolerated X-TIMESTAMP difference, seconds.",
)
@click.option(
    "--signature-mode", type=click.Choice([m.value for m in SignatureMode]), default="symmetric"
)
@click.option(
    "--signature-encoding",
    type=click.Choice([e.value for e in SignatureEncoding]),
    default="base64",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_add(
    code: str,
    name: str,
    client_id: str,
    public_key: Path,
    kind: str,
    partner_id: str | None,
    channel_id: str | None,
    company_code: str | None,
    va_type: str,
    customer_no_width: int,
    max_bill_details: int,
    path_prefix: str | None,
    skew_window: int,
    signature_mode: str,
    signature_encoding: str,
    as_json: bool,
) -> None:
    """Register a partner and issue its client secret (printed once)."""
    chosen = PartnerKind(kind)
    try:
        issued = add_partner(
            PartnerInput(
                code=code,
                kind=chosen,
                name=name,
                client_id=client_id,
                public_key_pem=_read_pem(public_key),
                partner_id=partner_id,
                channel_id=channel_id,
                path_prefix=path_prefix,
                skew_window_s=skew_window,
                company_code=company_code,
                customer_no_width=customer_no_width,
                va_type=VaType(va_type) if chosen is PartnerKind.BANK else None,
                max_bill_details=max_bill_details,
                signature_mode=SignatureMode(signature_mode),
                signature_encoding=SignatureEncoding(signature_encoding),
            ),
            actor="cli",
        )
    except DomainError as error:
        fail(error, as_json)
        return
    body = {
        "ok": True,
        "partner": public_row(issued.partner),
        "client_secret": issued.client_secret,
    }
    emit(
        body,
        as_json,
        f"added {issued.partner.code} ({issued.partner.name})\n{_SHOWN_ONCE}\n"
        f"{issued.client_secret}",
    )


@banks_cli.command("list")
@click.option("--kind", type=click.Choice([k.value for k in PartnerKind]))
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_list(kind: str | None, as_json: bool) -> None:
    """Partner profiles (never their secrets)."""
    rows = [public_row(p) for p in list_partners(PartnerKind(kind) if kind else None)]
    lines = [
        f"{r['code']:<10} {r['kind']:<14} {r['client_id']:<24} {r['partner_service_id'] or '':>8}"
        f" {r['va_type'] or '':<8} {'active' if r['active'] else 'inactive'}  {r['name']}"
        for r in rows
    ]
    emit({"ok": True, "partners": rows}, as_json, "\n".join(lines) or "no partner profiles")


@banks_cli.command("rotate-secret")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_rotate_secret(code: str, as_json: bool) -> None:
    """Issue a new client secret for CODE; the old one stops working at once."""
    try:
        issued = rotate_secret(code, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    emit(
        {"ok": True, "code": issued.partner.code, "client_secret": issued.client_secret},
        as_json,
        f"{_SHOWN_ONCE}\n{issued.client_secret}",
    )


@banks_cli.command("set-key")
@click.argument("code")
@click.option("--public-key", "public_key", type=_KEY_FILE, required=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_set_key(code: str, public_key: Path, as_json: bool) -> None:
    """Replace CODE's RSA public key (the partner rotated its key pair)."""
    try:
        info = set_public_key(code, _read_pem(public_key), actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    emit({"ok": True, "partner": public_row(info)}, as_json, f"key replaced for {info.code}")


@banks_cli.command("deactivate")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_deactivate(code: str, as_json: bool) -> None:
    """Refuse every call from CODE (401 Unknown client) until it is activated again."""
    _set_active(code, False, as_json)


@banks_cli.command("activate")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def banks_activate(code: str, as_json: bool) -> None:
    _set_active(code, True, as_json)


def _set_active(code: str, active: bool, as_json: bool) -> None:
    try:
        info = set_active(code, active, actor="cli")
    except DomainError as error:
        fail(error, as_json)
        return
    word = "active" if info.active else "inactive"
    emit({"ok": True, "partner": public_row(info)}, as_json, f"{info.code} is {word}")
