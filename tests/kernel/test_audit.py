from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from retribusi.audit import AuditEvent, record_event, verify_chain
from retribusi.extensions import db


def _write_events(app: Flask, n: int) -> None:
    with app.app_context():
        for i in range(n):
            record_event(
                db.session,
                actor="user:1",
                action="test.happened",
                subject_type="thing",
                subject_id=i,
                details={"n": i, "name": "Sri Rahayu", "amount_idr": 15000},
            )
        db.session.commit()


def _tamper(app: Flask, *statements: str) -> None:
    """Edit the table behind the application's back, as a database superuser could."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:
            for trigger in ("audit_events_no_update", "audit_events_no_delete"):
                conn.execute(sa.text(f"DROP TRIGGER {trigger}"))
        for statement in statements:
            conn.execute(sa.text(statement))


def test_chain_verifies(app: Flask, runner: FlaskCliRunner) -> None:
    _write_events(app, 5)
    with app.app_context():
        count, problems = verify_chain(db.session)
        first = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).first()
    assert (count, problems) == (5, [])
    assert first is not None and first.prev_hash == "0" * 64
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"ok": True, "events": 5, "problems": []}


def test_table_refuses_update_and_delete(app: Flask) -> None:
    _write_events(app, 1)
    with app.app_context():
        for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1


SWAP_2_AND_3 = (
    "UPDATE audit_events SET seq = 1000 WHERE seq = 2",
    "UPDATE audit_events SET seq = 2 WHERE seq = 3",
    "UPDATE audit_events SET seq = 3 WHERE seq = 1000",
)


@pytest.mark.parametrize(
    ("statements", "kind", "seq"),
    [
        (("UPDATE audit_events SET details = '{\"n\": 99}' WHERE seq = 2",), "edited", 2),
        (("UPDATE audit_events SET actor = 'user:2' WHERE seq = 3",), "edited", 3),
        (("DELETE FROM audit_events WHERE seq = 2",), "missing", 2),
        (SWAP_2_AND_3, "relinked", 2),
    ],
    ids=["edited-details", "edited-actor", "deleted", "reordered"],
)
def test_audit_verify_catches_tampering(
    app: Flask, runner: FlaskCliRunner, statements: tuple[str, ...], kind: str, seq: int
) -> None:
    _write_events(app, 4)
    _tamper(app, *statements)
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    found = [(p["seq"], p["kind"]) for p in report["problems"]]
    assert (seq, kind) in found


def test_details_refuse_floats(app: Flask) -> None:
    with app.app_context(), pytest.raises(TypeError, match="float"):
        record_event(
            db.session,
            actor="a",
            action="b",
            subject_type="c",
            subject_id=1,
            details={"amount": 1.5},
        )
