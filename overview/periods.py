"""The period the dashboard's breakdowns and monthly figures cover: a fiscal year (年度,
April to March) or a range of dates chosen by the reader.

A case counts in a period when it was active at some time in it: opened on or before the
period's last day, and not closed or withdrawn before its first day. So a case closed in
the period keeps its cause, kind and office in the breakdowns, and a case opened after the
period is not in it.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Q
from django.utils.translation import gettext as _

from cases.models import Stage
from cases.wareki import fiscal_year, fiscal_year_label, wareki

# A range of dates covers at most this many months (the month chart draws one column each).
MAX_MONTHS = 36
# The fiscal years offered in the selector: this one and the years before it.
YEARS_OFFERED = 10


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    year: int | None = None  # set when the period is one whole fiscal year

    @classmethod
    def fiscal(cls, year: int) -> "Period":
        return cls(date(year, 4, 1), date(year + 1, 3, 31), year)

    @classmethod
    def current(cls, today: date) -> "Period":
        return cls.fiscal(fiscal_year(today))

    @property
    def label(self) -> str:
        if self.year is not None:
            return fiscal_year_label(self.year)
        return _("%(start)s to %(end)s") % {"start": wareki(self.start), "end": wareki(self.end)}

    @property
    def key(self) -> str:
        """For cache keys."""
        return f"{self.start.isoformat()}:{self.end.isoformat()}"

    def month_starts(self) -> list[date]:
        """The first days of the months the period touches, oldest first."""
        starts, y, m = [], self.start.year, self.start.month
        while date(y, m, 1) <= self.end:
            starts.append(date(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return starts

    def active(self) -> Q:
        """Cases active at some time in the period (see the module docstring)."""
        ended_before = Q(stage__in=[Stage.CLOSED, Stage.WITHDRAWN], stage_since__lt=self.start)
        return Q(opened_on__lte=self.end) & ~ended_before


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def years_offered(today: date) -> list[int]:
    current = fiscal_year(today)
    return list(range(current, current - YEARS_OFFERED, -1))
