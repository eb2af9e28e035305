"""An officer on a 360 px phone finds a vendor and opens their page (real Chromium)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from retribusi.auth.models import Role
from tests.browser.fixtures import Traffic, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user
from tests.vendors import factories as f

pytestmark = pytest.mark.browser


def test_officer_searches_a_vendor_and_opens_their_page(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    with app.app_context():
        make_user(
            Role.OFFICER, secret="officer-password-1", username="budi", market_codes=("KLEWER",)
        )
        f.markets()
        sri = f.vendor(1, name="Sri Rahayu")
        f.placement(sri, f.stall("KLEWER", "A", "012"), number="SHP/KLEWER/2025/00012")
        f.placement(f.vendor(2, name="Sri Legi"), f.stall("LEGI", "B-LD", "L012", stall_type="los"))
    page.goto(f"{live_url}/login?next=/pedagang")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill("officer-password-1")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Cari pedagang")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}

    page.get_by_label("Nama, NIK, nomor HP atau tempat").fill("sri")
    page.get_by_role("button", name="Cari").click()
    results = page.get_by_role("link", name="Sri Rahayu")
    expect(results).to_be_visible()
    expect(page.get_by_text("Sri Legi")).to_have_count(0)  # another market's vendor
    save_artifact(page, "officer-vendor-search-360")

    results.click()
    expect(page.get_by_role("heading", name="Sri Rahayu")).to_be_visible()
    expect(page.get_by_role("link", name="KLEWER-A-012")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "officer-vendor-page-360")

    assert traffic.foreign() == []
    assert traffic.console_errors == []
