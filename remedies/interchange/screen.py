"""The screen of a case of an interchange file for individual numbers (My Number), before
anything of it is written: every string, key and long number of the case, not only the
known fields (cases.mynumber reads them). The import screens each case as it reads it
(replay.py), or a process reading the file ahead of it does (ahead.py)."""

from typing import Any

from cases.mynumber import contains_individual_number, contains_individual_number_in_any

from .rules import InterchangeError
from .stream import LIMITS

# Keys screened and found clean, per import (a file's keys are its format's few dozen names,
# repeated in every case): read once. Bounded, so a file of made-up keys costs no memory.
_CLEAN_KEYS_MAX = 10_000
# A whole number below this has fewer than twelve digits: no individual number.
_TWELVE_DIGIT_FLOOR = 10**11


def screen_case(raw: Any, case: str, clean_keys: set[str] | None = None) -> None:
    """The whole case is scanned, not just known fields: an individual number must not get
    in through a note or an unexpected key either. Each string (and key, and number) is
    read on its own, without recursion: a case handed to import_cases may nest deeper than
    Python's stack (a file is bounded by stream.LIMITS before it gets here). `clean_keys`:
    the keys of earlier cases of the import already screened (added to)."""
    clean_keys = set() if clean_keys is None else clean_keys
    refused = InterchangeError(
        "holds what looks like an individual number (My Number), which must not be recorded",
        case=case,
    )
    too_deep = InterchangeError(
        f"arrays and objects are nested more than {LIMITS.depth} levels deep", case=case
    )
    if LIMITS.depth < 1:
        raise too_deep
    # The texts are read together once the case has been walked (one call, not one a text).
    texts: list[str] = []
    pending: list[tuple[Any, int]] = [(raw, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            for key in value:
                if key not in clean_keys:
                    if contains_individual_number(key):
                        raise refused
                    if len(clean_keys) < _CLEAN_KEYS_MAX:
                        clean_keys.add(key)
            # A document's PDF is bytes in base64, not text a person wrote: its letters and
            # digits would only ever match by chance.
            items = [
                item for key, item in value.items() if not (key == "pdf" and isinstance(item, str))
            ]
        elif isinstance(value, list):
            items = value
        else:
            items = [value]  # the case itself a scalar
            depth -= 1
        if items and depth + 1 > LIMITS.depth:
            raise too_deep
        for item in items:
            kind = type(item)  # a file's own types first, as the checks below take them
            if kind is str:
                texts.append(item)
            elif kind is dict or kind is list:
                pending.append((item, depth + 1))
            elif item is None or kind is bool:
                continue
            elif isinstance(item, dict | list):
                pending.append((item, depth + 1))
            elif isinstance(item, int) and -_TWELVE_DIGIT_FLOOR < item < _TWELVE_DIGIT_FLOOR:
                continue  # a seq, an amount, a year (a bool too)
            elif isinstance(item, str):
                texts.append(item)
            elif isinstance(item, int | float):
                texts.append(str(item))
    if contains_individual_number_in_any(texts):
        raise refused
