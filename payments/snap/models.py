"""SNAP partner profiles, B2B tokens, the raw call log and the X-EXTERNAL-ID claims.

A *partner* is whoever calls our SNAP endpoints: a bank (VA inquiry, payment, status) or a QRIS
acquirer (payment notify). One table holds both, with a ``kind``; the VA fields are required for
banks only. A profile is configuration (admin-edited, audited), not a money fact, so it may be
updated; everything else here is a fact of what was said on the wire and is append-only
(``retribusi/migrations/versions/0006_va.py`` adds the triggers):

* ``snap_tokens`` - each B2B token we issued, stored as its SHA-256 only;
* ``snap_calls`` - each request as received (headers with secrets redacted, body verbatim),
  written and committed **before** it is processed (DESIGN.md: every inbound payment message is
  stored raw before it is processed);
* ``snap_answers`` - the answer to each call, written after it;
* ``snap_external_ids`` - X-EXTERNAL-ID claims, unique per partner and business day (ASPI).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from payments.snap.signature import SignatureEncoding
from retribusi.db import Base, BigId, IdPK

#: ASPI bounds that also bound our columns.
CLIENT_KEY_MAX_CHARS = 128
PARTNER_ID_MAX_CHARS = 36
EXTERNAL_ID_MAX_CHARS = 36
CHANNEL_ID_MAX_CHARS = 5
PARTNER_CODE_MAX_CHARS = 20
PATH_PREFIX_MAX_CHARS = 100
ENDPOINT_URL_STORED_CHARS = 2048
REQUEST_KEY_MAX_CHARS = 128


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=16,
        create_constraint=True,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class PartnerKind(StrEnum):
    BANK = "bank"  # VA inquiry / payment / status
    QRIS_ACQUIRER = "qris_acquirer"  # QR MPM notify


class VaType(StrEnum):
    """What a bank's VA accepts (SNAP ``virtualAccountTrxType`` C / I / O)."""

    CLOSED = "closed"  # exactly the total owed
    PARTIAL = "partial"  # any amount up to the total owed
    OPEN = "open"  # any amount; what exceeds the bills becomes vendor credit


class SignatureMode(StrEnum):
    """How a partner signs its service calls (snap-va.md §2.3)."""

    SYMMETRIC = "symmetric"  # B2B token + HMAC-SHA512 with the client secret we issued
    ASYMMETRIC = "asymmetric"  # no token; SHA256withRSA with the partner's private key


