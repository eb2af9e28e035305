"""Every command of ours, on the demo city, with hostile values: none ends in an unhandled
exception. Each argument and option that takes a value gets one hostile value at a time (the
others a plausible one); commands that read a file get hostile files; commands that read a
secret from standard input get hostile input. A refused value must end in click's usage error
(exit 2) or our own error (exit 1) with a message, never a traceback. Flask's own commands (db,
run, shell, routes) and the extensions' (limiter, openapi) are not ours and are left out.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from payments.sim.client import PartnerIdentity
from reconcile.models import ReconException
from retribusi.extensions import db
from retribusi.levy.models import Bill
from tests.snap.helpers import key
from vendors.demo import DEMO_VENDOR_NIK

pytestmark = pytest.mark.sweep

NOT_OURS = frozenset({"db", "run", "shell", "routes", "limiter", "openapi"})
# No NUL in arguments: a command line cannot carry one (the system passes C strings). Standard
# input and files can: they get it.
HOSTILE = ["", "-1", "9" * 25, "2026-13-45", "ÿ'\"<%²", "A" * 3000, "KLEWER\n", "\u202e"]
IN_STDIN = [*HOSTILE, "\x00", "pass\x00word-long-enough"]
#: What each kind of file a command reads gets instead of a good one.
HOSTILE_FILES = {
    "empty": b"",
    "binary": bytes(range(256)) * 8,
    "nul": b"a,b\x00,c\n" * 10,
    "latin-1": "Kode;Nama\nKLEWER;Pasar Klewer \xe9\n".encode("latin-1"),
    "one long line": b"A" * 200_000,
}
#: Values that never reach another machine: the simulators talk to this app in-process.
LEFT_ALONE = frozenset({"base_url"})


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if not path and name in NOT_OURS:
            continue
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def _command(app: Flask, path: tuple[str, ...]) -> click.Command:
    command: click.Command = app.cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


#: Values that pass each parameter's own check on the demo city, so that a hostile value in one
#: parameter reaches the command's work instead of a refusal of another. By parameter name,
#: then by command where one name means different things.
PLAUSIBLE = {
    "reason": "a reason long enough to be kept",
    "reference": "REF-SWEEP-0001",
    "decision_number": "SK/001/2026",
    "legal_basis": "Perda Kota Surakarta (contoh)",
    "rate": "100",
    "period": "2026-12",
    "username": "sweep.user",
    "name": "Sweep Name",
    "full_name": "Sweep Name",
    "login": "keuangan",
    "stall": "KLEWER-A-001",
    "market_class": "IB",
    "company_code": "12345",
    "client_id": "sweep-client",
    "nik": DEMO_VENDOR_NIK,
    "mdr_pct": "0",
}
#: Commands whose success changes what the others see (a bank switched off, a payment
#: reversed): swept last.
LAST = (
    ("billing", "void"),
    ("ledger", "reverse"),
    ("banks", "rotate-secret"),
    ("banks", "deactivate"),
)
BY_COMMAND = {
    ("banks",): {"code": "JATENG"},
    ("vendors", "set-class"): {"code": "KLEWER"},
}


def _plausible(
    parameter: click.Parameter, path: tuple[str, ...], files: Path, known: dict[str, str]
) -> str:
    """A value of the parameter's type that the command can go on with."""
    name, kind = parameter.name or "", parameter.type
    for scope in (path, path[:1]):
        if name in BY_COMMAND.get(scope, {}):
            return BY_COMMAND[scope][name]
    named = known.get(name) or PLAUSIBLE.get(name)
    if named is not None:
        return named
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if _reads_file(parameter):
        return str(files / ("key.pem" if name == "public_key" else "good.txt"))
    if isinstance(kind, click.Path):
        return str(files / f"{name}.out")
    by_type = {click.DateTime: "2026-11-20", click.types.IntParamType: "1"}
    fallback = "KLEWER" if "market" in name else "x"
    return next((value for t, value in by_type.items() if isinstance(kind, t)), fallback)


