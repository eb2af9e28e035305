"""SNAP BI security, both sides: the biller verifies what the bank signs, the simulator signs.

Three signatures (ASPI "Standar Teknis dan Keamanan"; snap-va.md §2):

* **B2B access token** (service 73): ``base64(SHA256withRSA(bank private key,
  X-CLIENT-KEY + "|" + X-TIMESTAMP))``, RSASSA-PKCS1-v1_5; we verify with the bank's public key.
* **Symmetric transaction signature** (inquiry, payment, status): ``base64(HMAC-SHA512(client
  secret as UTF-8, METHOD:EndpointUrl:AccessToken:lowerhex(SHA-256(minify(body))):X-TIMESTAMP))``.
* **Asymmetric transaction signature** (token-less notifications such as QR notify): the same
  string without the token, single colons, signed SHA256withRSA.

Rules that keep verification exact (snap-va.md §2.5):

* The body is hashed from the **bytes as received**. We never re-serialise parsed JSON (Python's
  ``ensure_ascii``, PHP's ``\\/`` and key order would change the bytes). :func:`minify_json`
  only deletes JSON whitespace *outside* string literals, so the space padding inside
  ``"   12345"`` survives (BCA's legacy pre-SNAP rule of stripping all whitespace breaks SNAP).
  Verification accepts the hash of the minified body (the spec) and, if the bank sent
  whitespace, also the hash of the body exactly as received (banks that sign what they send).
* ``EndpointUrl`` is the request target as the bank called it, query string included, never
  re-encoded or re-sorted (see :func:`endpoint_url`).
* ``X-TIMESTAMP`` goes into the string verbatim; it is parsed only for the skew check.
* Comparison is constant-time on the decoded signature bytes.

Nothing here reads the clock: callers pass ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payments.snap.codes import Case, SnapError

#: Largest request body we hash. A VA payment with 24 bill details and 25 free texts is a few
#: kilobytes; anything near this is not a SNAP message. The endpoint should refuse it earlier.
MAX_BODY_BYTES: Final = 64 * 1024
#: Default tolerated difference between X-TIMESTAMP and our clock. ASPI specifies none
#: (snap-va.md §2.4), so this is a configuration default, per bank profile.
DEFAULT_SKEW_WINDOW_S: Final = 300
#: Upper bound for a configured skew window: a day would make replays trivial.
MAX_SKEW_WINDOW_S: Final = 86_400
#: ASPI: accessToken ≤ 2048 characters.
MAX_ACCESS_TOKEN_CHARS: Final = 2048
#: base64 of an 8192-bit RSA signature is 1368 characters; nothing legitimate is longer.
MAX_SIGNATURE_CHARS: Final = 1400
MAX_ENDPOINT_URL_CHARS: Final = 2048
MAX_PEM_CHARS: Final = 16 * 1024
MIN_RSA_KEY_BITS: Final = 2048
#: Verifying with a huge modulus costs CPU before authentication; banks use 2048 or 4096.
MAX_RSA_KEY_BITS: Final = 8192
_MAX_TIMESTAMP_CHARS: Final = 40
_HEADER_MAX_CHARS: Final = {
    "X-CLIENT-KEY": 128,
    "X-PARTNER-ID": 36,  # ASPI String(36)
    "X-EXTERNAL-ID": 36,  # ASPI String(36), "unique in the same day"
    "CHANNEL-ID": 5,  # ASPI String(5)
}

_HTTP_METHOD_RE: Final = re.compile(r"[A-Z]{3,10}", re.ASCII)
# Printable ASCII without space: header identifiers, tokens.
_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]+", re.ASCII)
# Identifier headers: the same without the comma, which is how HTTP joins a repeated header
# ("X-EXTERNAL-ID: 1" twice reaches WSGI as "1,1"): a repeated SNAP header is refused, not guessed.
_IDENTIFIER_RE: Final = re.compile(r"[\x21-\x2b\x2d-\x7e]+", re.ASCII)
# A JSON string literal (an unterminated one runs to the end, which keeps this linear on hostile
# input) or a run of the four JSON whitespace bytes of RFC 8259.
_JSON_STRING_OR_WS: Final = re.compile(rb'"(?:[^"\\]|\\.?)*(?:"|\Z)|[ \t\n\r]+', re.DOTALL)
_PEM_LABEL_RE: Final = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]*", re.ASCII)
_FRACTION_DIGITS_KEPT: Final = 6  # datetime holds microseconds; finer digits are dropped
_OFFSET = r"(?P<tz>Z|[+-]\d{2}:?\d{2})"
# ISO 8601 extended (2020-12-17T10:55:00+07:00, .SSS and Z as MT-DEMO and snapapi send) and basic
# (20201231T235959Z, the ASPI sample's trxDateInit) forms; an offset is mandatory.
_TIMESTAMP_RES: Final = (
    re.compile(
        r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})"
        r"(?:\.(?P<frac>\d{1,9}))?" + _OFFSET,
        re.ASCII,
    ),
    re.compile(
        r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})T(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})"
        r"(?:\.(?P<frac>\d{1,9}))?" + _OFFSET,
        re.ASCII,
    ),
)


class SignatureEncoding(StrEnum):
    """How X-SIGNATURE is written. SNAP says base64; hex only if a bank profile says so."""

    BASE64 = "base64"
    HEX = "hex"


class SecurityErrorKind(StrEnum):
    """Why a request failed the security checks; each kind maps to one SNAP case."""

    MISSING_HEADER = "missing_header"  # 400xx02 Invalid Mandatory Field {header}
    INVALID_HEADER = "invalid_header"  # 400xx01 Invalid Field Format {header}
    INVALID_TIMESTAMP = "invalid_timestamp"  # 400xx01 Invalid Field Format {X-TIMESTAMP}
    TIMESTAMP_OUT_OF_WINDOW = "timestamp_out_of_window"  # 401xx00 Unauthorized. [Timestamp]
    INVALID_SIGNATURE = "invalid_signature"  # 401xx00 Unauthorized. [Signature]
    UNKNOWN_CLIENT = "unknown_client"  # 401xx00 Unauthorized. [Unknown client]
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - 401xx01 Invalid Token (B2B)
    BODY_TOO_LARGE = "body_too_large"  # 400xx00 Bad Request


_KIND_CASE: Final = {
    SecurityErrorKind.MISSING_HEADER: (Case.INVALID_MANDATORY_FIELD, None),
    SecurityErrorKind.INVALID_HEADER: (Case.INVALID_FIELD_FORMAT, None),
    SecurityErrorKind.INVALID_TIMESTAMP: (Case.INVALID_FIELD_FORMAT, "X-TIMESTAMP"),
    SecurityErrorKind.TIMESTAMP_OUT_OF_WINDOW: (Case.UNAUTHORIZED, "Timestamp"),
    SecurityErrorKind.INVALID_SIGNATURE: (Case.UNAUTHORIZED, "Signature"),
    SecurityErrorKind.UNKNOWN_CLIENT: (Case.UNAUTHORIZED, "Unknown client"),
    SecurityErrorKind.INVALID_TOKEN: (Case.INVALID_TOKEN, None),
    SecurityErrorKind.BODY_TOO_LARGE: (Case.BAD_REQUEST, None),
}


class SnapSecurityError(SnapError):
    """A request that failed a SNAP security check. ``kind`` says which; ``case`` the answer.

    ``field`` names the header (or body field, for timestamps) at fault, where there is one.
    """

    def __init__(self, kind: SecurityErrorKind, message: str, *, field: str | None = None) -> None:
        case, fixed_detail = _KIND_CASE[kind]
        super().__init__(case, fixed_detail or field, message)
        self.kind = kind
        self.field = field


class KeyErrorKind(StrEnum):
    """Why a configured key was refused."""

    NOT_PEM = "not_pem"
    AMBIGUOUS = "ambiguous"  # more than one PEM block
    UNSUPPORTED_TYPE = "unsupported_type"
    MALFORMED = "malformed"
    NOT_RSA = "not_rsa"
    KEY_SIZE = "key_size"


class SnapKeyError(ValueError):
    """A key (bank public key or simulator private key) that we cannot use. A configuration
    error from the admin or the CLI, not a SNAP response."""

    def __init__(self, kind: KeyErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------------------- keys


def _pem_text(pem: str | bytes) -> str:
    if isinstance(pem, bytes):
        if not pem.isascii():
            raise SnapKeyError(KeyErrorKind.NOT_PEM, "PEM must be ASCII")
        pem = pem.decode("ascii")
    if len(pem) > MAX_PEM_CHARS:
        raise SnapKeyError(KeyErrorKind.NOT_PEM, f"PEM longer than {MAX_PEM_CHARS} characters")
    labels = _PEM_LABEL_RE.findall(pem)
    if not labels:
        raise SnapKeyError(KeyErrorKind.NOT_PEM, "no -----BEGIN ...----- block found")
    if len(labels) > 1:
        raise SnapKeyError(
            KeyErrorKind.AMBIGUOUS, f"{len(labels)} PEM blocks; give exactly one key"
        )
    return pem


def _check_rsa_size(key_size: int) -> None:
    if not MIN_RSA_KEY_BITS <= key_size <= MAX_RSA_KEY_BITS:
        raise SnapKeyError(
            KeyErrorKind.KEY_SIZE,
            f"RSA key of {key_size} bits; need {MIN_RSA_KEY_BITS}..{MAX_RSA_KEY_BITS}",
        )


def load_bank_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """Load a bank's RSA public key from SPKI (``BEGIN PUBLIC KEY``), PKCS#1 (``BEGIN RSA
    PUBLIC KEY``) or an X.509 certificate (``BEGIN CERTIFICATE``).

    A certificate is only a container here: its dates and issuer are not checked, because the
    key is trusted by the out-of-band exchange with the bank, and a verifier that reads the
    clock would not be pure. Raises :class:`SnapKeyError`.
    """
    text = _pem_text(pem)
    label = _PEM_LABEL_RE.findall(text)[0]
    if label not in ("CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY"):
        raise SnapKeyError(
            KeyErrorKind.UNSUPPORTED_TYPE, f"{label!r} is not a public key or certificate"
        )
    data = text.encode("ascii")
    key: object
    try:
        if label == "CERTIFICATE":
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SnapKeyError(KeyErrorKind.MALFORMED, f"cannot read {label}: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnapKeyError(KeyErrorKind.NOT_RSA, f"{type(key).__name__} is not an RSA key")
    _check_rsa_size(key.key_size)
    return key


def load_private_key(pem: str | bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key (PKCS#8, PKCS#1 or encrypted PKCS#8), for the bank simulator.

    Raises :class:`SnapKeyError`.
    """
    text = _pem_text(pem)
    label = _PEM_LABEL_RE.findall(text)[0]
    if label not in ("PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        raise SnapKeyError(KeyErrorKind.UNSUPPORTED_TYPE, f"{label!r} is not a private key")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SnapKeyError(KeyErrorKind.MALFORMED, f"cannot read {label}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SnapKeyError(KeyErrorKind.NOT_RSA, f"{type(key).__name__} is not an RSA key")
    _check_rsa_size(key.key_size)
    return key


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    """The key as SPKI PEM (``BEGIN PUBLIC KEY``): the one form we store in a bank profile."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


# --------------------------------------------------------------------------------- timestamps


def parse_snap_timestamp(value: str, *, field: str = "X-TIMESTAMP") -> datetime:
    """Parse a SNAP timestamp into an aware datetime.

    Accepts ``2026-11-23T10:00:00+07:00`` (the ASPI form), with ``.SSS`` (1-9 digits, truncated
    to microseconds), ``Z``, ``+0700``, and the basic form ``20201231T235959Z``. A timestamp
    without an offset is ambiguous and refused. Raises :class:`SnapSecurityError`
    (``INVALID_TIMESTAMP``, mapped to ``400xx01 Invalid Field Format {field}``).
    """
    if len(value) > _MAX_TIMESTAMP_CHARS:
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_TIMESTAMP, f"{field} too long", field=field
        )
    for pattern in _TIMESTAMP_RES:
        match = pattern.fullmatch(value)
        if match:
            break
    else:
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_TIMESTAMP,
            f"{field} is not an ISO-8601 timestamp with offset: {value!r}",
            field=field,
        )
    frac = (match["frac"] or "")[:_FRACTION_DIGITS_KEPT].ljust(_FRACTION_DIGITS_KEPT, "0")
    tz_text = match["tz"]
    try:
        if tz_text == "Z":
            tz = UTC
        else:
            digits = tz_text[1:].replace(":", "")
            if int(digits[2:]) >= 60:
                raise ValueError("offset minutes out of range")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            tz = timezone(-offset if tz_text[0] == "-" else offset)
        return datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"]),
            int(frac),
            tzinfo=tz,
        )
    except ValueError as exc:  # month 13, second 60, offset ≥ 24 h ...
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_TIMESTAMP,
            f"{field} is not a valid date and time: {value!r}",
            field=field,
        ) from exc


def check_timestamp_window(
    timestamp: datetime, *, now: datetime, window_s: int = DEFAULT_SKEW_WINDOW_S
) -> None:
    """Refuse a timestamp more than ``window_s`` seconds away from ``now`` (either side).

    Both datetimes must be aware. Raises :class:`SnapSecurityError` (``TIMESTAMP_OUT_OF_WINDOW``,
    ``401xx00 Unauthorized. [Timestamp]``): a stale signed request is a replay until proven
    otherwise, so this is an authentication failure rather than a format error.
    """
    if now.tzinfo is None or timestamp.tzinfo is None:
        raise ValueError("check_timestamp_window needs timezone-aware datetimes")
    if not 0 < window_s <= MAX_SKEW_WINDOW_S:
        raise ValueError(f"window_s must be in 1..{MAX_SKEW_WINDOW_S}, got {window_s}")
    skew_s = abs((timestamp - now).total_seconds())
    if skew_s > window_s:
        raise SnapSecurityError(
            SecurityErrorKind.TIMESTAMP_OUT_OF_WINDOW,
            f"X-TIMESTAMP is {skew_s:.0f} s from our clock; the window is {window_s} s",
            field="X-TIMESTAMP",
        )


def format_snap_timestamp(moment: datetime) -> str:
    """An aware datetime as ``2026-11-23T10:00:00+07:00`` (ASPI's 25-character form)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("format_snap_timestamp needs a timezone-aware datetime")
    if offset.total_seconds() % 60:
        raise ValueError("SNAP offsets are whole minutes")
    return moment.replace(microsecond=0).isoformat()


# ------------------------------------------------------------------------------------ headers


@dataclass(frozen=True)
class TokenRequestHeaders:
    """Headers of ``POST …/access-token/b2b``; ``timestamp`` verbatim, ``timestamp_at`` parsed."""

    timestamp: str
    timestamp_at: datetime
    client_key: str
    signature: str


@dataclass(frozen=True)
class ServiceRequestHeaders:
    """Headers of a B2B transaction call (inquiry, payment, status).

    ``access_token`` is the Authorization value without ``Bearer`` (``None`` for the token-less
    asymmetric variant). ``channel_id`` is optional
    here although ASPI marks it mandatory: nothing we do depends on it.
    """

    timestamp: str
    timestamp_at: datetime
    signature: str
    access_token: str | None
    partner_id: str
    external_id: str
    channel_id: str | None


class HeaderItems(Protocol):
    """Anything with ``items()`` of header name and value: a dict, or Werkzeug's
    ``request.headers`` as it is."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def _lowercase_keys(headers: HeaderItems) -> dict[str, str]:
    # HTTP header names are case-insensitive; Werkzeug yields "X-Timestamp", banks send either.
    return {name.lower(): value for name, value in headers.items()}


def _required_header(headers: dict[str, str], name: str) -> str:
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise SnapSecurityError(
            SecurityErrorKind.MISSING_HEADER, f"header {name} is missing", field=name
        )
    return value


def _identifier_header(headers: dict[str, str], name: str) -> str:
    value = _required_header(headers, name)
    if len(value) > _HEADER_MAX_CHARS[name] or not _IDENTIFIER_RE.fullmatch(value):
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_HEADER,
            f"header {name} must be 1..{_HEADER_MAX_CHARS[name]} printable ASCII characters,"
            " sent once (no comma)",
            field=name,
        )
    return value


def _optional_identifier_header(headers: dict[str, str], name: str) -> str | None:
    if not headers.get(name.lower(), "").strip():
        return None
    return _identifier_header(headers, name)


def _timestamp_header(headers: dict[str, str]) -> tuple[str, datetime]:
    value = _required_header(headers, "X-TIMESTAMP")
    return value, parse_snap_timestamp(value)


def _signature_header(headers: dict[str, str]) -> str:
    value = _required_header(headers, "X-SIGNATURE")
    if len(value) > MAX_SIGNATURE_CHARS:
        raise SnapSecurityError(SecurityErrorKind.INVALID_SIGNATURE, "X-SIGNATURE too long")
    return value


def bearer_token(authorization: str | None) -> str:
    """``"Bearer abc"`` → ``"abc"``. The token is signed without the prefix (MT-DEMO).

    Raises :class:`SnapSecurityError` (``INVALID_TOKEN``, ``401xx01``) when the header is
    missing, has another scheme, or the token is empty, too long or not printable ASCII.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_TOKEN, "Authorization must be 'Bearer <access token>'"
        )
    if len(token) > MAX_ACCESS_TOKEN_CHARS or not _TOKEN_RE.fullmatch(token):
        raise SnapSecurityError(SecurityErrorKind.INVALID_TOKEN, "malformed access token")
    return token


def parse_token_headers(headers: HeaderItems) -> TokenRequestHeaders:
    """Check and extract the headers of a B2B token request. Raises :class:`SnapSecurityError`."""
    lower = _lowercase_keys(headers)
    timestamp, timestamp_at = _timestamp_header(lower)
    client_key = _identifier_header(lower, "X-CLIENT-KEY")
    signature = _signature_header(lower)
    return TokenRequestHeaders(timestamp, timestamp_at, client_key, signature)


def parse_service_headers(
    headers: HeaderItems, *, token_required: bool = True
) -> ServiceRequestHeaders:
    """Check and extract the headers of a transaction call. Raises :class:`SnapSecurityError`.

    ``token_required=False`` is the asymmetric, token-less variant (notifications signed with
    the sender's RSA key): an Authorization header is then ignored and ``access_token`` is
    ``None``.
    """
    lower = _lowercase_keys(headers)
    timestamp, timestamp_at = _timestamp_header(lower)
    signature = _signature_header(lower)
    access_token = bearer_token(lower.get("authorization")) if token_required else None
    partner_id = _identifier_header(lower, "X-PARTNER-ID")
    external_id = _identifier_header(lower, "X-EXTERNAL-ID")
    channel_id = _optional_identifier_header(lower, "CHANNEL-ID")
    return ServiceRequestHeaders(
        timestamp, timestamp_at, signature, access_token, partner_id, external_id, channel_id
    )


# ------------------------------------------------------------------------------ string to sign


def endpoint_url(path: str, query: str = "") -> str:
    """The EndpointUrl of the string to sign: ``path`` plus ``?query`` when there is one.

    Pass the path *as the bank called it* (with the ``/snap`` or ``/openapi`` prefix a proxy may
    have stripped) and the raw query string, neither decoded nor re-sorted.
    """
    return f"{path}?{query}" if query else path


def minify_json(body: bytes) -> bytes:
    """Delete JSON whitespace outside string literals; keep every other byte as received.

    This is SNAP's ``minify(RequestBody)`` without re-serialising: escapes, non-ASCII, key
    order and number spelling stay exactly as the bank sent them, and spaces inside strings
    (the padding of ``partnerServiceId``) survive. Never raises; invalid JSON passes through
    and then fails verification or parsing, whichever comes first.
    """

    def keep_strings(match: re.Match[bytes]) -> bytes:
        token = match[0]
        return token if token[:1] == b'"' else b""

    return _JSON_STRING_OR_WS.sub(keep_strings, body)


def body_sha256_hex(body: bytes) -> str:
    """``lowercase(hex(SHA-256(minify(body))))``; the empty body hashes as ``""``."""
    _check_body(body)
    return hashlib.sha256(minify_json(body)).hexdigest()


def _check_body(body: bytes) -> None:
    if not isinstance(body, bytes):
        raise TypeError("body must be the raw request bytes")
    if len(body) > MAX_BODY_BYTES:
        raise SnapSecurityError(
            SecurityErrorKind.BODY_TOO_LARGE, f"body longer than {MAX_BODY_BYTES} bytes"
        )


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from a mis-decoded request line
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_SIGNATURE, "string to sign is not valid Unicode"
        ) from exc


