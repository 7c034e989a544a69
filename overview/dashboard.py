"""The managers' dashboard: where every case of the municipality stands and what is late.

Every figure is aggregated in the database, a fixed number of queries whatever the number
of cases, timeline entries or ledger rows (tests/overview/test_dashboard.py counts them).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Prefetch
from django.db.models.functions import TruncMonth
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cases.deadlines import Deadlines
from cases.models import Agency, Case, CaseKind, CauseCategory, Municipality, Stage, TimelineEvent
from cases.wareki import yen
from remedies import ledger
from remedies.models import AgencyContact, LedgerEntry, Side
from remedies.workflow import OPEN_STAGES

from .charts import BarChart, MonthChart, bar_chart, month_chart

MONTHS = 12
LIST_LENGTH = 10


@dataclass
class Dashboard:
    municipality: Municipality
    today: date
    open_total: int
    by_stage: BarChart
    by_kind: BarChart
    by_office: BarChart
    by_cause: BarChart
    by_contractor: BarChart
    overdue_total: int
    overdue_by_stage: BarChart
    oldest_overdue: list[Case]
    waiting_on_agencies: list[AgencyContact]
    owed: int
    held: int
    costs: BarChart
    months: MonthChart


def _count(n: int) -> str:
    return _("%(n)s cases") % {"n": f"{n:,}"}


def _open_breakdown(municipality: Municipality) -> list[dict]:
    # One grouped query; the five breakdowns are folded from it in Python. Its size is
    # bounded by stages × kinds × offices × causes × contractors, not by the case count.
    return list(
        Case.objects.filter(municipality=municipality, stage__in=OPEN_STAGES)
        .values("stage", "kind", "office__name", "cause_category", "contractor__name")
        .annotate(n=Count("id"))
        .order_by()
    )


def _fold(rows: list[dict], key: str) -> Counter:
    counter: Counter = Counter()
    for row in rows:
        counter[row[key]] += row["n"]
    return counter


def _month_labels(day: date) -> tuple[str, str, str]:
    """(full, short, year) labels of a month: 2026年11月 / 11月 / 2026年, or in English
    Nov 2026 / Nov / 2026."""
    if (get_language() or "ja").startswith("ja"):
        return f"{day.year}年{day.month}月", f"{day.month}月", f"{day.year}年"
    return date_format(day, "M Y"), date_format(day, "M"), str(day.year)


def _months(municipality: Municipality, today: date) -> list[tuple]:
    first = date(today.year, today.month, 1)
    starts = []
    for back in range(MONTHS - 1, -1, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(date(y, m + 1, 1))
    # Opened: the day the city learned of the case; closed: each closing step (a case
    # reopened and closed again counts in both months).
    rows = (
        TimelineEvent.objects.filter(
            case__municipality=municipality,
            action__in=["case.opened", "stage.close"],
            occurred_on__gte=starts[0],
        )
        .annotate(month=TruncMonth("occurred_on"))
        .values("action", "month")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(r["action"], r["month"]): r["n"] for r in rows}
    return [
        (
            f"{s:%Y-%m}",
            *_month_labels(s),
            counts.get(("case.opened", s), 0),
            counts.get(("stage.close", s), 0),
        )
        for s in starts
    ]


def dashboard(municipality: Municipality, today: date) -> Dashboard:
    rows = _open_breakdown(municipality)
    stages = _fold(rows, "stage")
    kinds = _fold(rows, "kind")
    offices = _fold(rows, "office__name")
    causes = _fold(rows, "cause_category")
    contractors = _fold(rows, "contractor__name")

    deadlines = Deadlines(municipality, today)
    overdue_cases = Case.objects.filter(municipality=municipality).filter(deadlines.overdue())
    overdue = dict(overdue_cases.values_list("stage").annotate(n=Count("id")).order_by())
    oldest = list(
        overdue_cases.select_related("office", "assignee").order_by("stage_since", "id")[
            :LIST_LENGTH
        ]
    )
    for case in oldest:
        case.deadline = deadlines.for_case(case.stage, case.stage_since)

    waiting = list(
        AgencyContact.objects.filter(
            case__municipality=municipality,
            case__stage__in=OPEN_STAGES,
            answered_on__isnull=True,
        )
        .select_related("case")
        .prefetch_related(Prefetch("agencies", queryset=Agency.objects.order_by("name")))
        .order_by("contacted_on", "id")[:LIST_LENGTH]
    )

    entries = LedgerEntry.objects.filter(case__municipality=municipality)
    owed, held = ledger.outstanding(entries)
    cost_items = []
    for row in ledger.cost_rows(entries, "case__contractor__name"):
        if row["side"] == Side.CONTRACTOR:
            label = row["case__contractor__name"] or _("(no contractor)")
        else:
            label = str(municipality) if row["side"] == Side.MUNICIPALITY else Side.NATIONAL.label
        cost_items.append((label, row["cost"]))

    open_stages = [s for s in Stage if s in OPEN_STAGES]
    return Dashboard(
        municipality=municipality,
        today=today,
        open_total=sum(stages.values()),
        by_stage=bar_chart(
            _("Open cases by stage"),
            [(s.label, stages.get(s.value, 0)) for s in open_stages],
            fmt=_count,
        ),
        by_kind=bar_chart(
            _("Open cases by kind"),
            [(k.label, kinds[k.value]) for k in CaseKind if kinds.get(k.value)],
            fmt=_count,
        ),
        by_office=bar_chart(
            _("Open cases by office"), sorted(offices.items(), key=lambda i: -i[1]), fmt=_count
        ),
        by_cause=bar_chart(
            _("Open cases by cause"),
            [
                (CauseCategory(c).label if c else _("Not recorded yet"), n)
                for c, n in sorted(causes.items(), key=lambda i: -i[1])
            ],
            fmt=_count,
        ),
        by_contractor=bar_chart(
            _("Open cases by contractor"),
            [
                (name or _("(no contractor)"), n)
                for name, n in sorted(contractors.items(), key=lambda i: (-i[1], i[0] or ""))
            ],
            fmt=_count,
        ),
        overdue_total=sum(overdue.values()),
        overdue_by_stage=bar_chart(
            _("Overdue cases by stage"),
            [(s.label, overdue.get(s.value, 0)) for s in open_stages],
            fmt=_count,
            css=lambda label: "alt",
        ),
        oldest_overdue=oldest,
        waiting_on_agencies=waiting,
        owed=owed,
        held=held,
        costs=bar_chart(_("Cost borne"), cost_items, fmt=yen),
        months=month_chart(_months(municipality, today)),
    )
