"""QRIS pages and images over HTTP: who may see which code, and that the codes read back."""

from __future__ import annotations

import io
import re

import pypdfium2
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from payments.qris import decode
from payments.qris.models import QrisCode
from retribusi.auth.models import Role
from retribusi.extensions import db
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from tests.qris.conftest import Market, as_vendor_of
from tests.qris.test_scan import read as read_image


def read(data: bytes) -> list[str]:
    """The QR codes in a PNG (QR only: a run of modules can pass for a one-dimensional code)."""
    return read_image(Image.open(io.BytesIO(data)))


def pay(client: FlaskClient, bill_ids: list[int], **extra: str) -> object:
    token = csrf_token(client, "/")
    data = {"csrf_token": token, "bill_id": [str(b) for b in bill_ids], **extra}
    return client.post("/qris/bayar", data=data)


# --------------------------------------------------------------------------------- stall cards


def test_officer_prints_the_cards_of_a_block(
    client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    page = client.get("/qris/kartu?market=KLEWER")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/qris/kartu.pdf?market=KLEWER&amp;block=A" in html
    assert "LEGI" not in html  # not one of the officer's markets
    whole = client.get("/qris/kartu.pdf?market=KLEWER")
    assert whole.status_code == 200
    assert whole.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(whole.data)
    assert len(document) == market.klewer_stalls
    block_a = pypdfium2.PdfDocument(client.get("/qris/kartu.pdf?market=KLEWER&block=A").data)
    assert len(block_a) == 2
    image = block_a[0].render(scale=150 / 72).to_pil()
    (payload,) = read_image(image)
    decoded = decode(payload)
    assert decoded.valid and decoded.value("01") == "11"
    assert decoded.value(
        "62.07",
    ) is not None and decoded.value("62.07").startswith("KLEWER-A-")  # type: ignore[union-attr]
    assert "Pasar Klewer" in block_a[0].get_textpage().get_text_range()


def test_cards_show_the_holders_virtual_accounts(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    from payments.va.services import va_numbers_for_vendor
    from tests.snap.helpers import register

    register(app, code="JATENG", company_code="12345")
    with app.app_context():
        (number,) = va_numbers_for_vendor(market.vendor_id)
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    card = pypdfium2.PdfDocument(client.get(f"/qris/kios/{market.klewer_stall}/kartu.pdf").data)
    text = card[0].get_textpage().get_text_range()
    assert number.digits in text
    assert number.bank_name in text


def test_officer_is_kept_to_their_markets(
    client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    assert client.get("/qris/kartu.pdf?market=LEGI").status_code == 403
    assert client.get(f"/qris/kios/{market.legi_stall}/kartu.pdf").status_code == 403
    assert client.get(f"/qris/kios/{market.legi_stall}.png").status_code == 403
    one = client.get(f"/qris/kios/{market.klewer_stall}/kartu.pdf")
    assert one.status_code == 200
    assert len(pypdfium2.PdfDocument(one.data)) == 1
    assert client.get("/qris/kartu.pdf?market=NOWHERE").status_code == 404
    assert client.get("/qris/kartu.pdf?market=klewer;drop").status_code == 404
    assert client.get("/qris/kartu.pdf?market=KLEWER&block=Z").status_code == 404


def test_static_code_images(client: FlaskClient, auth: AuthActions, market: Market) -> None:
    auth.login_as(Role.FINANCE)
    png = client.get(f"/qris/kios/{market.klewer_stall}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    (payload,) = read(png.data)
    assert decode(payload).valid
    svg = client.get(f"/qris/kios/{market.klewer_stall}.svg")
    assert svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).startswith("<svg")
    assert client.get(f"/qris/kios/{market.klewer_stall}.gif").status_code == 404
    assert client.get("/qris/kios/999999.png").status_code == 404


def test_vendors_and_strangers(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    assert client.get("/qris/kartu").status_code == 302  # sign in first
    as_vendor_of(app, auth, market.vendor_id)
    assert client.get(f"/qris/kios/{market.klewer_stall}.png").status_code == 200  # their stall
    assert client.get(f"/qris/kios/{market.legi_stall}.png").status_code == 403
    assert client.get("/qris/kartu").status_code == 403  # cards are for staff


# ---------------------------------------------------------------------------- dynamic codes


def test_vendor_makes_and_scans_a_bill_code(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    as_vendor_of(app, auth, market.vendor_id)
    made = pay(client, market.bill_ids)
    assert made.status_code == 302  # type: ignore[attr-defined]
    location = made.headers["Location"]  # type: ignore[attr-defined]
    reference = re.fullmatch(r"/qris/kode/(Q[0-9A-F]{12})", location)
    assert reference, location
    page = client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "Rp" in html
    png = client.get(f"{location}.png")
    assert png.headers["Cache-Control"] == "no-store"
    (payload,) = read(png.data)
    decoded = decode(payload)
    assert decoded.valid
    assert decoded.value("62.05") == reference.group(1)
    with app.app_context():
        code = db.session.scalars(sa.select(QrisCode)).one()
        assert decoded.amount_idr == code.amount_idr
        assert list(code.bill_ids) == market.bill_ids
    # The same bills again: the same live code, no new row.
    assert pay(client, list(reversed(market.bill_ids))).headers["Location"] == location  # type: ignore[attr-defined]


def test_code_requests_that_are_refused(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    as_vendor_of(app, auth, market.vendor_id)
    assert (
        client.post("/qris/bayar", data={"bill_id": str(market.bill_ids[0])}).status_code == 400
    )  # no CSRF
    refused = pay(client, [999_999])
    assert refused.status_code == 302  # type: ignore[attr-defined]
    assert "/qris/kode/" not in refused.headers["Location"]  # type: ignore[attr-defined]
    assert pay(client, []).status_code == 302  # type: ignore[attr-defined]
    token = csrf_token(client, "/")
    elsewhere = client.post(
        "/qris/bayar",
        data={"csrf_token": token, "bill_id": "999999"},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert elsewhere.headers["Location"] == "/"  # never back to another site
    assert pay(client, ["x"]).status_code == 302  # type: ignore[list-item,attr-defined]
    with app.app_context():
        assert f.count(QrisCode) == 0
    assert client.get("/qris/kode/Q000000000000").status_code == 404
    assert client.get("/qris/kode/not-a-code!").status_code == 404


def test_another_vendor_cannot_see_a_code(
    app: Flask, client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    as_vendor_of(app, auth, market.vendor_id)
    location = pay(client, market.bill_ids).headers["Location"]  # type: ignore[attr-defined]
    auth.logout()
    auth.login_as(Role.VENDOR)
    assert client.get(location).status_code == 404
    assert client.get(f"{location}.png").status_code == 404
    auth.logout()
    auth.login_as(Role.OFFICER, market_codes=("LEGI",))
    assert client.get(location).status_code == 403
    auth.logout()
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    assert client.get(f"{location}.svg").status_code == 200


def test_staff_make_a_code_for_a_vendor(
    client: FlaskClient, auth: AuthActions, market: Market
) -> None:
    auth.login_as(Role.OFFICER, market_codes=("KLEWER",))
    made = pay(client, market.bill_ids[:1], vendor_id=str(market.vendor_id))
    assert "/qris/kode/Q" in made.headers["Location"]  # type: ignore[attr-defined]
    assert pay(client, market.bill_ids[:1], vendor_id="abc").status_code == 400  # type: ignore[attr-defined]
    auth.logout()
    auth.login_as(Role.OFFICER, market_codes=("LEGI",))
    assert pay(client, market.bill_ids[:1], vendor_id=str(market.vendor_id)).status_code == 403  # type: ignore[attr-defined]
