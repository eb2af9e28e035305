"""Settings from the environment are checked at start: a value of the wrong kind stops the start
with the variable's name, instead of failing later in the middle of a bank's payment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retribusi import create_app
from retribusi.config import SETTINGS_KEY


def _start(database_url: str) -> None:
    create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret-key"})


def test_every_setting_of_the_wrong_kind_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "k"})
    settings = app.extensions[SETTINGS_KEY]
    # The core's and every module's settings are there: a few from each.
    assert {"MAX_CONTENT_LENGTH", "PAYMENT_MAX_IDR", "CASH_MAX_IDR", "VENDORS_IMPORT_MAX_ROWS"} <= (
        settings.keys()
    )
    assert {"RECONCILE_UPLOAD_MAX_BYTES", "SNAP_RATE_LIMIT", "DEPOSIT_MAX_IDR"} <= settings.keys()
    refusals: dict[str, str] = {}
    for key, default in sorted(settings.items()):
        if default is None or isinstance(default, set | frozenset):
            continue  # no kind to judge by: the module checks it
        # What an operator might type: a word for a number, a number for a word.
        wrong = 12 if isinstance(default, str) else "dua belas"
        monkeypatch.setenv(f"RETRIBUSI_{key}", json.dumps(wrong))
        try:
            _start(database_url)
        except RuntimeError as error:
            refusals[key] = str(error)
        else:
            refusals[key] = "started"
        monkeypatch.delenv(f"RETRIBUSI_{key}")
    assert len(refusals) > 50
    unnamed = {key: said for key, said in refusals.items() if key not in said}
    assert not unnamed, f"started, or refused without naming the setting: {unnamed}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("PAYMENT_MAX_IDR", "-1", "a whole number, 0 or more, not -1"),
        ("PAYMENT_MAX_IDR", "true", "a whole number, 0 or more, not True"),
        ("RATELIMIT_ENABLED", "1", "true or false, not 1"),
        ("LANGUAGES", '"id"', "a list, not 'id'"),
    ],
)
def test_the_refusal_says_what_the_setting_must_be(
    monkeypatch: pytest.MonkeyPatch, database_url: str, key: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"RETRIBUSI_{key}", value)
    with pytest.raises(RuntimeError, match=f"^RETRIBUSI_{key} must be {message}$"):
        _start(database_url)


def test_settings_of_the_right_kind_are_taken(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("RETRIBUSI_PAYMENT_MAX_IDR", "5000000")
    monkeypatch.setenv("RETRIBUSI_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("RETRIBUSI_LANGUAGES", '["id"]')
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "k"})
    assert app.config["PAYMENT_MAX_IDR"] == 5_000_000
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["LANGUAGES"] == ["id"]


def _retribusi(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``retribusi ledger verify`` in its own process, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-c", "from retribusi.cli import main; main()", "ledger", "verify"],
        env={
            **os.environ,
            "RETRIBUSI_INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_says_which_setting_in_one_line(tmp_path: Path) -> None:
    done = _retribusi(tmp_path, RETRIBUSI_PAYMENT_MAX_IDR="abc")
    assert done.returncode == 2
    assert "Error: RETRIBUSI_PAYMENT_MAX_IDR must be a whole number, 0 or more, not 'abc'" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not a url", "Error: DATABASE_URL is not a database URL"),
        ("mysql://root@127.0.0.1/test", "Error: DATABASE_URL names 'mysql': use PostgreSQL or"),
    ],
)
def test_a_database_url_we_cannot_use_stops_the_start(tmp_path: Path, url: str, said: str) -> None:
    done = _retribusi(tmp_path, DATABASE_URL=url)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    # Nothing listens on port 1 here: the connection is refused.
    done = _retribusi(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:1/retribusi")
    assert done.returncode == 1
    assert done.stderr.startswith("error: the database did not answer: connection failed")
    assert "Traceback" not in done.stderr + done.stdout
