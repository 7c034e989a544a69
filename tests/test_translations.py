"""The Japanese catalogue is complete, keeps every placeholder, and is compiled."""

import re
from pathlib import Path

import polib

JA = Path(__file__).resolve().parent.parent / "locale" / "ja" / "LC_MESSAGES"

# %(name)s, %s, {{ name }} and {name}; a "{{ x }}" is not also counted as "{x}".
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{\s*\w+\s*\}\}|(?<!\{)\{\w+\}(?!\})")


def po_entries():
    return [e for e in polib.pofile(str(JA / "django.po")) if not e.obsolete]


def placeholders(text):
    return {re.sub(r"\s", "", p) for p in PLACEHOLDER.findall(text)}


def source_and_translations(entry):
    if entry.msgid_plural:
        return [(entry.msgid_plural, s) for s in entry.msgstr_plural.values()]
    return [(entry.msgid, entry.msgstr)]


def pairs(catalogue):
    return {
        (e.msgctxt, e.msgid): tuple(e.msgstr_plural.values()) if e.msgid_plural else e.msgstr
        for e in catalogue
    }


def test_every_japanese_entry_is_translated_and_not_fuzzy():
    problems = [e.msgid for e in po_entries() if not e.translated() or e.fuzzy]
    assert problems == []


def test_translations_keep_the_placeholders_of_the_english_text():
    problems = [
        (source, translation)
        for entry in po_entries()
        for source, translation in source_and_translations(entry)
        if placeholders(source) != placeholders(translation)
    ]
    assert problems == []


def test_compiled_catalogue_matches_the_po_file():
    compiled = polib.mofile(str(JA / "django.mo"))
    assert pairs(compiled) == pairs(po_entries())
