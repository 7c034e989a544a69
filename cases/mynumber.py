"""Refusing individual numbers (マイナンバー), which Tadasu must never store, and the
invisible characters that must not be hidden in a name or a label.

A 12-digit number whose last digit is the check digit of 平成26年総務省令第85号 第5条 is
treated as an individual number, however it is written: in ASCII, full-width or other
decimal digits, and split by any mix of spaces, new lines, dots, slashes, hyphens or dashes
of any width, or invisible format characters (zero-width spaces and joiners, soft hyphens,
direction marks, byte-order marks). The text is normalised first (NFKC), format characters
are dropped, and each run of digits joined only by such separators is read as one number:
a run of exactly twelve digits whose check digit holds is refused. Runs of any other
length (an 11-digit mobile number 090-1234-5678, a date with its time, a case reference),
and twelve digits that fail the check (a phone number, an account number), are left alone.
"""

import re
import sys
import unicodedata
from functools import cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MESSAGE = _(
    "This looks like an individual number (My Number). Individual numbers must not be "
    "recorded; remove it and save again."
)
INVISIBLE_MESSAGE = _(
    "This holds invisible control characters (text direction marks or zero-width "
    "characters) that can make a name look like another. Type it again without them."
)

# Characters that may stand between the digits of one number (after NFKC, which has
# already turned full-width spaces, dots, slashes and hyphens into their ASCII forms):
# any white space (new lines included), dots, slashes, and hyphens, dashes and minus signs.
_SEPARATORS = (
    r"\s"
    r"./・"
    r"\-\u2010-\u2015\u2212\u2043\u30fc\ufe58\ufe63"
)
_RUN = re.compile(rf"\d(?:[{_SEPARATORS}]*\d)*")
_TWELVE_DIGITS = re.compile(r"(?:\D*\d){12}")
_DROP_ASCII_DIGITS = str.maketrans("", "", "0123456789")


def _without_format_characters(text: str) -> str:
    # Category Cf: zero-width space/joiners (U+200B–200D), word joiner (U+2060), soft
    # hyphen (U+00AD), direction marks and embeddings (U+200E/F, U+202A–202E, U+2066–2069,
    # U+061C), byte-order mark (U+FEFF) and the like. They are invisible: dropped here.
    if text.isascii():
        return text
    return _format_characters().sub("", text)


def _format_characters() -> re.Pattern:
    return _tables()[0]


def _may_hold_a_digit(text: str) -> bool:
    """Whether a character of `text` gives a digit once normalised. Two patterns: Python's
    regular expressions test a class of characters of the Basic Multilingual Plane against
    a table, and one reaching past it range by range (a tenth of the speed)."""
    _, in_plane, past_plane = _tables()
    return bool(in_plane.search(text) or (_PAST_THE_PLANE.search(text) and past_plane.search(text)))


_PAST_THE_PLANE = re.compile("[\U00010000-\U0010ffff]")


@cache
def _tables() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """The characters of category Cf, and those whose NFKC form holds a digit (ASCII and
    other decimal digits, full-width ones, ①, ㉑, ¹ and the like: those of the Basic
    Multilingual Plane, then those past it), as this Python's Unicode
    tables have them: read once (a fifth of a second; config/warmup.py does it before a
    worker's first request), then text is read at C speed, not one character at a time.
    A text without any of the second kind has no digit once normalised: NFKC changes each
    character on its own but for composing a letter with its marks, and no digit is such a
    composition (tests/cases/test_mynumber.py checks both over every character)."""
    decomposition, normalize = unicodedata.decomposition, unicodedata.normalize
    format_characters, digit_sources = [], []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            format_characters.append(code)
        if char.isdecimal() or (
            decomposition(char) and any(c.isdecimal() for c in normalize("NFKC", char))
        ):
            digit_sources.append(code)
    return (
        _class_of(format_characters),
        _class_of([code for code in digit_sources if code <= 0xFFFF]),
        _class_of([code for code in digit_sources if code > 0xFFFF]),
    )


