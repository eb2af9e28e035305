"""The administrator creates an officer's account on a 360 px phone, then opens it (Chromium)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from retribusi.auth.models import Role
from tests.browser.fixtures import Traffic, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user
from tests.vendors import factories as vf

pytestmark = pytest.mark.browser


def test_admin_creates_an_officer_and_opens_the_account(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    page, traffic = phone_page
    with app.app_context():
        vf.markets()
        make_user(Role.ADMIN, secret="admin-password-1", username="dewi")
    page.goto(f"{live_url}/login?next=/admin/pengguna/baru")
    page.get_by_label("Nama pengguna").fill("dewi")
    page.get_by_label("Kata sandi").fill("admin-password-1")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Akun baru")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}

    page.get_by_label("Peran").select_option("officer")
    page.get_by_label("Nama lengkap").fill("Budi Santoso")
    page.get_by_label("Nama pengguna (staf)").fill("budi")
    page.get_by_label("KLEWER · Pasar Klewer").check()
    page.get_by_label("Kata sandi atau PIN awal").fill("short")
    page.get_by_label("Sekali lagi, sama persis").fill("short")
    page.get_by_role("button", name="Buat akun").click()
    expect(page.get_by_text("Kata sandi paling sedikit 10 karakter", exact=True)).to_be_visible()
    expect(page.get_by_label("KLEWER · Pasar Klewer")).to_be_checked()  # kept for the retry
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "admin-new-account-refused-360")

    page.get_by_label("Kata sandi atau PIN awal").fill("officer-password-1")
    page.get_by_label("Sekali lagi, sama persis").fill("officer-password-1")
    page.get_by_role("button", name="Buat akun").click()
    expect(page.get_by_role("heading", name="Budi Santoso")).to_be_visible()
    expect(page.get_by_label("KLEWER · Pasar Klewer")).to_be_checked()
    assert _layout_problems(page) == {"overflow": 0, "small": []}
    save_artifact(page, "admin-account-360")

    page.get_by_role("link", name="Semua akun").click()
    expect(page.get_by_role("link", name="Budi Santoso")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []}

    assert traffic.foreign() == []
    # The refused form came back as a 422 page on purpose; anything else (a CSP violation) fails.
    assert [e for e in traffic.console_errors if "status of 422" not in e] == []
