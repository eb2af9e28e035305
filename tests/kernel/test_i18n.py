"""Every message in the code and templates has an Indonesian translation, compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "retribusi" / "translations" / "id" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _extracted() -> set[str]:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    found: set[str] = set()
    for package in ("retribusi", "vendors", "payments", "reconcile"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package, method_map, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_and_compiled() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        po = read_po(handle)
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    untranslated = sorted(m for m in _extracted() if not (po.get(m) and po[m].string))
    assert untranslated == [], "run `make i18n` and translate these in messages.po"
    stale = sorted(
        m.id
        for m in po
        if m.id and m.string and (mo.get(m.id) is None or mo[m.id].string != m.string)
    )
    assert stale == [], "messages.mo is out of date: run `make i18n`"
    fuzzy = sorted(m.id for m in po if m.id and m.fuzzy)
    assert fuzzy == []
