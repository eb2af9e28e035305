"""``retribusi vendors …`` and the demo population."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from retribusi.audit import AuditEvent
from retribusi.auth.models import User
from retribusi.demo import load_accounts
from retribusi.extensions import db
from tests.vendors import factories as f
from vendors.demo import (
    DEFAULT_DEMO_VENDORS,
    DEMO_SEED,
    DEMO_VENDOR_NIK,
    _People,
    _stall_specs,
    demo_step,
)
from vendors.models import Block, Market, MarketClass, Placement, Stall, StallType, Vendor

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CSV = ROOT / "docs" / "samples" / "vendors-sample.csv"
SAMPLE_XLSX = ROOT / "docs" / "samples" / "vendors-sample.xlsx"


def _json(result: object) -> dict[str, object]:
    output = getattr(result, "output")  # noqa: B009
    body: dict[str, object] = json.loads(output)
    return body


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_the_sample_files_import_from_the_cli(app: Flask, runner: FlaskCliRunner) -> None:
    assert _json(runner.invoke(args=["vendors", "load-markets", "--json"]))["created"] == 44
    dry = runner.invoke(args=["vendors", "import", str(SAMPLE_CSV), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert _json(dry)["created"] == {"blocks": 7, "stalls": 12, "vendors": 11, "placements": 12}
    assert _count(app, Placement) == 0
    done = runner.invoke(args=["vendors", "import", str(SAMPLE_XLSX), "--json"])
    assert done.exit_code == 0, done.output
    assert _count(app, Placement) == 12
    # The CSV says exactly what the XLSX said: nothing to add.
    again = runner.invoke(args=["vendors", "import", str(SAMPLE_CSV)])
    assert again.exit_code == 0 and "12 already registered" in again.output
    assert _count(app, Placement) == 12


def test_a_bad_file_exits_1_and_lists_each_problem(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(args=["vendors", "load-markets"])
    bad = tmp_path / "bad.csv"
    bad.write_bytes(f.csv_bytes([f.row(1, nik="123"), f.row(2, market_code="ATLANTIS")]))
    result = runner.invoke(args=["vendors", "import", str(bad), "--json"])
    assert result.exit_code == 1
    body = _json(result)
    assert body["ok"] is False and body["code"] == "validation_failed"
    assert body["details"] == {
        "errors": [
            {"row": 2, "column": "nik", "reason": "NIK must be 16 digits, not 3"},
            {"row": 3, "column": "market_code", "reason": "unknown market ATLANTIS"},
        ]
    }
    human = runner.invoke(args=["vendors", "import", str(bad)])
    assert human.exit_code == 1
    assert "row 2, nik: NIK must be 16 digits, not 3" in human.output
    assert _count(app, Vendor) == 0


def test_a_file_over_the_size_limit_is_not_even_read(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    app.config["VENDORS_IMPORT_MAX_BYTES"] = 100
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * 101)
    result = runner.invoke(args=["vendors", "import", str(big), "--json"])
    assert result.exit_code == 1
    assert _json(result)["details"] == {
        "errors": [
            {"row": 0, "column": "file", "reason": "the file is 101 bytes; the limit is 100 bytes"}
        ]
    }


def test_show_gives_the_vendor_with_stalls_and_shps(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        f.markets()
        shp = f.placement(f.vendor(1, name="Sri Rahayu"), f.stall("KLEWER", "A", "012"))
        number = shp.number
    body = _json(runner.invoke(args=["vendors", "show", f.nik(1), "--json"]))
    assert body["vendor"]["full_name"] == "Sri Rahayu"  # type: ignore[index]
    assert [s["reference"] for s in body["stalls"]] == ["KLEWER-A-012"]  # type: ignore[attr-defined]
    assert [p["number"] for p in body["placements"]] == [number]  # type: ignore[attr-defined]
    human = runner.invoke(args=["vendors", "show", f.nik(1)])
    assert "KLEWER-A-012" in human.output and "active" in human.output
    missing = runner.invoke(args=["vendors", "show", f.nik(2), "--json"])
    assert missing.exit_code == 1 and _json(missing)["code"] == "not_found"


def test_set_class_and_expire_lapsed(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["vendors", "load-markets"])
    moved = runner.invoke(
        args=[
            "vendors",
            "set-class",
            "jebres",
            "IB",
            "--from",
            "2027-01-01",
            "--source",
            "Perwali 1/2026",
            "--json",
        ]
    )
    assert moved.exit_code == 0 and _json(moved)["class"] == "IB"
    refused = runner.invoke(
        args=[
            "vendors",
            "set-class",
            "JEBRES",
            "IX",
            "--from",
            "2028-01-01",
            "--source",
            "x",
            "--json",
        ]
    )
    assert refused.exit_code == 1 and _json(refused)["code"] == "validation_failed"
    with app.app_context():
        f.placement(start=date(2023, 1, 2))
    lapsed = _json(runner.invoke(args=["vendors", "expire-lapsed", "--json"]))
    assert len(lapsed["expired"]) == 1  # type: ignore[arg-type]


def test_the_demo_loads_44_markets_and_a_population(app: Flask, runner: FlaskCliRunner) -> None:
    # The registry's own demo step (the whole `retribusi demo` also bills, in later packages), at
    # the size `make run` loads; other tests load a smaller demo.
    app.config["VENDORS_DEMO_VENDORS"] = DEFAULT_DEMO_VENDORS
    with app.app_context():
        load_accounts()
        registry = demo_step()["registry"]
    assert registry["markets"] == 44 and registry["vendors"] == DEFAULT_DEMO_VENDORS == 5000
    events = _count(app, AuditEvent)
    with app.app_context():
        assert demo_step()["registry"] == registry
    assert _count(app, AuditEvent) == events
    with app.app_context():
        # Every market has stalls and vendors.
        per_market = dict(
            db.session.execute(
                sa.select(Market.code, sa.func.count(sa.distinct(Placement.vendor_id)))
                .join(Stall, Stall.market_id == Market.id)
                .join(Placement, Placement.stall_id == Stall.id)
                .group_by(Market.code)
            ).all()
        )
        assert len(per_market) == 44 and min(per_market.values()) > 0
        # Pasar Legi's blocks carry the reported kios/los counts.
        legi_b_sb = dict(
            db.session.execute(
                sa.select(Stall.stall_type, sa.func.count())
                .join(Block, Stall.block_id == Block.id)
                .join(Market, Stall.market_id == Market.id)
                .where(Market.code == "LEGI", Block.code == "B-SB")
                .group_by(Stall.stall_type)
            ).all()
        )
        assert legi_b_sb == {StallType.KIOS: 91, StallType.LOS: 686}
        # The demo vendor login has a vendor record with a Klewer kios of 5 m² and a Legi los.
        sri = db.session.scalar(sa.select(Vendor).where(Vendor.nik == DEMO_VENDOR_NIK))
        assert sri is not None and sri.phone == "6281234567890"
        login = db.session.get(User, sri.user_id)
        assert login is not None and login.full_name == "Sri Rahayu (Demo)"
        held = {(p.stall.market.code, p.stall.stall_type, p.stall.area_m2) for p in sri.placements}
        assert ("KLEWER", StallType.KIOS, 5) in held
        assert any(code == "LEGI" and kind is StallType.LOS for code, kind, _ in held)
        assert all(p.status.value == "active" for p in sri.placements)
        jebres = db.session.scalar(sa.select(Market).where(Market.code == "JEBRES"))
        assert jebres is not None and jebres.class_on(date(2026, 11, 1)) is MarketClass.IIB
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_after_an_import_the_demo_adds_only_its_vendor(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["vendors", "load-markets"])
    assert runner.invoke(args=["vendors", "import", str(SAMPLE_CSV)]).exit_code == 0
    with app.app_context():
        load_accounts()
        registry = demo_step()["registry"]
        assert registry["vendors"] == 12 and registry["active_placements"] == 14
        sri = db.session.scalar(sa.select(Vendor).where(Vendor.nik == DEMO_VENDOR_NIK))
        assert sri is not None and sri.user_id is not None
        assert sorted(p.stall.reference for p in sri.placements) == [
            "KLEWER-A-001",
            "LEGI-B-LD-L012",
        ]
        assert demo_step()["registry"] == registry


def test_the_demo_population_is_the_same_for_the_same_seed() -> None:
    def sample(seed: int) -> tuple[list[str], list[str]]:
        rng = random.Random(seed)
        _, specs = _stall_specs(rng, {row: i for i, row in enumerate(_codes())})
        people = _People(rng)
        return [f"{s.market_code}-{s.number}-{s.area_m2}" for s in specs[:500]], [
            people.person().nik for _ in range(200)
        ]

    assert sample(DEMO_SEED) == sample(DEMO_SEED)
    assert sample(DEMO_SEED) != sample(DEMO_SEED + 1)


def _codes() -> list[str]:
    from vendors.services import market_list_rows

    return [row.code for row in market_list_rows()]