def _class_of(codes: list[int]) -> re.Pattern:
    """A pattern matching one of `codes` (ascending), written as ranges."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"
    )


def check_digit(first_eleven: str) -> int:
    """The check digit of the first 11 digits (省令第85号 第5条)."""
    # P_n is the n-th digit counted from the right; Q_n = n+1 (n ≤ 6), n−5 (7 ≤ n ≤ 11).
    total = 0
    for n, digit in enumerate(reversed(first_eleven), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(digit) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(digits: str) -> bool:
    return (
        len(digits) == 12
        and digits.isascii()
        and digits.isdigit()
        and check_digit(digits[:11]) == int(digits[11])
    )


def _normalise(text: str) -> str:
    # NFKC turns full-width digits and punctuation into ASCII ones (and ① into 1).
    return _without_format_characters(unicodedata.normalize("NFKC", text))


def _digits(run: str) -> str:
    return "".join(str(unicodedata.decimal(c)) for c in run if c.isdecimal())


def _number_spans(normalised: str) -> list[tuple[int, int]]:
    """Where the individual numbers are in normalised text."""
    if not _TWELVE_DIGITS.match(normalised):
        return []  # fewer than twelve digits: nothing to read
    return [
        match.span()
        for match in _RUN.finditer(normalised)
        # Fewer than twelve characters hold fewer than twelve digits (a date, an amount).
        if match.end() - match.start() >= 12 and is_individual_number(_digits(match.group()))
    ]


def contains_individual_number(text: str | None) -> bool:
    if not text:
        return False
    text = str(text)
    if text.isascii():
        # Its own NFKC form (most of a case file: dates, kinds, user names), whose digits
        # are 0-9 only: counted at C speed.
        if len(text) - len(text.translate(_DROP_ASCII_DIGITS)) < 12:
            return False
        nfkc = text
    elif not _may_hold_a_digit(text):
        return False  # no digit once normalised (a name, most addresses): nothing to read
    else:
        nfkc = unicodedata.normalize("NFKC", text)
    # Most text (a name, an address, a note) holds fewer than twelve digits: answered here,
    # before the format characters are dropped one character at a time. Dropping them adds
    # no digit (no format character is a digit), so the count is the same either way.
    if not _TWELVE_DIGITS.match(nfkc):
        return False
    return bool(_number_spans(_without_format_characters(nfkc)))


# Stands between the texts of contains_individual_number_in_any: neither a digit nor a
# separator, so no run of digits goes on past it, and a starter that composes with nothing,
# so NFKC of the texts joined by it is their NFKC forms joined by it.
_BETWEEN = "\x00"


def contains_individual_number_in_any(texts: list[str]) -> bool:
    """Whether any of `texts` holds an individual number: the same answer as asking each
    in turn, at the cost of one call (a case file's case holds hundreds of short texts)."""
    # ASCII text (dates, kinds, amounts: most of a case file) is read without NFKC.
    plain = [text for text in texts if text.isascii()]
    if len(plain) == len(texts):
        return contains_individual_number(_BETWEEN.join(plain))
    # Only the texts that hold a digit once normalised are normalised (NFKC costs about a
    # tenth of a microsecond a character, the search a hundredth).
    other = [text for text in texts if not text.isascii() and _may_hold_a_digit(text)]
    return contains_individual_number(_BETWEEN.join(plain)) or contains_individual_number(
        _BETWEEN.join(other)
    )


def mask_individual_numbers(text: str) -> str:
    """The text with each individual number in it replaced by asterisks, for what must be
    kept (a user name tried at log-in) without keeping the number. Text holding none is
    returned as it was."""
    normalised = _normalise(str(text))
    spans = _number_spans(normalised)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(normalised[last:start])
        out.append("＊" * len(_digits(normalised[start:end])))  # full-width, as every mask
        last = end
    out.append(normalised[last:])
    return "".join(out)


def refuse_individual_numbers(value: str) -> None:
    """A form-field validator."""
    if contains_individual_number(value):
        raise ValidationError(MESSAGE, code="individual_number")


# --- Invisible controls in names and labels ------------------------------------------------
# Bidirectional embeddings, overrides and isolates, direction marks, the Arabic letter mark,
# and zero-width characters: in a name they make one person's name look like another's, or
# reorder what the page shows.
INVISIBLE = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
)


def has_invisible_controls(text: str | None) -> bool:
    return bool(text) and not str(text).isascii() and any(c in INVISIBLE for c in str(text))


def refuse_invisible_controls(value: str) -> None:
    """A form-field validator for names and labels."""
    if has_invisible_controls(value):
        raise ValidationError(INVISIBLE_MESSAGE, code="invisible_controls")