def _check_parts(method: str, url: str) -> None:
    # Both come from the request line, so a bad one is the caller's request, not our bug.
    if not _HTTP_METHOD_RE.fullmatch(method):
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_SIGNATURE, "HTTP method must be upper-case letters"
        )
    if not url.startswith("/") or len(url) > MAX_ENDPOINT_URL_CHARS:
        raise SnapSecurityError(
            SecurityErrorKind.INVALID_SIGNATURE,
            f"EndpointUrl must be a path of at most {MAX_ENDPOINT_URL_CHARS} characters",
        )


def _service_string(
    method: str, url: str, access_token: str | None, digest_hex: str, timestamp: str
) -> bytes:
    _check_parts(method, url)
    # The asymmetric (token-less) form has single colons: no empty slot (TV3).
    token_part = [] if access_token is None else [access_token]
    return _utf8(":".join([method, url, *token_part, digest_hex, timestamp]))


def _body_candidates(body: bytes) -> list[bytes]:
    """The body hashes a bank may have signed: minified (the spec), then as received."""
    _check_body(body)
    minified = minify_json(body)
    return [minified] if minified == body else [minified, body]


def symmetric_string_to_sign(
    *, method: str, endpoint_url: str, access_token: str, body: bytes, timestamp: str
) -> str:
    """``METHOD:EndpointUrl:AccessToken:lowerhex(sha256(minify(body))):X-TIMESTAMP``."""
    return _service_string(
        method, endpoint_url, access_token, body_sha256_hex(body), timestamp
    ).decode("utf-8")


