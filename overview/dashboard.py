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
from cases.models import (
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    Contractor,
    Municipality,
    Office,
    Stage,
)
from cases.wareki import yen
from receptions.selectors import CompletionPanel, completion_rates
from remedies.ledger import COST_FIELDS, national_corrections
from remedies.models import AgencyContact, CityLedgerTotal, Side
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
    completion: CompletionPanel  # receptions: checklist completion by office and month
    # 国による是正: points the national system moved back to the people owed. Nobody's cost,
    # so shown apart from the costs: (yen, cases).
    corrections: tuple[int, int] = (0, 0)


def _count(n: int) -> str:
    return _("%(n)s cases") % {"n": f"{n:,}"}


def _open_breakdown(municipality: Municipality) -> list[dict]:
    # One grouped query, read from the case_breakdown_idx index alone; the five breakdowns
    # are folded from it in Python. Its size is bounded by stages × kinds × offices ×
    # causes × contractors, not by the case count.
    rows = list(
        Case.objects.filter(municipality=municipality, stage__in=OPEN_STAGES)
        .values("stage", "kind", "office_id", "cause_category", "contractor_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    offices = dict(Office.objects.filter(municipality=municipality).values_list("id", "name"))
    for row in rows:
        row["office__name"] = offices.get(row["office_id"], "")
    return rows


def _money(municipality: Municipality) -> list[dict]:
    """The ledger totals of the municipality's cases, per contractor of the case: a row per
    contractor (CityLedgerTotal, kept by the ledger services), not a row per case. Costs
    are keyed by the side that bore them."""
    return [
        {
            "contractor_id": row.contractor_id,
            "owed": row.owed,
            "held": row.held,
            **{side: getattr(row, field) for side, field in COST_FIELDS.items()},
        }
        for row in CityLedgerTotal.objects.filter(municipality=municipality)
    ]


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


def _month_starts(today: date) -> list[date]:
    """The first days of the last MONTHS months, this one included, oldest first."""
    first = date(today.year, today.month, 1)
    starts = []
    for back in range(MONTHS - 1, -1, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(date(y, m + 1, 1))
    return starts


def _months(municipality: Municipality, today: date) -> list[tuple]:
    starts = _month_starts(today)

    # Opened: the day the city learned of the case. Closed: the day a case now closed was
    # closed (its stage_since). Both read from indexes on the case table.
    def per_month(rows) -> dict[date, int]:
        return {r["month"]: r["n"] for r in rows.annotate(n=Count("id")).order_by()}

    cases = Case.objects.filter(municipality=municipality)
    opened = per_month(
        cases.filter(opened_on__gte=starts[0])
        .annotate(month=TruncMonth("opened_on"))
        .values("month")
    )
    closed = per_month(
        cases.filter(stage=Stage.CLOSED, stage_since__gte=starts[0])
        .annotate(month=TruncMonth("stage_since"))
        .values("month")
    )
    return [
        (
            f"{s:%Y-%m}",
            *_month_labels(s),
            opened.get(s, 0),
            closed.get(s, 0),
        )
        for s in starts
    ]


def dashboard(municipality: Municipality, today: date) -> Dashboard:
    rows = _open_breakdown(municipality)
    money = _money(municipality)
    contractor_ids = {r["contractor_id"] for r in rows} | {r["contractor_id"] for r in money}
    names = dict(
        Contractor.objects.filter(pk__in=contractor_ids - {None}).values_list("id", "name")
    )
    for row in rows:
        row["contractor__name"] = names.get(row["contractor_id"])
    stages = _fold(rows, "stage")
    kinds = _fold(rows, "kind")
    offices = _fold(rows, "office__name")
    causes = _fold(rows, "cause_category")
    contractors = _fold(rows, "contractor__name")

    deadlines = Deadlines(municipality, today)
    overdue_cases = Case.objects.filter(municipality=municipality).filter(deadlines.overdue())
    overdue = dict(overdue_cases.values_list("stage").annotate(n=Count("id")).order_by())
    # The longest overdue: per stage, the oldest few from the (municipality, stage,
    # stage_since) index, then merged; one ORDER BY over every stage would sort them all.
    oldest = []
    for stage in OPEN_STAGES:
        oldest += (
            overdue_cases.filter(stage=stage)
            .select_related("office", "assignee")
            .order_by("stage_since", "id")[:LIST_LENGTH]
        )
    oldest = sorted(oldest, key=lambda c: (c.stage_since, c.pk))[:LIST_LENGTH]
    for case in oldest:
        case.deadline = deadlines.for_case(case.stage, case.stage_since)

    waiting = list(
        AgencyContact.objects.filter(
            municipality=municipality,
            case__stage__in=OPEN_STAGES,
            answered_on__isnull=True,
        )
        .select_related("case")
        .prefetch_related(Prefetch("agencies", queryset=Agency.objects.order_by("name")))
        .order_by("contacted_on", "id")[:LIST_LENGTH]
    )

    owed = sum(r["owed"] for r in money)
    held = sum(r["held"] for r in money)
    cost_items = [
        (names.get(r["contractor_id"]) or _("(no contractor)"), r["contractor"])
        for r in sorted(money, key=lambda r: names.get(r["contractor_id"]) or "")
        if r["contractor"]
    ]
    for side, label in (
        (Side.MUNICIPALITY, str(municipality)),
        (Side.NATIONAL, Side.NATIONAL.label),
    ):
        cost = sum(r[side] for r in money)
        if cost:
            cost_items.append((label, cost))

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
        # The prevention measure's record: the same twelve months as the chart above.
        completion=completion_rates(since=_month_starts(today)[0]),
        corrections=national_corrections(municipality.pk),
    )
