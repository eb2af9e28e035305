"""The SNAP *client* side, shared by the simulated bank (VA) and acquirer (QRIS).

It plays the partner: holds an RSA key pair and the client secret we issued, gets a B2B token,
signs each call exactly as a bank does (``payments.snap.signature``) and sends it through a
:class:`Transport`: real HTTP against a URL (:class:`HttpTransport`, httpx with keep-alive) or
the Flask test client (:class:`FlaskTransport`) in tests and in-process demo use.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from payments.snap.signature import (
    format_snap_timestamp,
    load_private_key,
    public_key_pem,
    sign_access_token,
    sign_asymmetric,
    sign_symmetric,
)
from retribusi import clock

DEFAULT_TIMEOUT_S: Final = 10.0  # BRI gives the biller < 10 s; so does our simulated bank
TOKEN_PATH: Final = "/v1.0/access-token/b2b"  # noqa: S105 - a path, not a secret
#: Refresh a token this long before it expires, so a call never races its expiry.
TOKEN_MARGIN_S: Final = 60


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            decoded = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return decoded if isinstance(decoded, dict) else {}


class Transport(Protocol):
    def post(self, path: str, headers: Mapping[str, str], body: bytes) -> HttpReply: ...


class TransportError(RuntimeError):
    """The call never got an HTTP answer (connection refused, timeout)."""


class HttpTransport:
    """Real HTTP to ``base_url`` (``http://127.0.0.1:5000``), connections kept alive."""

    def __init__(self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    def post(self, path: str, headers: Mapping[str, str], body: bytes) -> HttpReply:
        try:
            reply = self._client.post(path, headers=dict(headers), content=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return HttpReply(reply.status_code, dict(reply.headers), reply.content)

    def close(self) -> None:
        self._client.close()


class FlaskTransport:
    """The Flask test client (or any object with a compatible ``post``): in-process WSGI."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def post(self, path: str, headers: Mapping[str, str], body: bytes) -> HttpReply:
        reply = self._client.post(path, headers=dict(headers), data=body)
        return HttpReply(reply.status_code, dict(reply.headers), reply.get_data())


# ------------------------------------------------------------------------------------- keys


def generate_key_pair(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The simulator's private key in ``path`` (PKCS#8 PEM), made on first use (mode 0600)."""
    if path.exists():
        return load_private_key(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key_pair()
    path.touch(mode=0o600)
    path.write_text(private_key_pem(key))
    return key


# ----------------------------------------------------------------------------- the partner


@dataclass
class PartnerIdentity:
    """Who the simulated partner is, in our profile's terms."""

    client_id: str  # X-CLIENT-KEY
    partner_id: str  # X-PARTNER-ID
    private_key: rsa.RSAPrivateKey
    client_secret: str = ""
    channel_id: str | None = None
    # Where our SNAP endpoints are, as the partner calls them ("/snap" without a proxy).
    path_prefix: str = "/snap"

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key.public_key())


@dataclass(frozen=True)
class SnapReply:
    """What a SNAP call got back."""

    status: int
    body: dict[str, Any]
    raw: bytes
    external_id: str
    sent_body: bytes

    @property
    def response_code(self) -> str:
        return str(self.body.get("responseCode", ""))


@dataclass
class _Token:
    value: str
    expires_at: float


Now = Callable[[], datetime]


@dataclass
class SnapClient:
    """Signs and sends SNAP calls for one partner; thread-safe (one token for all threads)."""

    identity: PartnerIdentity
    transport: Transport
    now: Now = clock.now
    _token: _Token | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _external_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    external_id_prefix: str = ""

    def timestamp(self) -> str:
        return format_snap_timestamp(clock.to_wib(self.now()))

    def next_external_id(self) -> str:
        """Unique per client per day: a prefix (e.g. the process's start time) and a counter."""
        return f"{self.external_id_prefix}{next(self._external_ids):012d}"[-36:]

    # --- token --------------------------------------------------------------------------

    def request_token(self, *, timestamp: str | None = None) -> SnapReply:
        """``POST …/access-token/b2b`` signed with our private key."""
        stamp = timestamp or self.timestamp()
        body = json.dumps({"grantType": "client_credentials", "additionalInfo": {}}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-TIMESTAMP": stamp,
            "X-CLIENT-KEY": self.identity.client_id,
            "X-SIGNATURE": sign_access_token(
                self.identity.private_key, self.identity.client_id, stamp
            ),
        }
        reply = self.transport.post(self.identity.path_prefix + TOKEN_PATH, headers, body)
        return SnapReply(reply.status, reply.json(), reply.body, "", body)

    def token(self, *, refresh: bool = False) -> str:
        with self._lock:
            moment = self.now().timestamp()
            if refresh or self._token is None or self._token.expires_at - TOKEN_MARGIN_S < moment:
                reply = self.request_token()
                token = reply.body.get("accessToken")
                if reply.response_code != "2007300" or not isinstance(token, str):
                    raise TransportError(f"no token: {reply.status} {reply.body}")
                lifetime = int(str(reply.body.get("expiresIn", "900")))
                self._token = _Token(token, moment + lifetime)
            return self._token.value

    # --- service calls ---------------------------------------------------------------------

    def signed_headers(
        self,
        path: str,
        body: bytes,
        *,
        external_id: str,
        timestamp: str | None = None,
        token: str | None = None,
        asymmetric: bool = False,
    ) -> dict[str, str]:
        """The headers of a service call to ``path`` (relative to the SNAP prefix)."""
        stamp = timestamp or self.timestamp()
        url = self.identity.path_prefix + path
        headers = {
            "Content-Type": "application/json",
            "X-TIMESTAMP": stamp,
            "X-PARTNER-ID": self.identity.partner_id,
            "X-EXTERNAL-ID": external_id,
        }
        if self.identity.channel_id:
            headers["CHANNEL-ID"] = self.identity.channel_id
        if asymmetric:
            headers["X-SIGNATURE"] = sign_asymmetric(
                private_key=self.identity.private_key,
                method="POST",
                endpoint_url=url,
                body=body,
                timestamp=stamp,
            )
            return headers
        access_token = token if token is not None else self.token()
        headers["Authorization"] = f"Bearer {access_token}"
        headers["X-SIGNATURE"] = sign_symmetric(
            client_secret=self.identity.client_secret,
            method="POST",
            endpoint_url=url,
            access_token=access_token,
            body=body,
            timestamp=stamp,
        )
        return headers

    def call(
        self,
        path: str,
        payload: Mapping[str, Any] | bytes,
        *,
        external_id: str | None = None,
        asymmetric: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> SnapReply:
        """Sign and send one call; a ``401xx01`` (token expired) is retried once with a new one.

        ``payload`` as bytes is sent exactly as given (tests of odd bodies); a mapping is
        serialised compactly with non-ASCII kept, as a JavaScript or Go client would.
        """
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )
        ext = external_id or self.next_external_id()
        for attempt in range(2):
            signed = self.signed_headers(
                path, body, external_id=ext, asymmetric=asymmetric, token=None
            )
            signed.update(headers or {})
            reply = self.transport.post(self.identity.path_prefix + path, signed, body)
            result = SnapReply(reply.status, reply.json(), reply.body, ext, body)
            if asymmetric or attempt or not result.response_code.endswith("01"):
                return result
            if result.status != 401:
                return result
            self.token(refresh=True)
        return result  # pragma: no cover - the loop always returns