def asymmetric_string_to_sign(
    *, method: str, endpoint_url: str, body: bytes, timestamp: str
) -> str:
    """``METHOD:EndpointUrl:lowerhex(sha256(minify(body))):X-TIMESTAMP`` (no token slot)."""
    return _service_string(method, endpoint_url, None, body_sha256_hex(body), timestamp).decode(
        "utf-8"
    )


def access_token_string_to_sign(client_key: str, timestamp: str) -> str:
    """``X-CLIENT-KEY|X-TIMESTAMP``, the string the bank signs to get a B2B token."""
    return f"{client_key}|{timestamp}"


# ------------------------------------------------------------------------- encode and decode


def _encode(signature: bytes, encoding: SignatureEncoding) -> str:
    if encoding is SignatureEncoding.HEX:
        return signature.hex()
    return base64.b64encode(signature).decode("ascii")


def _decode(signature: str, encoding: SignatureEncoding) -> bytes:
    failure = SnapSecurityError(
        SecurityErrorKind.INVALID_SIGNATURE, f"X-SIGNATURE is not {encoding.value}"
    )
    if len(signature) > MAX_SIGNATURE_CHARS or not signature.isascii():
        raise failure
    if encoding is SignatureEncoding.HEX:
        if len(signature) % 2 or not _HEX_RE.fullmatch(signature):
            raise failure
        return bytes.fromhex(signature)
    try:
        return base64.b64decode(signature, validate=True)
    except binascii.Error as exc:
        raise failure from exc


