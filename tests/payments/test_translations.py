"""Flask-Babel merges every unit's catalogue into one: a message the payments unit shares with
another unit must read the same in both, or one page would silently show the other's words."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from retribusi.app import I18N_UNITS

ROOT = Path(__file__).resolve().parents[2]


def _catalogue(unit: str) -> dict[str, str]:
    path = ROOT / unit / "translations" / "id" / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and isinstance(m.id, str)}


def test_shared_messages_read_the_same_in_every_unit() -> None:
    ours = _catalogue("payments")
    assert ours, "the payments catalogue is missing"
    differing = [
        (unit, message, ours[message], theirs[message])
        for unit in I18N_UNITS
        if unit != "payments"
        for theirs in [_catalogue(unit)]
        for message in sorted(set(ours) & set(theirs))
        if theirs[message] and ours[message] != theirs[message]
    ]
    assert differing == []
