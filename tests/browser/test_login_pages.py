"""The login pages on a 360 px phone in a real browser."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from retribusi.auth.models import Role
from tests.browser.fixtures import Traffic, record_weight, save_artifact
from tests.factories import make_user

pytestmark = pytest.mark.browser

MIN_TOUCH_PX = 44


LAYOUT_JS = """(minPx) => {
  const small = [...document.querySelectorAll('button, input, a')]
    .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > 0)
    .map(el => [el.tagName + ' ' + (el.name || el.textContent.trim()),
                el.getBoundingClientRect().height])
    .filter(([, h]) => h < minPx);
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, small};
}"""


def _layout_problems(page: Page) -> dict[str, object]:
    """Horizontal overflow at 360 px, and touch targets smaller than a fingertip.

    Measured once the page has loaded: a heading can be visible before the stylesheet applies
    (seen once: every input 21 px high, unstyled), and then every target looks small."""
    page.wait_for_load_state("load")
    result: dict[str, object] = page.evaluate(LAYOUT_JS, MIN_TOUCH_PX)
    return result


def test_vendor_signs_in_on_a_phone(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    with app.app_context():
        make_user(
            Role.VENDOR,
            secret="135790",
            phone="081234567890",
            full_name="Sri Rahayu Ningsih Wulandari",
        )
    page.goto(f"{live_url}/login/pedagang")
    expect(page.get_by_role("heading", name="Masuk sebagai pedagang")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    weight = traffic.total_bytes()
    save_artifact(page, "vendor-login-360")

    page.get_by_label("Nomor HP").fill("0812 3456 7890")
    page.get_by_label("PIN (6 angka)").fill("135790")
    page.get_by_role("button", name="Masuk").click()
    # No stall is linked to this login yet: the vendor's door says so and what to do.
    expect(page.get_by_role("heading", name="Tagihan siapa?")).to_be_visible()
    expect(page.get_by_text("belum terhubung")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    # The bar keeps one line at 360 px: the name shortens, it never breaks into letters.
    bar = page.locator("header.top").bounding_box()
    assert bar is not None and bar["height"] <= 72, bar
    save_artifact(page, "vendor-home-360")

    assert traffic.foreign() == []
    assert traffic.console_errors == []  # a CSP violation would show here
    assert weight < 60_000, f"login page weighs {weight} bytes"
    record_weight("vendor-login", weight)


def test_wrong_pin_shows_one_generic_message(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, _traffic = phone_page
    with app.app_context():
        make_user(Role.VENDOR, secret="135790", phone="081234567891")
    page.goto(f"{live_url}/login/pedagang")
    page.get_by_label("Nomor HP").fill("081234567891")
    page.get_by_label("PIN (6 angka)").fill("999999")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("alert")).to_contain_text("Login gagal")
    expect(page).to_have_url(f"{live_url}/login/pedagang")


def test_officer_signs_in_and_signs_out(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    with app.app_context():
        make_user(Role.OFFICER, secret="officer-password-1", username="budi", full_name="Budi")
    page.goto(f"{live_url}/")
    expect(page).to_have_url(f"{live_url}/login?next=/")
    page.get_by_label("Nama pengguna").fill("budi")
    page.get_by_label("Kata sandi").fill("officer-password-1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hari ini, 23-11-2026")).to_be_visible()
    assert _layout_problems(page)["overflow"] == 0
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_role("status")).to_contain_text("Anda sudah keluar")
    page.goto(f"{live_url}/bahasa/en")
    expect(page.get_by_role("heading", name="Staff sign in")).to_be_visible()
    assert traffic.foreign() == [] and traffic.console_errors == []
