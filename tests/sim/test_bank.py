"""The simulated bank as the demo uses it: registered by `retribusi demo`, driven from the CLI
and from the vendor's "pay via the simulated bank" button (demo only; off in production)."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.models import Payment
from payments.sim.demo import DEMO_BANK, load_state
from payments.snap.models import Partner
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.billing import issue_bills
from tests.conftest import AuthActions, csrf_token
from tests.levy import factories as f
from tests.va.fixtures import TODAY


def owing_vendor(app: Flask, user_id: int | None = None) -> tuple[int, str]:
    with app.app_context():
        f.illustrative_tariffs()
        holding = f.holding("KLEWER", area_m2="5")
        if user_id is not None:
            holding.vendor.user_id = user_id
            db.session.commit()
        issue_bills("2026-11", actor="test", issued_on=TODAY)
        return holding.vendor.id, holding.vendor.nik


def test_demo_registers_the_bank_with_the_simulators_key(
    app: Flask, runner: FlaskCliRunner
) -> None:
    first = runner.invoke(args=["sim", "setup", "--json"])
    assert first.exit_code == 0, first.output
    state = load_state(Path(app.instance_path) / "sim_bank")
    assert state.code == DEMO_BANK["code"] and len(state.client_secret) >= 40
    assert (Path(app.instance_path) / "sim_bank" / "profile.json").stat().st_mode & 0o077 == 0
    again = runner.invoke(args=["sim", "setup", "--json"])
    assert again.exit_code == 0
    assert load_state(Path(app.instance_path) / "sim_bank").client_secret == state.client_secret
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Partner)) == 1


def test_cli_pays_a_vendor_and_writes_the_statement(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(args=["sim", "setup"])
    _vendor_id, nik = owing_vendor(app)
    shown = json.loads(runner.invoke(args=["vendors", "show", nik, "--json"]).output)
    [va] = shown["va_numbers"]
    assert va["bank_code"] == "JATENG" and va["partner_service_id"] == "   88810"
    assert va["virtual_account_no"] == va["partner_service_id"] + va["customer_no"]
    paid = runner.invoke(args=["sim", "pay", nik, "--repeat", "2", "--json"])
    assert paid.exit_code == 0, paid.output
    summary = json.loads(paid.output)
    assert summary["ok"] and summary["va"] == va["digits"]
    assert all(r == summary["flags"][0] for r in summary["repeats"])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1
    out = tmp_path / "day.mt940"
    assert (
        runner.invoke(
            args=["sim", "statement", "--date", "2026-11-23", "--out", str(out)]
        ).exit_code
        == 0
    )
    assert f"TRF VA {va['digits']} REF {summary['payment_request_id']}" in out.read_text()
    nothing = runner.invoke(args=["sim", "pay", nik, "--json"])
    assert nothing.exit_code == 1
    assert json.loads(nothing.output)["inquiry"]["responseCode"] == "4042414"


def test_cli_says_plainly_when_the_bank_gets_no_answer(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from payments.sim.client import PartnerIdentity
    from tests.snap.helpers import key

    runner.invoke(args=["sim", "setup"])
    _vendor_id, nik = owing_vendor(app)
    # Nothing listens on port 9 here: the connection is refused.
    down = runner.invoke(args=["sim", "pay", nik, "--base-url", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and down.exception is not None
    assert isinstance(down.exception, SystemExit)
    assert "the bank's call was not answered: ConnectError" in down.output
    other = tmp_path / "other.pem"  # the bank's key on file is no longer the simulator's
    other.write_text(PartnerIdentity("", "", key("other")).public_key_pem)
    changed = runner.invoke(args=["banks", "set-key", "JATENG", "--public-key", str(other)])
    assert changed.exit_code == 0, changed.output
    refused = runner.invoke(args=["sim", "inquiry", nik, "--json"])
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    assert "not answered: no token: 401" in refused.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_vendor_button_pays_through_the_simulated_bank(
    app: Flask, auth: AuthActions, runner: FlaskCliRunner
) -> None:
    runner.invoke(args=["sim", "setup"])
    user = auth.login_as(Role.VENDOR)
    vendor_id, _nik = owing_vendor(app, user_id=user.id)
    client = auth._client
    token = csrf_token(client, "/")
    answer = client.post(
        "/simulasi/bank/bayar", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["ok"] is True and answer.get_json()["response_code"] == "2002500"
    with app.app_context():
        [payment] = db.session.scalars(sa.select(Payment)).all()
        assert payment.vendor_id == vendor_id and payment.sender == "JATENG"
    # Nothing left: the button says so instead of failing.
    again = client.post("/simulasi/bank/bayar", data={"csrf_token": token})
    assert again.status_code == 302


def test_only_vendors_may_press_it(app: Flask, auth: AuthActions) -> None:
    auth.login_as(Role.ADMIN)
    token = csrf_token(auth._client, "/")
    assert auth._client.post("/simulasi/bank/bayar", data={"csrf_token": token}).status_code == 403


def test_production_switches_the_simulated_bank_off(app: Flask, auth: AuthActions) -> None:
    user = auth.login_as(Role.VENDOR)
    owing_vendor(app, user_id=user.id)
    token = csrf_token(auth._client, "/")
    app.config["ENV"] = "production"
    app.config["SIM_BANK_ENABLED"] = True  # ignored in production
    assert auth._client.post("/simulasi/bank/bayar", data={"csrf_token": token}).status_code == 404
    app.config["ENV"] = "test"
    app.config["SIM_BANK_ENABLED"] = False
    assert auth._client.post("/simulasi/bank/bayar", data={"csrf_token": token}).status_code == 404


def test_banks_cli_adds_lists_and_rotates(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from payments.sim.client import PartnerIdentity
    from tests.snap.helpers import key

    pem = tmp_path / "bank.pem"
    pem.write_text(PartnerIdentity("", "", key("cli")).public_key_pem)
    added = runner.invoke(
        args=[
            "banks",
            "add",
            "--code",
            "bri",
            "--name",
            "BRI",
            "--client-id",
            "bri-1",
            "--public-key",
            str(pem),
            "--company-code",
            "77777",
            "--va-type",
            "partial",
            "--max-bill-details",
            "5",
            "--json",
        ]
    )
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    assert body["partner"]["code"] == "BRI" and body["partner"]["va_type"] == "partial"
    listed = json.loads(runner.invoke(args=["banks", "list", "--json"]).output)
    assert "client_secret" not in json.dumps(listed)
    assert [p["partner_service_id"] for p in listed["partners"]] == ["   77777"]
    rotated = json.loads(runner.invoke(args=["banks", "rotate-secret", "BRI", "--json"]).output)
    assert rotated["client_secret"] != body["client_secret"]
    with app.app_context():
        stored = db.session.scalars(sa.select(Partner)).one()
        assert rotated["client_secret"] not in stored.client_secret_enc
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    refused = runner.invoke(
        args=[
            "banks",
            "add",
            "--code",
            "X1",
            "--name",
            "X",
            "--client-id",
            "x",
            "--public-key",
            str(bad),
            "--company-code",
            "0000",
            "--json",
        ]
    )
    assert refused.exit_code == 1
    fields = {e["field"] for e in json.loads(refused.output)["details"]["errors"]}
    assert fields == {"public_key", "company_code"}
    der = tmp_path / "bank.der"  # a binary key file given by mistake: refused, not a traceback
    der.write_bytes(bytes(range(256)))
    binary = runner.invoke(args=["banks", "set-key", "BRI", "--public-key", str(der), "--json"])
    assert binary.exit_code == 1, binary.output
    errors = json.loads(binary.output)["details"]["errors"]
    assert [e["field"] for e in errors] == ["public_key"]
    from_stdin = runner.invoke(
        args=["banks", "set-key", "BRI", "--public-key", "-", "--json"],
        input=PartnerIdentity("", "", key("stdin")).public_key_pem,
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    with app.app_context():
        stored = db.session.scalars(sa.select(Partner)).one()
        assert stored.public_key_pem == PartnerIdentity("", "", key("stdin")).public_key_pem
    missing = runner.invoke(args=["banks", "set-key", "BRI", "--public-key", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "--public-key" in missing.output
    # The key file is opened by the command, after every option passed: one refused after it
    # leaves no file open (an unclosed file's warning is an error here).
    late = runner.invoke(
        args=[
            *("banks", "add", "--public-key", str(pem), "--skew-window", "0"),
            *("--code", "X2", "--name", "X", "--client-id", "x2"),
        ]
    )
    assert late.exit_code == 2
    gc.collect()


def test_admin_page_adds_a_partner_and_shows_the_secret_once(app: Flask, auth: AuthActions) -> None:
    from payments.sim.client import PartnerIdentity
    from tests.snap.helpers import key

    auth.login_as(Role.ADMIN)
    client = auth._client
    page = client.get("/admin/mitra-snap")
    assert page.status_code == 200
    token = csrf_token(client, "/admin/mitra-snap")
    answer = client.post(
        "/admin/mitra-snap",
        data={
            "csrf_token": token,
            "code": "BNI",
            "name": "BNI",
            "kind": "bank",
            "client_id": "bni-1",
            "company_code": "98765",
            "va_type": "closed",
            "max_bill_details": "5",
            "skew_window_s": "300",
            "public_key": PartnerIdentity("", "", key("admin")).public_key_pem,
        },
    )
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "BNI" in text and 'class="secret"' in text
    assert 'class="secret"' not in client.get("/admin/mitra-snap").get_data(as_text=True)
    refused = client.post(
        "/admin/mitra-snap",
        data={
            "csrf_token": token,
            "code": "B2",
            "name": "x",
            "kind": "bank",
            "client_id": "c",
            "va_type": "closed",
            "public_key": "junk",
            "max_bill_details": "5",
            "skew_window_s": "300",
        },
    )
    assert refused.status_code == 422, refused.get_data(as_text=True)[-3000:]
    assert "public key" in refused.get_data(as_text=True)


def test_admin_page_switches_a_partner_off_and_on_and_replaces_its_key(
    app: Flask, auth: AuthActions, runner: FlaskCliRunner
) -> None:
    from payments.sim.client import PartnerIdentity
    from payments.snap.partners import get_partner
    from tests.snap.helpers import key

    assert runner.invoke(args=["sim", "setup"]).exit_code == 0
    auth.login_as(Role.ADMIN)
    client = auth._client
    token = csrf_token(client, "/admin/mitra-snap")
    off = client.post(
        "/admin/mitra-snap/status", data={"csrf_token": token, "code": "JATENG", "active": "0"}
    )
    assert off.status_code == 200 and "Aktifkan" in off.get_data(as_text=True)
    with app.app_context():
        assert not get_partner("JATENG").active
    on = client.post(
        "/admin/mitra-snap/status", data={"csrf_token": token, "code": "JATENG", "active": "1"}
    )
    assert on.status_code == 200
    with app.app_context():
        assert get_partner("JATENG").active
        old_key = get_partner("JATENG").public_key_pem

    new_pem = PartnerIdentity("", "", key("rotated")).public_key_pem
    replaced = client.post(
        "/admin/mitra-snap/kunci",
        data={"csrf_token": token, "code": "JATENG", "public_key": new_pem},
    )
    assert replaced.status_code == 200
    with app.app_context():
        assert get_partner("JATENG").public_key_pem not in (old_key, "")
    junk = client.post(
        "/admin/mitra-snap/kunci", data={"csrf_token": token, "code": "JATENG", "public_key": "x"}
    )
    unknown = client.post(
        "/admin/mitra-snap/status", data={"csrf_token": token, "code": "NOPE", "active": "0"}
    )
    stale = client.post("/admin/mitra-snap/status", data={"code": "JATENG", "active": "0"})
    assert (junk.status_code, unknown.status_code, stale.status_code) == (422, 404, 400)
    with app.app_context():
        assert get_partner("JATENG").active
