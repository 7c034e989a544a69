"""Refusing individual numbers (マイナンバー), which Tadasu must never store.

A 12-digit number whose last digit is the check digit of 平成26年総務省令第85号 第5条 is
treated as an individual number, whether typed in ASCII or full-width digits, with or
without spaces or hyphens between the digits. Twelve digits that fail the check (a phone
number, an account number) are left alone.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MESSAGE = _(
    "This looks like an individual number (My Number). Individual numbers must not be "
    "recorded; remove it and save again."
)

# Digits with at most one separator (space or a hyphen/dash of any width) between them.
_SEPARATORS = " \u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc"
_CANDIDATE = re.compile(rf"(?<!\d)\d(?:[{re.escape(_SEPARATORS)}]?\d){{11}}(?!\d)")


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
    return len(digits) == 12 and digits.isdigit() and check_digit(digits[:11]) == int(digits[11])


def contains_individual_number(text: str | None) -> bool:
    if not text:
        return False
    # NFKC turns full-width digits into ASCII (and full-width spaces into plain ones).
    normalised = unicodedata.normalize("NFKC", str(text))
    for match in _CANDIDATE.finditer(normalised):
        digits = re.sub(r"\D", "", match.group())
        if is_individual_number(digits):
            return True
    return False


def refuse_individual_numbers(value: str) -> None:
    """A form-field validator."""
    if contains_individual_number(value):
        raise ValidationError(MESSAGE, code="individual_number")
