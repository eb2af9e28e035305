"""SNAP security: published known-answer vectors, round trips, every tamper case, bad inputs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import EnvironHeaders, Headers

from payments.snap.codes import Case, Service
from payments.snap.signature import (
    DEFAULT_SKEW_WINDOW_S,
    MAX_BODY_BYTES,
    KeyErrorKind,
    SecurityErrorKind,
    SignatureEncoding,
    SnapKeyError,
    SnapSecurityError,
    access_token_string_to_sign,
    asymmetric_string_to_sign,
    bearer_token,
    body_sha256_hex,
    check_timestamp_window,
    endpoint_url,
    format_snap_timestamp,
    load_bank_public_key,
    load_private_key,
    minify_json,
    parse_service_headers,
    parse_snap_timestamp,
    parse_token_headers,
    public_key_pem,
    sign_access_token,
    sign_asymmetric,
    sign_symmetric,
    symmetric_string_to_sign,
    verify_access_token,
    verify_asymmetric,
    verify_symmetric,
)

WIB = timezone(timedelta(hours=7))

# ----------------------------------------------------------------- published vectors (§4.1)

# TV2/TV3: Midtrans' public demo key pair (Midtrans/SNAP-BI-Signature-Demo, sample-code/
# asymmetricSignature/xSignatureGenerationNode.js). Published test material, not a secret.
MIDTRANS_DEMO_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCVZu2WHd4z5tbe
fkAWPjbB10Lgvu1CpsuIIVtO/wrrvKeD2LArmYSf5QxeJGG8HYlVYVp8I8/EVqay
JUbcyOd4aMLQFiCambDipecCfI7ecJ0K4+2ZneWOEq9JM91ZnGtwuLVdr1X/4/Nv
yGuNvmLAyfpJkU14yZliAUqJJ656jpM+WfY+hOpcLOzUe2wzx5RV7wYCyMl7/d1i
X33afJc6kbbUaA27yjlPdY6m0+DoZ0NNaRNZS7jzfJFtVXLTg/PgvwMNlMO/5Zyw
BWIOfWsD+MHUC6P9QYrHai8ZwEf9r+GivlNsAFs4NTpw9MdPngrexJm29k1Xh4UM
HV//jB1/AgMBAAECggEADcXGyitns/4oOauGyeYjUxw+eIxxP88zfRGiIralMZUb
Fi7wEpzc2oaZbMZK0jYg1mOanU4J1a4tQMfp7+l/WRzDNL6Nc+MOKN6lXJfR7dSQ
zZO0cBBbvIyhZwymb5/ZUbNdWM0UjvnbE6d0rsTpwp77+TMxYpynDJ9U2S70ySxe
fGi7x4rK02/8xmj1fY/Ls+uoYhF4IbGJIkFvrlAdWyFvv6sCGBYxl5sPuitgQxPv
Yc7dS7HE+6nZ+wWgoIXjC4CfxHBa9u3dfu3XAnPY3xpnVsbxCAH9OOIrZPY0C/Pq
gj+EElCBChUzDiedV3XipKUweDA+64sNm5NjqlqU8QKBgQDFf5a9vHVf9r2CTOgm
z5wTrK7aTwKwCNC4zpZUxDR8k7AV2gTelabpPWqUMZyRMUPs2hyBvhEWVNKxx3qs
7BAVpmcttuS5/dLNVdhNPUC2IgZqf3jWH2aS3lkci8DATQCphrEXZ3jrNaIRtrSC
kflE+yY8YP8b7ObktgvHz39JMQKBgQDBqCsMmOsQAveIQk5FGAMxsFU9G7OIBFHo
xpwkKUCjoqGxM+YQqDvcVeXNd/HdLnmR05//eoONemuDyYy8XRoud4tpaRKU/FK7
06WdljztB5rn2+cdUbmcU0fZiRQk+WuXsopZn3GUNvA/fQOW9qs7B5Rm5W71FeGk
ZgsvlAUlrwKBgQCUgFFaLWCcXa01UpqkxCp5aLi5EfvVXWuD6mKDLlzA51PZums6
6o/shO+kqoEtczu91mrk64NxpSof3vxRFdcqUEr4xrLJXx+oocnYmhwUVxU38s1r
Q4UfHe0nV7YBYmUDE3IJRRZY1aUdaKHmI9iok6e2csCfwMwEYRYOkekFoQKBgCyy
Oa1gpfA+Hw+N7i64ShRv1FyURi2Agb8uB9+4vbiG0rbpeZIioh5KnQ19P4+DKH/l
zinTBwXiWWpDXH4lJuPOp5ierbFBQ38ibDkg8dLrTG9zK7ZypFpWRmEI6GNYReLv
TEs/J6HDxFOC8Q8ow4COUUwmbCOY90lQXAiRK1b1AoGAScK1db9X5Ct+JtnjYyzi
GYLwyPhHCQIVmEDfuvbMs74woQsrBm3dBB3b2vf9pqcSZB4WAbTQ3wCdxCJKg6MN
6eXBO1M1lcIpZjCDyiXXi7PozNmkasRDUyDFwxlnyDLdRHL3FD+dh6do32FwGLBQ
u256RIyMB13qIuqrc91Z0hM=
-----END PRIVATE KEY-----
"""
MIDTRANS_DEMO_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlWbtlh3eM+bW3n5AFj42
wddC4L7tQqbLiCFbTv8K67yng9iwK5mEn+UMXiRhvB2JVWFafCPPxFamsiVG3Mjn
eGjC0BYgmpmw4qXnAnyO3nCdCuPtmZ3ljhKvSTPdWZxrcLi1Xa9V/+Pzb8hrjb5i
wMn6SZFNeMmZYgFKiSeueo6TPln2PoTqXCzs1HtsM8eUVe8GAsjJe/3dYl992nyX
OpG21GgNu8o5T3WOptPg6GdDTWkTWUu483yRbVVy04Pz4L8DDZTDv+WcsAViDn1r
A/jB1Auj/UGKx2ovGcBH/a/hor5TbABbODU6cPTHT54K3sSZtvZNV4eFDB1f/4wd
fwIDAQAB
-----END PUBLIC KEY-----
"""

TV1_BODY = (
    b'{"partnerReferenceNo":"2020102900000000000001","amount":{"value":"12345678.00",'
    b'"currency":"IDR"},"feeAmount":{"value":"12345678.00","currency":"IDR"},'
    b'"merchantId":"00007100010926","terminalId":"213141251124",'
    b'"validityPeriod":"2009-07-03T12:08:56-07:00"}'
)
TV1 = {
    "client_secret": "myclientsecret",
    "method": "POST",
    "endpoint_url": "/v1.0/qr/qr-mpm-generate",
    "access_token": "myaccesstoken",
    "body": TV1_BODY,
    "timestamp": "2024-03-05T10:37:16.196Z",
}
TV1_SIGNATURE = (
    "wmzT7yjg1SxxCsxNsFgCR9SYXiZGGbceF6fV8xe97sAMHxZ+7OEBMIBmvb6Sj6GcksGp3iv77DiomgSbcST3XQ=="
)
TV2_SIGNATURE = (
    "WzW49tYIgKIBmBi/gVBHGLAkhEaZlXM11zcZxAiyHji6TLPjPbwLu3Z45it25AIeG0XDItcdTSkds47zFEMh6IP0"
    "PXPIP1+Ey4RmX/o2fuYRF/xBHvfvKnMmANMTS1axsXBSW3EHqYpbVrkCcqNnB3u+wu63us9WIhRZaWgxgQ2PJLai"
    "VHIwgu9u7jxkWX7Bg4rerZH3RKdQfIJAAJsSN13efR7VdSAyzU7QaKjgislxrLqmesYNJkbD03XLjHdo6YWuzAVV"
    "7xdZRpLiGkIAkW7luXTBZYBO+4oENZAPQYzrLeN1qRY1Sr7BgLONCA2QA26BB6SYW4R7qofS9+RyOQ=="
)
TV3_BODY = (
    b'{"originalPartnerReferenceNo":"GP24043015193402809","originalReferenceNo":'
    b'"A120240430081940S9vu8gSjaRID","merchantId":"G099333790","amount":{"value":'
    b'"102800.00","currency":"IDR"},"latestTransactionStatus":"00","transactionStatusDesc":'
    b'"SUCCESS","additionalInfo":{"refundHistory":[]}}'
)
TV3_SIGNATURE = (
    "RoJnP2tH/YiOhHM/lMVBMSAuzRmS8VrWdIy04Qqyb56daV7oWFMFoMMzqnjQ+q0MIUalYgU094GWQnCx2c29xb1k"
    "kqHhv2+iJ9xl6NjGmFGYqyvcKvUDAV83Y1Mw9JnsEcjcupdGw9/MRv/mm2GMrQ+BCZGfc4a46JDyPZbcY294vDGq"
    "s5rFBN6iYer5ro4cAQGo9hET2G82Y+j50vCyO/79GFE4vB1rvtu6PK2Bxi+vTYV8k7P7PS8tOPWM2O+kjiVWjwvL"
    "R99Botou+a8sxlQqZaihfWMKcByzV+Lgkr9cptpjys+1NIRWT1ad/sJBSLHyldzC3q2oRn5z5oZmyg=="
)
TV4_BODY = (
    b'{"partnerServiceId":"  088899","customerNo":"12345678901234567890","virtualAccountNo":'
    b'"  08889912345678901234567890","virtualAccountName":"Jokul Doe","virtualAccountEmail":'
    b'"jokul@email.com","virtualAccountPhone":"6281828384858","trxId":"abcdefgh1234",'
    b'"totalAmount":{"value":"12345678.00","currency":"IDR"}}'
)
# snap-va.md §4.1 "self-computed": BCA's inquiry sample body with 3-space padding.
BCA_INQUIRY_BODY = (
    b'{"partnerServiceId":"   12345","customerNo":"123456789012345678","virtualAccountNo":'
    b'"   12345123456789012345678","trxDateInit":"2022-02-12T17:29:57+07:00","channelCode":6011,'
    b'"additionalInfo":{},"inquiryRequestId":"202202110909311234500001136962"}'
)


def test_tv1_symmetric_hmac_sha512() -> None:
    assert body_sha256_hex(TV1_BODY) == (
        "01463f60dbb6ca538581579dd95b31c8ba9fc6600eca750e4d8460ca4e402111"
    )
    assert symmetric_string_to_sign(
        method="POST",
        endpoint_url="/v1.0/qr/qr-mpm-generate",
        access_token="myaccesstoken",
        body=TV1_BODY,
        timestamp="2024-03-05T10:37:16.196Z",
    ) == (
        "POST:/v1.0/qr/qr-mpm-generate:myaccesstoken:"
        "01463f60dbb6ca538581579dd95b31c8ba9fc6600eca750e4d8460ca4e402111:2024-03-05T10:37:16.196Z"
    )
    assert sign_symmetric(**TV1) == TV1_SIGNATURE  # type: ignore[arg-type]
    verify_symmetric(**TV1, signature=TV1_SIGNATURE)  # type: ignore[arg-type]


def test_tv2_access_token_signature_is_reproduced_and_verifies() -> None:
    private_key = load_private_key(MIDTRANS_DEMO_PRIVATE_KEY)
    public_key = load_bank_public_key(MIDTRANS_DEMO_PUBLIC_KEY)
    timestamp = "2024-03-01T08:27:49.024Z"
    assert access_token_string_to_sign("G1234325-SNAP", timestamp) == (
        "G1234325-SNAP|2024-03-01T08:27:49.024Z"
    )
    # PKCS#1 v1.5 is deterministic, so signing reproduces the published bytes exactly.
    assert sign_access_token(private_key, "G1234325-SNAP", timestamp) == TV2_SIGNATURE
    verify_access_token(public_key, "G1234325-SNAP", timestamp, TV2_SIGNATURE)
    with pytest.raises(SnapSecurityError) as info:
        verify_access_token(public_key, "G1234325-SNAP", "2024-03-01T08:27:49.025Z", TV2_SIGNATURE)
    assert info.value.kind is SecurityErrorKind.INVALID_SIGNATURE
    assert info.value.response_code(Service.ACCESS_TOKEN_B2B) == "4017300"
    assert info.value.response_message == "Unauthorized. [Signature]"


def test_tv3_asymmetric_notification_verifies() -> None:
    public_key = load_bank_public_key(MIDTRANS_DEMO_PUBLIC_KEY)
    parts = {
        "method": "POST",
        "endpoint_url": "/v1.0/debit/notify",
        "body": TV3_BODY,
        "timestamp": "2024-05-02T14:43:08+07:00",
    }
    assert asymmetric_string_to_sign(**parts) == (  # type: ignore[arg-type]
        "POST:/v1.0/debit/notify:"
        "79ebbe6a6b695262dd686d0dedafc57c94e3b3dededf8d63971f8a95699ace85:2024-05-02T14:43:08+07:00"
    )
    verify_asymmetric(public_key=public_key, signature=TV3_SIGNATURE, **parts)  # type: ignore[arg-type]
    private_key = load_private_key(MIDTRANS_DEMO_PRIVATE_KEY)
    assert sign_asymmetric(private_key=private_key, **parts) == TV3_SIGNATURE  # type: ignore[arg-type]


def test_tv4_minify_keeps_the_padding_inside_strings() -> None:
    assert body_sha256_hex(TV4_BODY) == (
        "3274fab8dac896837b106a16da2a974e7e65142dcecb4b768ef0294102838977"
    )
    one_space = TV4_BODY.replace(b'"  0888', b'" 0888')
    three_spaces = TV4_BODY.replace(b'"  0888', b'"   0888')
    assert body_sha256_hex(one_space).startswith("a4701ea4")
    assert body_sha256_hex(three_spaces).startswith("a5872873")
    pretty = json.dumps(json.loads(TV4_BODY), indent=4).encode()
    assert body_sha256_hex(pretty) == body_sha256_hex(TV4_BODY)


def test_bca_inquiry_sample_regression() -> None:
    assert body_sha256_hex(BCA_INQUIRY_BODY) == (
        "0cc9c44d6734a85e485420e1b1efdc0ec1dc57fc7f503bfa0dd93ec227207c20"
    )
    signature = sign_symmetric(
        client_secret="myclientsecret",
        method="POST",
        endpoint_url="/v1.0/transfer-va/inquiry",
        access_token="myaccesstoken",
        body=BCA_INQUIRY_BODY,
        timestamp="2022-02-12T17:29:57+07:00",
    )
    assert signature == (
        "mtNU+NNGbaADYqorWRl0B7UEhItsmPYoFUbhl4jYZKyR8voOw2RIYaRCyXUT+e8YV1JTbculkA44KHKpezvOmQ=="
    )


def test_empty_body_hashes_as_the_empty_string() -> None:
    assert body_sha256_hex(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


# ------------------------------------------------------------------ symmetric tamper cases

SECRET = "s3cr3t-shared-with-the-bank"
PATH = "/snap/v1.0/transfer-va/payment"
TOKEN = "tok-0123456789abcdef"
TS = "2026-11-23T10:00:00+07:00"
PAYMENT_BODY = (
    '{"partnerServiceId":"   12345","customerNo":"0000012340","virtualAccountNo":'
    '"   123450000012340","virtualAccountName":"Bu Siti Rahayu – Kios A/12",'
    '"paymentRequestId":"REQ-1","paidAmount":{"value":"215670.00","currency":"IDR"}}'
).encode()


def _signed(body: bytes = PAYMENT_BODY, **overrides: str) -> dict[str, object]:
    parts: dict[str, object] = {
        "client_secret": SECRET,
        "method": "POST",
        "endpoint_url": PATH,
        "access_token": TOKEN,
        "body": body,
        "timestamp": TS,
    }
    parts["signature"] = sign_symmetric(**parts)  # type: ignore[arg-type]
    parts.update(overrides)
    return parts


def _rejects(parts: dict[str, object]) -> SnapSecurityError:
    with pytest.raises(SnapSecurityError) as info:
        verify_symmetric(**parts)  # type: ignore[arg-type]
    return info.value


def test_symmetric_round_trip() -> None:
    verify_symmetric(**_signed())  # type: ignore[arg-type]


@given(position=st.integers(0, len(PAYMENT_BODY) - 1), delta=st.integers(1, 255))
def test_any_changed_body_byte_fails(position: int, delta: int) -> None:
    parts = _signed()
    body = bytearray(PAYMENT_BODY)
    body[position] = (body[position] + delta) % 256
    parts["body"] = bytes(body)
    # Changing whitespace between tokens to other whitespace keeps the minified bytes; no such
    # whitespace exists in this minified body, so every change must be caught.
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE


@pytest.mark.parametrize(
    "reserialised",
    [
        # Python's default ensure_ascii escapes the en dash.
        json.dumps(json.loads(PAYMENT_BODY), separators=(",", ":")).encode(),
        # PHP json_encode escapes the slash.
        PAYMENT_BODY.replace(b"A/12", b"A\\/12"),
        # Key order changed.
        json.dumps(
            dict(sorted(json.loads(PAYMENT_BODY).items())),
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode(),
        # Padding stripped, as BCA's legacy minifier did.
        PAYMENT_BODY.replace(b'"   12345"', b'"12345"'),
    ],
)
def test_reserialised_body_fails(reserialised: bytes) -> None:
    assert reserialised != PAYMENT_BODY
    parts = _signed()
    parts["body"] = reserialised
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE
    # ...and the other way round: signed over the re-serialised form, checked over the original.
    parts = _signed(body=reserialised)
    parts["body"] = PAYMENT_BODY
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE


def test_pretty_printed_body_verifies_against_its_minified_form() -> None:
    pretty = json.dumps(json.loads(PAYMENT_BODY), indent=2, ensure_ascii=False).encode()
    parts = _signed()
    parts["body"] = pretty
    verify_symmetric(**parts)  # type: ignore[arg-type]


def test_body_hashed_as_sent_with_whitespace_is_also_accepted() -> None:
    spaced = b'{ "a" : "x  y" ,\n "b" : 1 }'
    digest = hashlib.sha256(spaced).hexdigest()  # a bank that signs what it sends
    message = f"POST:{PATH}:{TOKEN}:{digest}:{TS}".encode()
    signature = base64.b64encode(
        hmac.new(SECRET.encode(), message, hashlib.sha512).digest()
    ).decode()
    verify_symmetric(
        client_secret=SECRET,
        method="POST",
        endpoint_url=PATH,
        access_token=TOKEN,
        body=spaced,
        timestamp=TS,
        signature=signature,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("endpoint_url", "/v1.0/transfer-va/payment"),  # proxy stripped the /snap prefix
        ("endpoint_url", PATH + "/"),
        ("endpoint_url", PATH + "?x=1"),
        ("endpoint_url", "/snap/v1.0/transfer-va/inquiry"),
        ("access_token", TOKEN + "x"),
        ("access_token", "Bearer " + TOKEN),
        ("timestamp", "2026-11-23T10:00:01+07:00"),
        ("timestamp", "2026-11-23T03:00:00Z"),  # same instant, reformatted
        ("timestamp", "2026-11-23T10:00:00.000+07:00"),
        ("method", "PUT"),
        ("client_secret", SECRET + " "),
        ("client_secret", base64.b64encode(SECRET.encode()).decode()),
    ],
)
def test_any_other_part_fails(name: str, value: str) -> None:
    parts = _signed()
    parts[name] = value
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE


def test_query_string_is_signed_as_called_not_resorted() -> None:
    url = endpoint_url(PATH, "b=2&a=1")
    assert url == PATH + "?b=2&a=1"
    assert endpoint_url(PATH, "") == PATH
    parts = _signed(endpoint_url=url)
    parts["signature"] = sign_symmetric(
        client_secret=SECRET,
        method="POST",
        endpoint_url=url,
        access_token=TOKEN,
        body=PAYMENT_BODY,
        timestamp=TS,
    )
    verify_symmetric(**parts)  # type: ignore[arg-type]
    parts["endpoint_url"] = PATH + "?a=1&b=2"
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "not base64!",
        TV1_SIGNATURE,  # valid base64 of the right length, wrong value
        "AAAA",
        "A" * 2000,  # too long
        "wmzT7yjg1SxxCsxNsFgCR9SYXiZGGbceF6fV8xe97sAMHxZ+7OEBMIBmvb6Sj6GcksGp3iv77DiomgSbcST3XQ",
        "é" * 10,
    ],
)
def test_malformed_or_wrong_signatures_fail(signature: str) -> None:
    error = _rejects(_signed(signature=signature))
    assert error.kind is SecurityErrorKind.INVALID_SIGNATURE
    assert error.response_code(Service.VA_PAYMENT) == "4012500"


def test_truncated_signature_fails() -> None:
    good = _signed()["signature"]
    assert isinstance(good, str)
    assert _rejects(_signed(signature=good[:-4])).kind is SecurityErrorKind.INVALID_SIGNATURE


def test_hex_encoding_only_when_the_profile_says_so() -> None:
    hex_signature = sign_symmetric(
        client_secret=SECRET,
        method="POST",
        endpoint_url=PATH,
        access_token=TOKEN,
        body=PAYMENT_BODY,
        timestamp=TS,
        encoding=SignatureEncoding.HEX,
    )
    assert len(hex_signature) == 128
    parts = _signed(signature=hex_signature)
    verify_symmetric(**parts, encoding=SignatureEncoding.HEX)  # type: ignore[arg-type]
    assert _rejects(parts).kind is SecurityErrorKind.INVALID_SIGNATURE  # base64 expected
    for bad in (hex_signature[:-1], "zz" * 64, hex_signature[:10] + " " + hex_signature[11:]):
        with pytest.raises(SnapSecurityError):
            verify_symmetric(
                **_signed(signature=bad),  # type: ignore[arg-type]
                encoding=SignatureEncoding.HEX,
            )


@pytest.mark.parametrize("method", ["post", "", "P0ST", "VERYLONGMETHOD"])
def test_bad_method_is_a_signature_failure(method: str) -> None:
    assert _rejects(_signed(method=method)).kind is SecurityErrorKind.INVALID_SIGNATURE


@pytest.mark.parametrize("url", ["", "v1.0/transfer-va/payment", "/" + "a" * 2048])
def test_bad_endpoint_url_is_a_signature_failure(url: str) -> None:
    assert _rejects(_signed(endpoint_url=url)).kind is SecurityErrorKind.INVALID_SIGNATURE


def test_lone_surrogate_in_path_is_a_signature_failure_not_a_crash() -> None:
    assert (
        _rejects(_signed(endpoint_url="/snap/\udcff")).kind is SecurityErrorKind.INVALID_SIGNATURE
    )


def test_body_too_large_is_bad_request() -> None:
    big = b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}'
    parts = _signed(body=b"{}")
    parts["body"] = big
    error = _rejects(parts)
    assert error.kind is SecurityErrorKind.BODY_TOO_LARGE
    assert error.response_code(Service.VA_INQUIRY) == "4002400"
    with pytest.raises(SnapSecurityError):
        body_sha256_hex(big)


def test_body_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        body_sha256_hex("{}")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ minify

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.text(st.characters(codec="utf-8"), max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(value=_json_values, indent=st.sampled_from([None, 0, 2, "\t"]), ascii_only=st.booleans())
def test_minify_equals_compact_serialisation_of_the_same_text(
    value: object, indent: int | str | None, ascii_only: bool
) -> None:
    pretty = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode()
    assert minify_json(pretty) == compact
    assert minify_json(compact) == compact


@given(st.binary(max_size=300))
def test_minify_never_raises_and_is_idempotent(data: bytes) -> None:
    once = minify_json(data)
    assert minify_json(once) == once
    assert len(once) <= len(data)


def test_minify_keeps_escapes_and_whitespace_inside_strings() -> None:
    raw = b'{ "a" : "  x \\" y\\\\" ,\r\n\t"b":[ 1 , 2 ] }'
    assert minify_json(raw) == b'{"a":"  x \\" y\\\\","b":[1,2]}'


@pytest.mark.parametrize("pattern", [b'"\\"', b'"\\', b'\\"', b'" ', b"\"'"])
def test_minify_is_linear_on_hostile_input(pattern: bytes) -> None:
    hostile = (pattern * (MAX_BODY_BYTES // len(pattern)))[:MAX_BODY_BYTES]
    started = time.perf_counter()
    minify_json(hostile)
    assert time.perf_counter() - started < 0.5


# --------------------------------------------------------------------- asymmetric, B2B


@pytest.fixture(scope="module")
def bank_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_access_token_round_trip_and_tampering(
    bank_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    public_key = load_bank_public_key(public_key_pem(bank_key.public_key()))
    signature = sign_access_token(bank_key, "BANK-CLIENT", TS)
    verify_access_token(public_key, "BANK-CLIENT", TS, signature)
    tampered = [
        ("BANK-CLIENX", TS, signature),
        ("BANK-CLIENT", "2026-11-23T10:00:01+07:00", signature),
        ("BANK-CLIENT", TS, sign_access_token(other_key, "BANK-CLIENT", TS)),
        ("BANK-CLIENT", TS, signature[:-4]),
        ("BANK-CLIENT", TS, "%%%"),
        ("BANK-CLIENT", TS, ""),
    ]
    for client_key, timestamp, candidate in tampered:
        with pytest.raises(SnapSecurityError) as info:
            verify_access_token(public_key, client_key, timestamp, candidate)
        assert info.value.kind is SecurityErrorKind.INVALID_SIGNATURE


def test_asymmetric_round_trip_and_tampering(
    bank_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    public_key = bank_key.public_key()
    parts: dict[str, object] = {
        "method": "POST",
        "endpoint_url": PATH,
        "body": PAYMENT_BODY,
        "timestamp": TS,
    }
    signature = sign_asymmetric(private_key=bank_key, **parts)  # type: ignore[arg-type]
    verify_asymmetric(public_key=public_key, signature=signature, **parts)  # type: ignore[arg-type]
    variants: list[tuple[dict[str, object], str]] = [
        ({**parts, "body": PAYMENT_BODY.replace(b"215670", b"215671")}, signature),
        ({**parts, "endpoint_url": PATH + "?a=1"}, signature),
        ({**parts, "timestamp": "2026-11-23T10:00:01+07:00"}, signature),
        (parts, sign_asymmetric(private_key=other_key, **parts)),  # type: ignore[arg-type]
    ]
    for variant, candidate in variants:
        with pytest.raises(SnapSecurityError) as info:
            verify_asymmetric(public_key=public_key, signature=candidate, **variant)  # type: ignore[arg-type]
        assert info.value.kind is SecurityErrorKind.INVALID_SIGNATURE


# ------------------------------------------------------------------------------- keys


def _self_signed_certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2021, 1, 1, tzinfo=UTC))  # expired: only a key container
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_public_key_forms(bank_key: rsa.RSAPrivateKey) -> None:
    public = bank_key.public_key()
    numbers = public.public_numbers()
    spki = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert b"BEGIN RSA PUBLIC KEY" in pkcs1
    for pem in (spki, pkcs1, spki.decode(), _self_signed_certificate(bank_key)):
        assert load_bank_public_key(pem).public_numbers() == numbers
    assert public_key_pem(load_bank_public_key(pkcs1)) == spki.decode()


def test_private_key_forms(bank_key: rsa.RSAPrivateKey) -> None:
    numbers = bank_key.private_numbers()
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = bank_key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        assert load_private_key(pem).private_numbers() == numbers
    encrypted = bank_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert load_private_key(encrypted, password=b"pw").private_numbers() == numbers
    for password in (None, b"wrong"):
        with pytest.raises(SnapKeyError) as info:
            load_private_key(encrypted, password=password)
        assert info.value.kind is KeyErrorKind.MALFORMED


def test_bad_public_keys_are_typed_errors(bank_key: rsa.RSAPrivateKey) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    ec_key = ec.generate_private_key(ec.SECP256R1())
    spki = public_key_pem(bank_key.public_key())
    private_pem = bank_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cases: list[tuple[str | bytes, KeyErrorKind]] = [
        ("", KeyErrorKind.NOT_PEM),
        ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlWbtlh3eM", KeyErrorKind.NOT_PEM),
        ("é".encode(), KeyErrorKind.NOT_PEM),
        ("-----BEGIN PUBLIC KEY-----\n" + "A" * 20_000, KeyErrorKind.NOT_PEM),
        (spki + spki, KeyErrorKind.AMBIGUOUS),
        (private_pem, KeyErrorKind.UNSUPPORTED_TYPE),
        (
            "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
            KeyErrorKind.MALFORMED,
        ),
        (spki.replace("MII", "MIJ", 1), KeyErrorKind.MALFORMED),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", KeyErrorKind.MALFORMED),
        (public_key_pem(small.public_key()), KeyErrorKind.KEY_SIZE),
        (
            ec_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            KeyErrorKind.NOT_RSA,
        ),
        (_self_signed_certificate(ec_key), KeyErrorKind.NOT_RSA),
    ]
    for pem, kind in cases:
        with pytest.raises(SnapKeyError) as info:
            load_bank_public_key(pem)
        assert info.value.kind is kind, pem


def test_bad_private_keys_are_typed_errors() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    ec_key = ec.generate_private_key(ec.SECP256R1())
    plain = serialization.NoEncryption()
    cases: list[tuple[str | bytes, KeyErrorKind]] = [
        (MIDTRANS_DEMO_PUBLIC_KEY, KeyErrorKind.UNSUPPORTED_TYPE),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", KeyErrorKind.MALFORMED),
        (
            small.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, plain
            ),
            KeyErrorKind.KEY_SIZE,
        ),
        (
            ec_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, plain
            ),
            KeyErrorKind.NOT_RSA,
        ),
    ]
    for pem, kind in cases:
        with pytest.raises(SnapKeyError) as info:
            load_private_key(pem)
        assert info.value.kind is kind


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00+07:00", datetime(2026, 11, 23, 10, tzinfo=WIB)),
        ("2026-11-23T10:00:00.123+07:00", datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=WIB)),
        ("2024-03-05T10:37:16.196Z", datetime(2024, 3, 5, 10, 37, 16, 196000, tzinfo=UTC)),
        ("2026-11-23T10:00:00+0700", datetime(2026, 11, 23, 10, tzinfo=WIB)),
        ("2026-11-23T03:00:00-05:30", datetime(2026, 11, 23, 8, 30, tzinfo=UTC)),
        ("20201231T235959Z", datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("20201231T235959+0700", datetime(2020, 12, 31, 23, 59, 59, tzinfo=WIB)),
        (
            "2026-11-23T10:00:00.123456789+07:00",
            datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=WIB),
        ),
    ],
)
def test_timestamp_variants(text: str, expected: datetime) -> None:
    parsed = parse_snap_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-23T10:00:00",  # no offset: ambiguous
        "2026-11-23 10:00:00+07:00",
        "2026-11-23t10:00:00z",
        "2026-13-01T10:00:00+07:00",
        "2026-02-30T10:00:00+07:00",
        "2026-11-23T24:00:00+07:00",
        "2026-11-23T10:00:60+07:00",
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00+07:60",
        "2026-11-23T10:00:00+7:00",
        "2026-1123T100000+07:00",  # extended and basic mixed
        "２０２６-11-23T10:00:00+07:00",  # full-width digits
        "2026-11-23T10:00:00.+07:00",
        "2026-11-23T10:00:00.1234567890+07:00",
        "2026-11-23T10:00:00+07:00 ",
        "1" * 100,
        "1700000000",
    ],
)
def test_bad_timestamps_are_invalid_field_format(text: str) -> None:
    with pytest.raises(SnapSecurityError) as info:
        parse_snap_timestamp(text)
    assert info.value.kind is SecurityErrorKind.INVALID_TIMESTAMP
    assert info.value.response_code(Service.ACCESS_TOKEN_B2B) == "4007301"
    assert info.value.response_message == "Invalid Field Format {X-TIMESTAMP}"


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2099, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, WIB, timezone(timedelta(hours=-3, minutes=-30)), timezone(timedelta(hours=9))]
        ),
    )
)
def test_format_then_parse_round_trips(moment: datetime) -> None:
    text = format_snap_timestamp(moment)
    assert len(text) == 25
    assert parse_snap_timestamp(text) == moment.replace(microsecond=0)


def test_format_needs_aware_whole_minute_offsets() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_snap_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="minutes"):
        format_snap_timestamp(datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30))))


def test_skew_window() -> None:
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    sent = parse_snap_timestamp("2026-11-23T10:00:00+07:00")
    check_timestamp_window(sent, now=now)
    check_timestamp_window(sent, now=now + timedelta(seconds=DEFAULT_SKEW_WINDOW_S))
    check_timestamp_window(sent, now=now - timedelta(seconds=DEFAULT_SKEW_WINDOW_S))
    for offset_s in (DEFAULT_SKEW_WINDOW_S + 1, -DEFAULT_SKEW_WINDOW_S - 1, 86_400):
        with pytest.raises(SnapSecurityError) as info:
            check_timestamp_window(sent, now=now + timedelta(seconds=offset_s))
        assert info.value.kind is SecurityErrorKind.TIMESTAMP_OUT_OF_WINDOW
        assert info.value.response_code(Service.VA_INQUIRY) == "4012400"
        assert info.value.response_message == "Unauthorized. [Timestamp]"
    check_timestamp_window(sent, now=now + timedelta(seconds=30), window_s=30)
    with pytest.raises(SnapSecurityError):
        check_timestamp_window(sent, now=now + timedelta(seconds=31), window_s=30)


def test_skew_window_programmer_errors() -> None:
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        check_timestamp_window(aware, now=naive)
    with pytest.raises(ValueError, match="aware"):
        check_timestamp_window(naive, now=aware)
    for window_s in (0, -1, 86_401):
        with pytest.raises(ValueError, match="window_s"):
            check_timestamp_window(aware, now=aware, window_s=window_s)


# ------------------------------------------------------------------------------ headers

SERVICE_HEADERS = {
    "X-Timestamp": TS,  # Werkzeug's capitalisation
    "x-signature": "c2ln",
    "Authorization": "Bearer " + TOKEN,
    "X-PARTNER-ID": "12345",
    "X-EXTERNAL-ID": "41807553358950093184162180797837",
    "CHANNEL-ID": "95231",
    "Content-Type": "application/json",
}


def test_service_headers() -> None:
    headers = parse_service_headers(SERVICE_HEADERS)
    assert headers.timestamp == TS
    assert headers.timestamp_at == datetime(2026, 11, 23, 3, tzinfo=UTC)
    assert headers.signature == "c2ln"
    assert headers.access_token == TOKEN
    assert headers.partner_id == "12345"
    assert headers.external_id == "41807553358950093184162180797837"
    assert headers.channel_id == "95231"
    without_channel = {k: v for k, v in SERVICE_HEADERS.items() if k != "CHANNEL-ID"}
    assert parse_service_headers(without_channel).channel_id is None


@pytest.mark.parametrize(
    ("name", "value", "kind", "code"),
    [
        ("X-Timestamp", None, SecurityErrorKind.MISSING_HEADER, "4002502"),
        ("X-Timestamp", "  ", SecurityErrorKind.MISSING_HEADER, "4002502"),
        ("X-Timestamp", "yesterday", SecurityErrorKind.INVALID_TIMESTAMP, "4002501"),
        ("x-signature", None, SecurityErrorKind.MISSING_HEADER, "4002502"),
        ("x-signature", "A" * 1401, SecurityErrorKind.INVALID_SIGNATURE, "4012500"),
        ("Authorization", None, SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", TOKEN, SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", "Basic " + TOKEN, SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", "Bearer ", SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", "Bearer a b", SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", "Bearer " + "t" * 2049, SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("Authorization", "Bearer tökén", SecurityErrorKind.INVALID_TOKEN, "4012501"),
        ("X-PARTNER-ID", None, SecurityErrorKind.MISSING_HEADER, "4002502"),
        ("X-PARTNER-ID", "p" * 37, SecurityErrorKind.INVALID_HEADER, "4002501"),
        ("X-EXTERNAL-ID", None, SecurityErrorKind.MISSING_HEADER, "4002502"),
        ("X-EXTERNAL-ID", "e" * 37, SecurityErrorKind.INVALID_HEADER, "4002501"),
        ("X-EXTERNAL-ID", "has space", SecurityErrorKind.INVALID_HEADER, "4002501"),
        ("X-EXTERNAL-ID", "ünïcode", SecurityErrorKind.INVALID_HEADER, "4002501"),
        ("CHANNEL-ID", "123456", SecurityErrorKind.INVALID_HEADER, "4002501"),
    ],
)
def test_bad_service_headers(
    name: str, value: str | None, kind: SecurityErrorKind, code: str
) -> None:
    headers = {k: v for k, v in SERVICE_HEADERS.items() if k != name}
    if value is not None:
        headers[name] = value
    with pytest.raises(SnapSecurityError) as info:
        parse_service_headers(headers)
    assert info.value.kind is kind
    assert info.value.response_code(Service.VA_PAYMENT) == code
    if kind in (SecurityErrorKind.MISSING_HEADER, SecurityErrorKind.INVALID_HEADER):
        assert name.upper() in info.value.response_message.upper()


def test_token_headers() -> None:
    headers = {"X-TIMESTAMP": TS, "X-CLIENT-KEY": "BANK-CLIENT", "X-SIGNATURE": "c2ln"}
    parsed = parse_token_headers(headers)
    assert (parsed.client_key, parsed.timestamp, parsed.signature) == ("BANK-CLIENT", TS, "c2ln")
    for missing, message in [
        ("X-CLIENT-KEY", "Invalid Mandatory Field {X-CLIENT-KEY}"),
        ("X-TIMESTAMP", "Invalid Mandatory Field {X-TIMESTAMP}"),
        ("X-SIGNATURE", "Invalid Mandatory Field {X-SIGNATURE}"),
    ]:
        with pytest.raises(SnapSecurityError) as info:
            parse_token_headers({k: v for k, v in headers.items() if k != missing})
        assert info.value.response_code(Service.ACCESS_TOKEN_B2B) == "4007302"
        assert info.value.response_message == message
    with pytest.raises(SnapSecurityError) as info:
        parse_token_headers({**headers, "X-CLIENT-KEY": "k" * 129})
    assert info.value.response_code(Service.ACCESS_TOKEN_B2B) == "4007301"


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    for bad in (None, "", "Bearer", "abc", "Token abc"):
        with pytest.raises(SnapSecurityError) as info:
            bearer_token(bad)
        assert info.value.kind is SecurityErrorKind.INVALID_TOKEN
        assert info.value.case is Case.INVALID_TOKEN


def test_unknown_client_kind_for_the_endpoint() -> None:
    error = SnapSecurityError(SecurityErrorKind.UNKNOWN_CLIENT, "no bank profile for this key")
    assert error.response_code(Service.ACCESS_TOKEN_B2B) == "4017300"
    assert error.response_message == "Unauthorized. [Unknown client]"
    assert error.http_status == 401


def test_werkzeug_headers_are_accepted_as_they_are() -> None:
    headers = Headers(SERVICE_HEADERS)
    assert parse_service_headers(headers).access_token == TOKEN
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in SERVICE_HEADERS.items()}
    assert (
        parse_service_headers(EnvironHeaders(environ)).external_id
        == (SERVICE_HEADERS["X-EXTERNAL-ID"])
    )


def test_docs_worked_example() -> None:
    """The example in docs/snap-va.md, so the document cannot drift from the code."""
    body = (
        b'{"partnerServiceId":"   12345","customerNo":"0000012340","virtualAccountNo":'
        b'"   123450000012340","trxDateInit":"2026-11-23T10:00:00+07:00","channelCode":6011,'
        b'"inquiryRequestId":"202611231000001234500001"}'
    )
    parts = {
        "method": "POST",
        "endpoint_url": "/snap/v1.0/transfer-va/inquiry",
        "access_token": "myaccesstoken",
        "body": body,
        "timestamp": "2026-11-23T10:00:00+07:00",
    }
    digest = "42a2f09c5327bde3c8f9afb6f94bf24fe0a6c2d5a141de1467606b40525fae32"
    assert body_sha256_hex(body) == digest
    assert symmetric_string_to_sign(**parts) == (  # type: ignore[arg-type]
        f"POST:/snap/v1.0/transfer-va/inquiry:myaccesstoken:{digest}:2026-11-23T10:00:00+07:00"
    )
    assert sign_symmetric(client_secret="myclientsecret", **parts) == (  # type: ignore[arg-type]
        "to7MsOV0VJvuhFoVtuNAh7B8Xb03AReE4MnWSZXfnSqROxqrSi6yxrV1QtpuUSo1eZ3RWybdKI/4sqZDbK8Wmg=="
    )
