"""How a name is matched whichever way it was typed: 佐藤, さとう, サトウ or ｻﾄｳ.

Both the stored party's name and a searcher's query go through `normalise`, so the search
is a plain `contains` on Party.search_key. The key is a normalised copy of personal data:
it is never shown, exported or written to the audit trail.
"""

import unicodedata

import jaconv

# Longest query worth running: a name plus its kana. Longer input is cut, not refused,
# because SQLite refuses a LIKE pattern over 50,000 bytes (see cases/audit_views.py).
MAX_QUERY = 100


def normalise(text: str) -> str:
    # NFKC first: half-width kana become full-width (ｻﾄｳ → サトウ, ｶﾞ → ガ) and full-width
    # ASCII becomes ASCII; then hiragana become katakana, so さとう and サトウ meet.
    text = unicodedata.normalize("NFKC", text.replace("\x00", ""))
    text = jaconv.hira2kata(text).casefold()
    # Spaces are dropped: 佐藤花子 and 佐藤　花子 are the same person to the searcher.
    return "".join(text.split())


def party_search_key(name: str, name_kana: str) -> str:
    # A space separates the two parts, so a query (which never holds one) cannot match
    # across the end of the name and the start of the kana.
    return f"{normalise(name)} {normalise(name_kana)}".strip()
