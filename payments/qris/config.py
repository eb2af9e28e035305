"""The QRIS channel's configuration: the city's merchant identity, code lifetime, checked at start.

``QRIS_MERCHANTS`` maps ``"*"`` (the Dinas as one merchant) and, optionally, market codes to the
merchant account the acquirer registered (docs/qris.md, "Configuration")::

    {"*": {"acquirer_guid": "ID.CO.BANKJATENG.WWW", "nns": "93600113",
           "merchant_number": "1234567", "merchant_id": "RETPSRSKA01", "criteria": "URE",
           "nmid": "ID1026123456789", "mcc": "9399", "name": "DISDAG KOTA SURAKARTA",
           "city": "SURAKARTA", "postal_code": "57111"},
     "KLEWER": {"nmid": "ID1026123456790", "name": "PASAR KLEWER", "postal_code": "57115"}}

A market entry is laid over ``"*"`` field by field, so it names only what differs (each market
registered as its own merchant gets its own NMID). ``merchant_pan`` may be given whole instead of
``nns`` + ``merchant_number``; either way its Luhn check digit is verified. Every entry is built
into a :class:`~payments.qris.builder.MerchantIdentity` when the application starts, so a bad
value stops the start with a message naming the entry and the field.

Without ``QRIS_MERCHANTS`` a development or test instance uses :data:`DEMO_MERCHANT` (a made-up
account, labelled so); a production instance then has the channel switched off: no code is
shown, rather than a code that pays into an account nobody owns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from flask import Flask, current_app

from payments.qris.builder import MerchantIdentity, QrisBuildError, compose_merchant_pan
from payments.qris.codec import MerchantCriteria
from retribusi.config import apply_defaults
from retribusi.levy.errors import conflict

EXTENSION_KEY: Final = "payments.qris.settings"
DEFAULT_KEY: Final = "*"

#: An invented merchant account for demos and tests: Bank Jateng's NNS (93600113) with a merchant
#: number and NMID nobody was issued. Never used in production.
DEMO_MERCHANT: Final[dict[str, str]] = {
    "acquirer_guid": "ID.CO.BANKJATENG.WWW",
    "nns": "93600113",
    "merchant_number": "1234567",
    "merchant_id": "RETPSRSKA01",
    "criteria": "URE",
    "nmid": "ID1026123456789",
    "mcc": "9399",
    "name": "DISDAG KOTA SURAKARTA",
    "city": "SURAKARTA",
    "postal_code": "57111",
}

DEFAULTS: dict[str, Any] = {
    # None: the demo merchant outside production, the channel switched off in production.
    "QRIS_MERCHANTS": None,
    # How long a dynamic bill code may be paid. Its amount is what is owed on the day it is made
    # and a vendor pays from the page straight away, so an hour is plenty; a new code is one tap
    # away. A payment after expiry is still recorded, and flagged.
    "QRIS_CODE_LIFETIME_S": 3600,
    # A live code is handed out again (not a new one made) while it has at least this much life
    # left, so reloading the page neither piles up codes nor shows one about to expire.
    "QRIS_CODE_REUSE_MIN_LEFT_S": 600,
}
_LIFETIME_BOUNDS_S: Final = (60, 7 * 24 * 3600)
_FIELDS: Final = frozenset(
    {
        "acquirer_guid",
        "nns",
        "merchant_number",
        "merchant_pan",
        "merchant_id",
        "criteria",
        "nmid",
        "mcc",
        "name",
        "city",
        "postal_code",
    }
)
_PAN_FIELDS: Final = frozenset({"merchant_pan", "nns", "merchant_number"})
_MAX_ENTRIES: Final = 200  # 44 markets today; a bound on what configuration may ask us to build


@dataclass(frozen=True)
class QrisSettings:
    """The checked configuration. ``merchants`` is empty when the channel is switched off."""

    merchants: Mapping[str, MerchantIdentity]
    lifetime_s: int
    reuse_min_left_s: int
    demo: bool

    @property
    def enabled(self) -> bool:
        return bool(self.merchants)

    def key_for(self, market_code: str) -> str:
        """Which entry serves a market: its own, else the Dinas-wide one."""
        return market_code if market_code in self.merchants else DEFAULT_KEY

    def merchant_for(self, market_code: str) -> tuple[str, MerchantIdentity]:
        """``(entry key, identity)`` for a market; refused when the channel is off."""
        key = self.key_for(market_code)
        identity = self.merchants.get(key)
        if identity is None:
            raise conflict(
                "qris", "not_configured", "QRIS is not configured (set RETRIBUSI_QRIS_MERCHANTS)"
            )
        return key, identity


class QrisConfigError(RuntimeError):
    """A bad QRIS setting; the message names the setting, the entry and the field."""


def _entry(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise QrisConfigError(f"{where} must be an object of merchant fields")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise QrisConfigError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise QrisConfigError(f"{where}.{name} must be a string, not {type(value).__name__}")
        out[str(name)] = value
    return out


def build_identity(fields: Mapping[str, str], where: str) -> MerchantIdentity:
    """A checked identity from configuration fields; :class:`QrisConfigError` names the field."""
    missing = sorted(
        {"acquirer_guid", "merchant_id", "criteria", "nmid", "name", "city", "postal_code"}
        - set(fields)
    )
    if "merchant_pan" not in fields and not {"nns", "merchant_number"} <= set(fields):
        missing.append("merchant_pan (or nns + merchant_number)")
    if missing:
        raise QrisConfigError(f"{where}: missing {', '.join(missing)}")
    try:
        if "merchant_pan" in fields:
            if {"nns", "merchant_number"} & set(fields):
                raise QrisBuildError("merchant_pan", "give merchant_pan or nns + merchant_number")
            pan = fields["merchant_pan"]
        else:
            pan = compose_merchant_pan(fields["nns"], fields["merchant_number"])
        if fields["criteria"] not in {c.value for c in MerchantCriteria}:
            raise QrisBuildError(
                "criteria", f"must be one of {', '.join(c.value for c in MerchantCriteria)}"
            )
        return MerchantIdentity(
            acquirer_guid=fields["acquirer_guid"],
            merchant_pan=pan,
            merchant_id=fields["merchant_id"],
            merchant_criteria=MerchantCriteria(fields["criteria"]),
            nmid=fields["nmid"],
            merchant_name=fields["name"],
            merchant_city=fields["city"],
            postal_code=fields["postal_code"],
            mcc=fields.get("mcc", "9399"),
        )
    except QrisBuildError as error:
        raise QrisConfigError(f"{where}.{error.message}") from None


def _int_setting(config: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = config[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QrisConfigError(f"RETRIBUSI_{name} must be a whole number from {low} to {high}")
    return value


def load_settings(config: Mapping[str, Any]) -> QrisSettings:
    """Check every QRIS setting; raises :class:`QrisConfigError` on the first bad one."""
    lifetime_s = _int_setting(config, "QRIS_CODE_LIFETIME_S", *_LIFETIME_BOUNDS_S)
    reuse_s = _int_setting(config, "QRIS_CODE_REUSE_MIN_LEFT_S", 0, lifetime_s)
    raw = config.get("QRIS_MERCHANTS")
    demo = raw is None and config.get("ENV") != "production"
    if raw is None:
        raw = {DEFAULT_KEY: DEMO_MERCHANT} if demo else {}
    if not isinstance(raw, Mapping):
        raise QrisConfigError("RETRIBUSI_QRIS_MERCHANTS must be an object keyed by '*' or market")
    if len(raw) > _MAX_ENTRIES:
        raise QrisConfigError(f"RETRIBUSI_QRIS_MERCHANTS has more than {_MAX_ENTRIES} entries")
    if raw and DEFAULT_KEY not in raw:
        raise QrisConfigError("RETRIBUSI_QRIS_MERCHANTS needs a '*' entry (the Dinas-wide one)")
    base = _entry(raw.get(DEFAULT_KEY, {}), "QRIS_MERCHANTS['*']")
    merchants: dict[str, MerchantIdentity] = {}
    for key in sorted(raw, key=lambda k: (k != DEFAULT_KEY, str(k))):
        where = f"QRIS_MERCHANTS[{key!r}]"
        own = {} if key == DEFAULT_KEY else _entry(raw[key], where)
        inherited = dict(base)
        if own.keys() & _PAN_FIELDS:
            # A market's own PAN replaces the Dinas-wide one, whichever way each is written.
            for name in _PAN_FIELDS:
                inherited.pop(name, None)
        merchants[str(key)] = build_identity({**inherited, **own}, where)
    return QrisSettings(merchants, lifetime_s, reuse_s, demo)


def init_config(app: Flask) -> None:
    apply_defaults(app, DEFAULTS)
    try:
        app.extensions[EXTENSION_KEY] = load_settings(app.config)
    except QrisConfigError as error:
        # A clear message and no traceback noise from deep inside the factory.
        raise QrisConfigError(f"QRIS configuration: {error}") from None


def settings() -> QrisSettings:
    found: QrisSettings = current_app.extensions[EXTENSION_KEY]
    return found
