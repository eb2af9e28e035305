"""Every message in the code and templates has an Indonesian translation, compiled.

Each unit (the kernel, the levy, vendors, payments, reconcile) keeps its own catalogue in
``<unit>/translations``; Flask-Babel merges them at run time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from retribusi.app import I18N_UNITS

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _extracted(unit: str) -> set[str]:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    nested = [u for u in I18N_UNITS if u != unit and u.startswith(unit + "/")]
    found: set[str] = set()
    for filename, _line, message, _comments, _ctx in extract_from_dir(
        ROOT / unit, method_map, keywords=KEYWORDS
    ):
        if any(filename.startswith(n.removeprefix(unit + "/") + "/") for n in nested):
            continue  # a nested unit (retribusi/levy) keeps its own catalogue
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("unit", I18N_UNITS)
def test_every_message_is_translated_and_compiled(unit: str) -> None:
    messages = _extracted(unit)
    catalogue = ROOT / unit / "translations" / "id" / "LC_MESSAGES"
    if not messages:
        return
    with (catalogue / "messages.po").open("rb") as handle:
        po = read_po(handle)
    with (catalogue / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    untranslated = sorted(m for m in messages if not (po.get(m) and po[m].string))
    assert untranslated == [], f"run `make i18n` and translate these in {catalogue}/messages.po"
    stale = sorted(
        m.id
        for m in po
        if m.id and m.string and (mo.get(m.id) is None or mo[m.id].string != m.string)
    )
    assert stale == [], "messages.mo is out of date: run `make i18n`"
    assert sorted(m.id for m in po if m.id and m.fuzzy) == []


def test_units_agree_on_shared_messages() -> None:
    """Flask-Babel merges the catalogues: a msgid two units share gets one translation, so the
    units must agree on it (otherwise one page silently shows the other unit's words)."""
    seen: dict[str, tuple[str, str]] = {}
    disagreements = []
    for unit in I18N_UNITS:
        path = ROOT / unit / "translations" / "id" / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            continue
        with path.open("rb") as handle:
            for message in read_po(handle):
                if not message.id or not message.string:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                first = seen.setdefault(key, (unit, text))
                if first[1] != text:
                    disagreements.append((key, first, (unit, text)))
    assert disagreements == []
