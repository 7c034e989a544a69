"""Japanese era dates (和暦) for the UI and documents: 2023-03-16 → 令和5年3月16日."""

import re
import unicodedata
from datetime import date

# (first day of the era, name). The first year of an era is written 元年.
ERAS: list[tuple[date, str]] = [
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1868, 1, 25), "明治"),
]


def era_year(day: date) -> tuple[str, int]:
    for start, name in ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError("dates before the Meiji era are not supported")


def wareki(day: date, *, gannen: bool = True) -> str:
    name, year = era_year(day)
    year_text = "元" if (year == 1 and gannen) else str(year)
    return f"{name}{year_text}年{day.month}月{day.day}日"


def fiscal_year(day: date) -> int:
    """Japanese fiscal year (年度) runs April to March: 2023-03-16 is in FY2022."""
    return day.year if day.month >= 4 else day.year - 1


def yen(amount: int) -> str:
    """Amounts as official documents write them: 15,000円, and a negative one △15,000円
    (DOCUMENTS.md), never -15,000円."""
    if amount < 0:
        return f"△{-amount:,}円"
    return f"{amount:,}円"


def fiscal_year_label(year: int) -> str:
    """令和8年度 for fiscal year 2026 (April 2026 – March 2027). The era is the one in force
    on the year's last day of December, so that FY2019 reads 令和元年度 as cities write it
    (the era changed on 1 May 2019, a month into that fiscal year)."""
    name, era = era_year(date(year, 12, 31))
    return f"{name}{'元' if era == 1 else era}年度"


# --- Reading a date as people type it (forms) ----------------------------------------------
# Year first, as Japanese forms ask: 2024-05-01, 2024/5/1, 2024.5.1, 2024年5月1日, 20240501,
# 令和6年5月1日, 令和元年5月1日, R6.5.1, H31/4/30; full-width digits and spaces alike. A
# month-first or day-first date (05/01/2024) is never guessed at.
_ERA_LETTERS = {"R": "令和", "H": "平成", "S": "昭和", "T": "大正", "M": "明治"}
_WESTERN = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", re.ASCII)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_ERA = re.compile(
    r"(令和|平成|昭和|大正|明治|[RHSTM])\s*(元|\d{1,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?",
    re.ASCII,
)


def parse_date(text: str) -> date | None:
    """The date in `text`, or None when it is not a date written year first. Never raises.

    An era date must fall inside its era (平成31年5月1日 does not exist: it is 令和元年)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    value = unicodedata.normalize("NFKC", text).strip().upper().replace(" ", "")
    if match := _WESTERN.fullmatch(value) or _COMPACT.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
        return _date(year, month, day)
    if match := _ERA.fullmatch(value):
        era, year_text, month, day = match.groups()
        name = _ERA_LETTERS.get(era, era)
        era_year_number = 1 if year_text == "元" else int(year_text)
        if era_year_number < 1:
            return None
        starts = {n: s for s, n in ERAS}
        start = starts[name]
        found = _date(start.year + era_year_number - 1, int(month), int(day))
        if found is None or found < start:
            return None
        # The era ended where the next one began.
        later = [s for s, _n in ERAS if s > start]
        if later and found >= min(later):
            return None
        return found
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
