"""The officer's arrears, drilled down to a bill, on a 360 px phone in a real browser."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from retribusi.auth.models import Role
from retribusi.levy.billing import issue_bills
from tests.browser.fixtures import Traffic, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user
from tests.levy import factories as f

pytestmark = pytest.mark.browser


def _fits(page: Page) -> bool:
    """Nothing wider than the phone (a mobile viewport would otherwise zoom out to fit)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width <= 360


def _sign_in(page: Page, live_url: str) -> None:
    page.goto(f"{live_url}/login")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill("officer-password-1")
    page.get_by_role("button", name="Masuk").click()


def test_officer_reads_arrears_by_market_block_vendor_on_a_phone(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    with app.app_context():
        make_user(
            Role.OFFICER, secret="officer-password-1", username="budi", market_codes=("KLEWER",)
        )
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", block_code="A")
        f.holding("LEGI")
        for month in ("2026-08", "2026-09", "2026-10", "2026-11"):
            first = date(int(month[:4]), int(month[5:]), 1)
            issue_bills(month, actor="t", issued_on=first)
        vendor_name = holding.vendor.full_name

    page, traffic = phone_page
    _sign_in(page, live_url)
    page.goto(f"{live_url}/tunggakan")
    expect(page.get_by_role("heading", name="Tunggakan")).to_be_visible()
    expect(page.get_by_role("link", name="KLEWER")).to_be_visible()
    expect(page.get_by_role("link", name="LEGI")).to_have_count(0)
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    save_artifact(page, "levy-arrears-360")

    page.get_by_role("link", name="KLEWER").click()
    page.get_by_role("link", name="Blok A").first.click()
    page.get_by_role("link", name=vendor_name).click()
    expect(page.get_by_text("SKRD/2026/08/KLEWER/000001")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    page.get_by_role("link", name="SKRD/2026/08/KLEWER/000001").click()
    expect(
        page.get_by_role("heading", name="Tagihan (SKRD) SKRD/2026/08/KLEWER/000001")
    ).to_be_visible()
    expect(page.get_by_text("Tarif ILUSTRASI")).to_be_visible()
    expect(page.get_by_text("Rp157.500").first).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    save_artifact(page, "levy-bill-360")
    assert traffic.foreign() == []
    assert traffic.console_errors == []
