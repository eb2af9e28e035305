"""A registered partner and a signed SNAP client for tests, through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from payments.sim.client import FlaskTransport, PartnerIdentity, SnapClient, generate_key_pair
from payments.snap.models import PartnerKind, SignatureMode, VaType
from payments.snap.partners import PartnerInfo, PartnerInput, add_partner
from retribusi import clock


@cache
def key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name per test run (generating one costs ~50 ms)."""
    return generate_key_pair()


@dataclass
class Registered:
    info: PartnerInfo
    identity: PartnerIdentity


def register(
    app: Flask,
    *,
    code: str = "JATENG",
    kind: PartnerKind = PartnerKind.BANK,
    company_code: str | None = "12345",
    va_type: VaType = VaType.CLOSED,
    signature_mode: SignatureMode = SignatureMode.SYMMETRIC,
    **extra: object,
) -> Registered:
    private_key = key(code)
    with app.app_context():
        issued = add_partner(
            PartnerInput(
                code=code,
                kind=kind,
                name=f"Bank {code.title()}",
                client_id=f"{code.lower()}-client",
                public_key_pem=PartnerIdentity("", "", private_key).public_key_pem,
                company_code=company_code if kind is PartnerKind.BANK else None,
                va_type=va_type if kind is PartnerKind.BANK else None,
                signature_mode=signature_mode,
                **extra,  # type: ignore[arg-type]
            ),
            actor="test",
        )
    identity = PartnerIdentity(
        client_id=issued.partner.client_id,
        partner_id=issued.partner.partner_id,
        private_key=private_key,
        client_secret=issued.client_secret,
        channel_id=issued.partner.channel_id,
        path_prefix=issued.partner.path_prefix or "/snap",
    )
    return Registered(issued.partner, identity)


def client_for(app: Flask, registered: Registered, **kwargs: object) -> SnapClient:
    """A SNAP client over the Flask test client, on the application's (frozen) clock."""

    def now() -> object:
        with app.app_context():
            return clock.now()

    return SnapClient(
        registered.identity,
        FlaskTransport(app.test_client()),
        now=now,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