def _hmac_sha512(client_secret: str, message: bytes) -> bytes:
    # The key is the secret's UTF-8 bytes, never base64-decoded (TV1, snap-va.md §2.3).
    return hmac.new(client_secret.encode("utf-8"), message, hashlib.sha512).digest()


def _rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    # SHA256withRSA is PKCS#1 v1.5, not PSS (snap-va.md §2.5, pitfall 8).
    return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def _rsa_verifies(public_key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _bad_signature() -> SnapSecurityError:
    return SnapSecurityError(SecurityErrorKind.INVALID_SIGNATURE, "X-SIGNATURE does not verify")


# --------------------------------------------------------------------------- B2B access token


def sign_access_token(private_key: rsa.RSAPrivateKey, client_key: str, timestamp: str) -> str:
    """Bank side: base64 SHA256withRSA over ``client_key|timestamp``."""
    message = _utf8(access_token_string_to_sign(client_key, timestamp))
    return _encode(_rsa_sign(private_key, message), SignatureEncoding.BASE64)


def verify_access_token(
    public_key: rsa.RSAPublicKey, client_key: str, timestamp: str, signature: str
) -> None:
    """Biller side: check the token request's X-SIGNATURE with the bank's public key.

    Raises :class:`SnapSecurityError` (``INVALID_SIGNATURE``, ``4017300``).
    """
    decoded = _decode(signature, SignatureEncoding.BASE64)
    message = _utf8(access_token_string_to_sign(client_key, timestamp))
    if not _rsa_verifies(public_key, decoded, message):
        raise _bad_signature()


# ---------------------------------------------------------------------- symmetric (HMAC-SHA512)


def sign_symmetric(
    *,
    client_secret: str,
    method: str,
    endpoint_url: str,
    access_token: str,
    body: bytes,
    timestamp: str,
    encoding: SignatureEncoding = SignatureEncoding.BASE64,
) -> str:
    """Bank side: X-SIGNATURE of a transaction call (HMAC-SHA512 over the minified body)."""
    message = _service_string(method, endpoint_url, access_token, body_sha256_hex(body), timestamp)
    return _encode(_hmac_sha512(client_secret, message), encoding)


def verify_symmetric(
    *,
    client_secret: str,
    method: str,
    endpoint_url: str,
    access_token: str,
    body: bytes,
    timestamp: str,
    signature: str,
    encoding: SignatureEncoding = SignatureEncoding.BASE64,
) -> None:
    """Biller side: check a transaction call's X-SIGNATURE against the body as received.

    ``timestamp`` is the X-TIMESTAMP header verbatim; ``endpoint_url`` see :func:`endpoint_url`;
    ``access_token`` without ``Bearer``. Raises :class:`SnapSecurityError`
    (``INVALID_SIGNATURE`` → ``401xx00 Unauthorized. [Signature]``; ``BODY_TOO_LARGE``).
    """
    received = _decode(signature, encoding)
    matched = False
    for candidate in _body_candidates(body):
        digest_hex = hashlib.sha256(candidate).hexdigest()
        message = _service_string(method, endpoint_url, access_token, digest_hex, timestamp)
        # Bitwise OR, not "or": both candidates are always computed and compared.
        matched |= hmac.compare_digest(_hmac_sha512(client_secret, message), received)
    if not matched:
        raise _bad_signature()


# ------------------------------------------------------------------ asymmetric (SHA256withRSA)


def sign_asymmetric(
    *,
    private_key: rsa.RSAPrivateKey,
    method: str,
    endpoint_url: str,
    body: bytes,
    timestamp: str,
) -> str:
    """Sender side of a token-less notification: base64 SHA256withRSA, no token slot."""
    message = _service_string(method, endpoint_url, None, body_sha256_hex(body), timestamp)
    return _encode(_rsa_sign(private_key, message), SignatureEncoding.BASE64)


def verify_asymmetric(
    *,
    public_key: rsa.RSAPublicKey,
    method: str,
    endpoint_url: str,
    body: bytes,
    timestamp: str,
    signature: str,
) -> None:
    """Receiver side of a token-less notification. Raises :class:`SnapSecurityError`."""
    received = _decode(signature, SignatureEncoding.BASE64)
    for candidate in _body_candidates(body):
        digest_hex = hashlib.sha256(candidate).hexdigest()
        message = _service_string(method, endpoint_url, None, digest_hex, timestamp)
        if _rsa_verifies(public_key, received, message):
            return
    raise _bad_signature()
