"""Japanese era dates (和暦) for the UI and documents: 2023-03-16 → 令和5年3月16日."""

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
