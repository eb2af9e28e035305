"""Finance works the exception queue on a 360 px screen in a real browser: upload, run, queue,
an exception, an action with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from retribusi.auth.models import Role
from tests.browser.fixtures import Traffic, save_artifact
from tests.browser.test_login_pages import _layout_problems
from tests.factories import make_user

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "statement.mt940"


WIDE_JS = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > 361)
  .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))
  .slice(0, 5)"""


def _fits(page: Page) -> bool:
    """Nothing wider than the phone (a mobile viewport would otherwise zoom out to fit)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, page.evaluate(WIDE_JS)
    return True


def test_finance_uploads_runs_and_ignores_a_fee_on_a_phone(
    app: Flask, live_url: str, phone_page: tuple[Page, Traffic]
) -> None:
    with app.app_context():
        make_user(Role.FINANCE, secret="finance-password-1", username="sari")
    page, traffic = phone_page
    page.goto(f"{live_url}/login")
    page.get_by_label("Nama pengguna").fill("sari")
    page.get_by_label("Kata sandi").fill("finance-password-1")
    page.get_by_role("button", name="Masuk").click()

    # The finance desk leads to the upload.
    expect(page.get_by_role("heading", name="Meja keuangan")).to_be_visible()
    page.get_by_role("link", name="Unggah berkas rekening koran atau settlement").click()
    page.get_by_label("Berkas rekening koran atau settlement").set_input_files(str(SAMPLE))
    page.get_by_label("Format").select_option("mt940")
    page.get_by_role("button", name="Impor").click()
    expect(page.get_by_role("heading", name="Sudah diimpor")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    save_artifact(page, "reconcile-upload-360")

    page.goto(f"{live_url}/rekonsiliasi/")
    page.get_by_role("button", name="Jalankan rekonsiliasi").click()
    expect(page.get_by_role("heading", name="Run 1")).to_be_visible()
    page.goto(f"{live_url}/rekonsiliasi/pengecualian?type=unknown_debit")
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    save_artifact(page, "reconcile-queue-360")
    page.locator("a[href*='/rekonsiliasi/pengecualian/RX-']").first.click()
    expect(page.get_by_role("heading", name="Debit tak dikenal")).to_be_visible()
    page.locator("#reason-ignore").fill("biaya layanan VA bulanan")
    page.get_by_role("button", name="Abaikan (bukan urusan pembayaran)").click()
    expect(page.get_by_text("Tersimpan.")).to_be_visible()
    expect(page.get_by_text("biaya layanan VA bulanan")).to_be_visible()
    assert _layout_problems(page) == {"overflow": 0, "small": []} and _fits(page)
    save_artifact(page, "reconcile-exception-360")
    assert traffic.foreign() == []
    assert traffic.console_errors == []