class Partner(Base):
    """A bank or QRIS acquirer allowed to call us, with its keys and its wire conventions."""

    __tablename__ = "snap_partners"
    __table_args__ = (
        CheckConstraint("skew_window_s BETWEEN 1 AND 86400", name="skew_bounded"),
        CheckConstraint("customer_no_width BETWEEN 2 AND 20", name="width_bounded"),
        CheckConstraint("max_bill_details BETWEEN 1 AND 24", name="bill_details_bounded"),
        CheckConstraint(
            "kind <> 'bank' OR (company_code IS NOT NULL AND va_type IS NOT NULL)",
            name="bank_has_va_fields",
        ),
    )

    id: Mapped[IdPK]
    # Our short name for the partner ("JATENG"): the payment ledger's ``sender``.
    code: Mapped[str] = mapped_column(String(PARTNER_CODE_MAX_CHARS), unique=True)
    kind: Mapped[PartnerKind] = mapped_column(_enum(PartnerKind, "partner_kind"))
    name: Mapped[str] = mapped_column(String(120))
    # X-CLIENT-KEY of the token request.
    client_id: Mapped[str] = mapped_column(String(CLIENT_KEY_MAX_CHARS), unique=True)
    # X-PARTNER-ID of the service calls: how a call names its partner.
    partner_id: Mapped[str] = mapped_column(String(PARTNER_ID_MAX_CHARS), unique=True)
    # CHANNEL-ID the partner must send, if set.
    channel_id: Mapped[str | None] = mapped_column(String(CHANNEL_ID_MAX_CHARS))
    # The partner's RSA public key, as SPKI PEM (any accepted input form is converted).
    public_key_pem: Mapped[str] = mapped_column(Text)
    # The client secret we issued, Fernet-encrypted with RETRIBUSI_PARTNER_SECRET_KEY.
    client_secret_enc: Mapped[str] = mapped_column(Text)
    secret_set_at: Mapped[datetime]
    signature_mode: Mapped[SignatureMode] = mapped_column(
        _enum(SignatureMode, "signature_mode"), default=SignatureMode.SYMMETRIC
    )
    signature_encoding: Mapped[SignatureEncoding] = mapped_column(
        _enum(SignatureEncoding, "signature_encoding"), default=SignatureEncoding.BASE64
    )
    # The path prefix the partner calls when a proxy sits in front ("/openapi"); it replaces our
    # own "/snap" in the signed EndpointUrl. None: the path as it reached us.
    path_prefix: Mapped[str | None] = mapped_column(String(PATH_PREFIX_MAX_CHARS))
    skew_window_s: Mapped[int] = mapped_column(Integer, default=300)
    # VA (banks): the bank's company code (partnerServiceId digits), our customerNo width,
    # the VA type, and how many bill details the bank's channel shows (BCA: 5).
    company_code: Mapped[str | None] = mapped_column(String(8))
    customer_no_width: Mapped[int] = mapped_column(Integer, default=10)
    va_type: Mapped[VaType | None] = mapped_column(_enum(VaType, "va_type"))
    max_bill_details: Mapped[int] = mapped_column(Integer, default=24)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccessToken(Base):
    """A B2B access token we issued. Only its SHA-256 is kept: a leaked table grants nothing."""

    __tablename__ = "snap_tokens"

    id: Mapped[IdPK]
    partner_id: Mapped[int] = mapped_column(BigId, ForeignKey("snap_partners.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SnapCall(Base):
    """One request to a SNAP endpoint, as received, stored before it is processed."""

    __tablename__ = "snap_calls"
    __table_args__ = (
        Index("ix_snap_calls_partner_received", "partner_id", "received_at"),
        Index("ix_snap_calls_request_key", "partner_id", "service", "request_key"),
    )

    id: Mapped[IdPK]
    # None when the caller could not be identified (unknown X-PARTNER-ID or X-CLIENT-KEY).
    partner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("snap_partners.id"))
    service: Mapped[str] = mapped_column(String(2))
    method: Mapped[str] = mapped_column(String(10))
    endpoint_url: Mapped[str] = mapped_column(String(ENDPOINT_URL_STORED_CHARS))
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    # The message's own idempotency key where the service has one (paymentRequestId).
    request_key: Mapped[str | None] = mapped_column(String(REQUEST_KEY_MAX_CHARS))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # Header names and values; Authorization is reduced to a digest of the token.
    headers: Mapped[dict[str, Any]]
    # The body exactly as received (UTF-8; undecodable bytes as U+FFFD, and the hash is of the
    # bytes), so a signature can be re-checked and a dispute settled from the log.
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class SnapAnswer(Base):
    """What we answered to a call (one per call), with what it did."""

    __tablename__ = "snap_answers"

    call_id: Mapped[int] = mapped_column(BigId, ForeignKey("snap_calls.id"), primary_key=True)
    http_status: Mapped[int] = mapped_column(Integer)
    response_code: Mapped[str] = mapped_column(String(7))
    # The JSON sent, secrets (the access token) redacted.
    body: Mapped[dict[str, Any]]
    # A short machine word: "ok", "replay", "invalid_signature", "paid_bill", ...
    outcome: Mapped[str] = mapped_column(String(40))
    # The payment this call recorded (first answer) or replayed.
    payment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payments.id"), index=True)
    # For a replay: the call whose answer was repeated.
    replay_of: Mapped[int | None] = mapped_column(BigId, ForeignKey("snap_calls.id"))
    answered_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)


class ExternalIdClaim(Base):
    """An X-EXTERNAL-ID used by a partner on a business day (Asia/Jakarta): ASPI says unique
    in the same day; a second use with another message is ``409xx00``."""

    __tablename__ = "snap_external_ids"
    __table_args__ = (UniqueConstraint("partner_id", "business_date", "external_id"),)

    id: Mapped[IdPK]
    partner_id: Mapped[int] = mapped_column(BigId, ForeignKey("snap_partners.id"))
    business_date: Mapped[date]
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_CHARS))
    service: Mapped[str] = mapped_column(String(2))
    request_key: Mapped[str | None] = mapped_column(String(REQUEST_KEY_MAX_CHARS))
    call_id: Mapped[int] = mapped_column(BigId, ForeignKey("snap_calls.id"))