def _reads_file(parameter: click.Parameter) -> bool:
    kind = parameter.type
    return isinstance(kind, click.Path) and bool(kind.exists)


def _invocations(
    command: click.Command, path: tuple[str, ...], files: Path, known: dict[str, str]
) -> Iterator[tuple[list[str], str]]:
    """(arguments, standard input): each valued parameter hostile in turn, others plausible."""
    valued = [
        p
        for p in command.params
        if not (isinstance(p, click.Option) and p.is_flag) and p.name not in LEFT_ALONE
    ]
    flags = [p for p in command.params if isinstance(p, click.Option) and p.is_flag]
    reads_stdin = any(p.name == "secret_stdin" for p in flags)

    def args(values: dict[str, str]) -> list[str]:
        out = list(path)
        for p in valued:
            if p.name not in values:
                continue
            if isinstance(p, click.Option):
                out += [p.opts[-1], values[p.name]]
            else:
                out.append(values[p.name])
        out += [p.opts[-1] for p in flags if p.name in {"as_json", "secret_stdin"}]
        return out

    named = {*PLAUSIBLE, *known, *BY_COMMAND.get(path, {}), *BY_COMMAND.get(path[:1], {})}
    base = {
        p.name or "": _plausible(p, path, files, known)
        for p in valued
        if p.required or p.name in named
    }
    yield args(base), "a-long-enough-secret-1\n"
    for p in valued:
        name = p.name or ""
        if _reads_file(p):
            values = [str(files / f) for f in HOSTILE_FILES]
        elif isinstance(p.type, click.Path):  # where a command writes: places it cannot write
            values = [*HOSTILE, str(files), str(files / "missing" / "out.pdf"), "/proc/version"]
        else:
            values = HOSTILE
        for value in values:
            yield args({**base, name: value}), "a-long-enough-secret-1\n"
    if reads_stdin:
        for value in IN_STDIN:
            yield args(base), value + "\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "good.txt").write_text("x\n")
    (folder / "key.pem").write_text(PartnerIdentity("", "", key("sweep")).public_key_pem)
    for name, data in HOSTILE_FILES.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


def _unhandled(result: Result) -> str | None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{type(result.exception).__name__}: {result.exception}"
    if result.exit_code not in (0, 1, 2):
        return f"exit code {result.exit_code}"
    if "Traceback" in result.output:
        return "traceback in the output"
    if result.exit_code and not result.output.strip():
        return "refused without a message"
    return None


def test_no_command_ends_in_an_unhandled_exception(
    app: Flask, runner: FlaskCliRunner, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hostile value taken as an output file name ("-1", "2026-13-45") is written where the
    # command runs: here, the test's own folder, not the checkout.
    monkeypatch.chdir(files)
    demo = runner.invoke(args=["demo", "--json"])
    assert demo.exit_code == 0, demo.output
    assert json.loads(demo.output)["ok"]
    with app.app_context():  # ids and numbers the demo made, for the commands that take one
        known = {
            "number": db.session.scalars(sa.select(Bill.number).order_by(Bill.id)).first() or "",
            "exception_id": db.session.scalars(sa.select(ReconException.id)).first() or "",
        }
    assert all(known.values()), known
    paths = sorted(_commands(app.cli), key=lambda path: LAST.index(path) if path in LAST else -1)
    assert len(paths) > 40 and ("reconcile", "import") in paths  # the walk finds our commands
    failures, seen = [], Counter[int]()
    for path in paths:
        for arguments, stdin in _invocations(_command(app, path), path, files, known):
            result = runner.invoke(args=arguments, input=stdin)
            seen[result.exit_code] += 1
            problem = _unhandled(result)
            if problem:
                failures.append(f"{' '.join(a[:40] for a in arguments)!r}: {problem}")
    gc.collect()
    assert not failures, "\n".join(failures[:40])
    # The sweep reached the commands' own checks, not only click's: some values were refused
    # by our services (exit 1), some by click (exit 2), and some were taken (exit 0).
    assert seen[0] and seen[1] and seen[2], seen
