"""The managers' dashboard: where every case of the municipality stands and what is late.

Two parts, each its own block below:
- Now: the open cases by stage, the overdue ones (the one clock of cases/deadlines.py),
  the unanswered agency requests, the money outstanding and the cost borne to date.
- The period (overview/periods.py; this 年度 unless the reader chooses another or a range of
  dates): every case active in it, open or closed, by kind, office, cause and contractor;
  cases opened and closed per month of the period; the desks' checklist completion.

Every figure is aggregated in the database, a fixed number of queries whatever the number
of cases, timeline entries or ledger rows (tests/overview/test_dashboard.py counts them).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import BooleanField, Count, F, Func, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_scopes import get_scope

from cases.deadlines import Deadline, Deadlines
from cases.models import (
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
from remedies.plans import overdue_cutoff, overdue_instalments_total
from remedies.workflow import OPEN_STAGES

from .charts import BarChart, MonthChart, bar_chart, month_chart
from .periods import Period
from .queues import Person

LIST_LENGTH = 10
_FIRST_FEW = "ORDER BY stage_since, id LIMIT %s"  # a stage's oldest, in the clock index's order
# Every stage is open or ended.
ENDED_STAGES = [Stage.CLOSED, Stage.WITHDRAWN]
# A period that began less than this long ago: few cases have ended since (see _breakdown).
RECENT = timedelta(days=366)


@dataclass
class Dashboard:
    municipality: Municipality
    today: date
    # Now
    open_total: int
    by_stage: BarChart
    overdue_total: int
    overdue_by_stage: BarChart
    oldest_overdue: list["OverdueRow"]
    waiting_on_agencies: list["AgencyRequest"]
    owed: int
    held: int
    costs: BarChart
    # The period: cases active in it, open or closed since
    period: Period
    period_total: int
    period_closed: int
    by_kind: BarChart
    by_office: BarChart
    by_cause: BarChart
    by_contractor: BarChart
    months: MonthChart
    completion: CompletionPanel  # receptions: checklist completion by office and month
    # Repayment plans: instalments not paid one business day after their due date.
    instalments_overdue: int = 0
    instalments_overdue_amount: int = 0
    # 国による是正: points the national system moved back to the people owed. Nobody's cost,
    # so shown apart from the costs: (yen, cases), over every case of the municipality.
    corrections: tuple[int, int] = (0, 0)


def _count(n: int) -> str:
    return _("%(n)s cases") % {"n": f"{n:,}"}


def _cases(municipality: Municipality) -> QuerySet[Case]:
    """The municipality's cases, through the scoped manager. When the tenant scope is that
    municipality (its manager's or auditor's request), the scope's condition is already
    the municipality's: the same condition added again is tested once more on each index
    entry the breakdown reads (16,700 VM steps of its 235,000 at 100,000 cases). Any other
    scope (or none) gets the municipality's condition besides its own."""
    current = get_scope()
    if current.get("_enabled", True) and current.get("municipality") == municipality.pk:
        return Case.objects.all()
    return Case.objects.filter(municipality=municipality)


BREAKDOWN = ("stage", "kind", "office_id", "cause_category", "contractor_id")


def _breakdown(municipality: Municipality, period: Period, deadlines: Deadlines) -> list[dict]:
    # Grouped queries over the cases open now or active in the period, each group with its
    # count (`n`) and the count of those active in the period (`in_period`); the
    # breakdowns are folded from them in Python. Their size is bounded by stages × kinds ×
    # offices × causes × contractors, not by the case count, and each counts its groups as
    # the breakdown index is read, with no sort. The open cases and those that ended (closed
    # or withdrawn) are counted apart, in one statement: each part reads its stages' ranges
    # of the index with a simple test per entry, where one condition over every case of the
    # city tested each entry for both (about half the SQL at 100,000 cases). Their groups
    # never meet, the stage being one of the keys; they are put back in the index's order
    # (nulls first, as the database orders them), which ties in the charts follow.
    # The open groups also count their overdue cases (`overdue`, by the one clock, its
    # filter as SQL on the case table's columns, which the index holds): the same open
    # cases, read once for both, where a query of its own read them all again. Rows are
    # counted, not ids (COUNT(*), COUNT(1)): the id is the last column of an index entry,
    # and reading it from each of the open cases' entries was a fifth of that part's SQL.
    # An open case is active in the period when it was opened on or before its last day.
    # For a period that ends today or later (this 年度, the default) that is every open case:
    # no case is opened on a day after today (case_open and the import refuse a report
    # dated in the future, `not_in_future`), so they are counted as the index gives them,
    # without reading and testing each entry's opened_on (an eighth of the open part's SQL
    # at 100,000 cases).
    cases = _cases(municipality)
    one = Value(1)
    if period.end >= deadlines.today:
        in_period = Count("*")
    else:
        in_period = Count(one, filter=Q(opened_on__lte=period.end))
    open_now = (
        cases.filter(stage__in=OPEN_STAGES)
        .values(*BREAKDOWN)
        .annotate(
            n=Count("*"),
            in_period=in_period,
            overdue=Count(one, filter=deadlines.overdue_sql()),
        )
        .order_by()
    )
    ended = cases.filter(stage__in=ENDED_STAGES)
    if period.start > deadlines.today - RECENT:
        # A period begun within the last year (this 年度, the default): the cases ended in
        # it are few beside all those that ended before it, so they are read from their
        # range of the ended-cases index (its stage_since), not picked out of every ended
        # case of the city. SQLite's planner, not knowing the range is narrow, would read
        # the breakdown index whole for its order of groups: `_Narrow` tells it so. An
        # older period's range holds most ended cases: the breakdown index serves it.
        # Active in the period: an ended case that did not end before it began.
        since = GreaterThanOrEqual(F("stage_since"), period.start)
        ended = ended.filter(_Narrow(since), opened_on__lte=period.end)
    else:
        ended = ended.filter(period.active())
    ended = (
        ended.values(*BREAKDOWN)
        .annotate(n=Count("*"), in_period=Count("*"), overdue=Value(0))
        .order_by()
    )
    rows = sorted(
        open_now.union(ended, all=True),
        key=lambda row: tuple((row[k] is not None, row[k]) for k in BREAKDOWN),
    )
    offices = dict(Office.objects.filter(municipality=municipality).values_list("id", "name"))
    for row in rows:
        row["office__name"] = offices.get(row["office_id"], "")
    return rows


class _Narrow(Func):
    """A condition few rows meet, for SQLite's planner: likelihood(condition, 0.05), which
    SQLite documents as the way to say so (the condition itself elsewhere)."""

    template = "%(expressions)s"
    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "likelihood(%(expressions)s, 0.05)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


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


def _months(municipality: Municipality, period: Period) -> list[tuple]:
    starts = period.month_starts()

    # Opened: the day the city learned of the case. Closed: the day a case now closed was
    # closed (its stage_since). Both read from indexes on the case table, in one query,
    # counted by day and summed into months here: grouped by the day the index holds, with
    # no TruncMonth (on SQLite a Python function called for each case) to build and run.
    cases = _cases(municipality)
    opened = (
        cases.filter(opened_on__range=(period.start, period.end))
        .values_list(Value(False), "opened_on")
        .annotate(n=Count("*"))
        .order_by()
    )
    closed = (
        cases.filter(stage=Stage.CLOSED, stage_since__range=(period.start, period.end))
        .values_list(Value(True), "stage_since")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts: Counter = Counter()
    for closing, day, n in opened.union(closed, all=True):
        counts[bool(closing), day.year, day.month] += n
    return [
        (
            f"{s:%Y-%m}",
            *_month_labels(s),
            counts[False, s.year, s.month],
            counts[True, s.year, s.month],
        )
        for s in starts
    ]


def _overdue(municipality: Municipality, deadlines: Deadlines, overdue: dict) -> list["OverdueRow"]:
    """The longest overdue, by the one clock, given the overdue cases per stage (counted
    with the breakdown)."""
    if not overdue:
        return []
    cases = _cases(municipality)
    # The longest overdue: per stage, the oldest few read in that index's order (one ORDER
    # BY over every stage would sort them all), all in one query of the tenant's cases, as
    # the values a row shows (not cases with their office and assignee: a model instance
    # each, the case's state machine with it, and a query of their own for the ten listed);
    # merged by days late with one read of their waits. The stages' picks are written as SQL
    # (fixed text, the days and ids parameters): five ORM subqueries cost more to build than
    # to run.
    table = connection.ops.quote_name(Case._meta.db_table)
    picks, params = [], []
    for i, stage in enumerate(overdue):
        late = deadlines.overdue_sql(stages=[stage])
        first = f"SELECT id FROM {table} WHERE municipality_id = %s AND {late.sql}"  # noqa: S608  # nosec B608
        picks.append(f"SELECT id FROM ({first} {_FIRST_FEW}) AS oldest_{i}")  # noqa: S608  # nosec B608
        params += [municipality.pk, *late.params, LIST_LENGTH]
    oldest = RawSQL(" UNION ALL ".join(picks), params)  # noqa: S611  # nosec B611
    candidates = [
        OverdueRow.of(row)
        for row in cases.filter(pk__in=oldest).values_list(*OverdueRow.COLUMNS).order_by()
    ]
    deadlines.read_waits([c.pk for c in candidates])  # one read of their waits
    candidates.sort(key=lambda c: (-deadlines.days_late(c), c.pk))
    return deadlines.mark(candidates[:LIST_LENGTH])


@dataclass(slots=True)
class OverdueRow:
    """One of the longest overdue as its row shows it (overview/tables.py), read as values:
    what the clock needs of a case (`pk`, `stage`, `stage_since`; `Deadlines.mark` sets
    `deadline`) and what the row writes."""

    pk: int
    stage: str
    stage_since: date
    reference: str
    office: str  # the office's name: what str(office) gives
    assignee: Person | None
    deadline: Deadline | None = None

    # The values read, in the order of the fields above (the assignee's three after its id).
    COLUMNS = (
        "id",
        "stage",
        "stage_since",
        "reference",
        "office__name",
        "assignee_id",
        "assignee__last_name",
        "assignee__first_name",
        "assignee__username",
    )

    @classmethod
    def of(cls, values: tuple) -> "OverdueRow":
        *case, assignee_id, last, first, username = values
        return cls(*case, Person(last, first, username) if assignee_id is not None else None)

    def get_stage_display(self) -> str:
        """The case's get_stage_display(): its stage's label."""
        return str(Stage(self.stage).label)


@dataclass(frozen=True)
class AgencyRequest:
    """An unanswered request to agencies, as the dashboard lists it."""

    reference: str  # the case's
    agencies: list[str]  # their names, in the order of names
    contacted_on: date
    request: str


def _waiting_on_agencies(municipality: Municipality) -> list[AgencyRequest]:
    """The oldest unanswered requests of the open cases: the four values a row shows, and
    the agencies' names in one read of the link table (not the requests and their cases
    as whole rows, and the agencies through a prefetch)."""
    contacts = list(
        AgencyContact.objects.filter(
            municipality=municipality,
            case__stage__in=OPEN_STAGES,
            answered_on__isnull=True,
        )
        .order_by("contacted_on", "id")
        .values_list("id", "case__reference", "contacted_on", "request")[:LIST_LENGTH]
    )
    if not contacts:
        return []
    names: dict[int, list[str]] = {pk: [] for pk, *_ in contacts}
    links = AgencyContact.agencies.through.objects.filter(agencycontact_id__in=list(names))
    for pk, name in links.order_by("agency__name").values_list("agencycontact_id", "agency__name"):
        names[pk].append(name)
    return [AgencyRequest(ref, names[pk], on, text) for pk, ref, on, text in contacts]


def _instalments_overdue(municipality: Municipality, deadlines: Deadlines, today: date) -> dict:
    """Instalments of repayment plans not paid one business day after their due date."""
    cutoff = overdue_cutoff(deadlines.calendar, today)
    n, amount = overdue_instalments_total(municipality.pk, cutoff)
    return {"n": n, "amount": amount}


def _costs(municipality: Municipality, money: list[dict], names: dict) -> BarChart:
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
    return bar_chart(_("Cost borne"), cost_items, fmt=yen)


def dashboard(municipality: Municipality, today: date, period: Period | None = None) -> Dashboard:
    period = period or Period.current(today)
    deadlines = Deadlines(municipality, today)
    rows = _breakdown(municipality, period, deadlines)
    money = _money(municipality)
    contractor_ids = {r["contractor_id"] for r in rows} | {r["contractor_id"] for r in money}
    names = dict(
        Contractor.objects.filter(pk__in=contractor_ids - {None}).values_list("id", "name")
    )
    for row in rows:
        row["contractor__name"] = names.get(row["contractor_id"])
    open_now = [r for r in rows if r["stage"] in OPEN_STAGES]
    in_period = [{**r, "n": r["in_period"]} for r in rows if r["in_period"]]

    # ---- now ---------------------------------------------------------------------------
    stages = _fold(open_now, "stage")
    overdue = {
        s: n for s, n in _fold([{**r, "n": r["overdue"]} for r in open_now], "stage").items() if n
    }
    oldest = _overdue(municipality, deadlines, overdue)
    open_stages = [s for s in Stage if s in OPEN_STAGES]
    instalments = _instalments_overdue(municipality, deadlines, today)

    # ---- the period --------------------------------------------------------------------
    kinds = _fold(in_period, "kind")
    offices = _fold(in_period, "office__name")
    causes = _fold(in_period, "cause_category")
    contractors = _fold(in_period, "contractor__name")

    return Dashboard(
        municipality=municipality,
        today=today,
        open_total=sum(stages.values()),
        by_stage=bar_chart(
            _("Open cases by stage"),
            [(s.label, stages.get(s.value, 0)) for s in open_stages],
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
        waiting_on_agencies=_waiting_on_agencies(municipality),
        owed=sum(r["owed"] for r in money),
        held=sum(r["held"] for r in money),
        costs=_costs(municipality, money, names),
        period=period,
        period_total=sum(r["n"] for r in in_period),
        period_closed=sum(r["n"] for r in in_period if r["stage"] == Stage.CLOSED),
        by_kind=bar_chart(
            _("Cases by kind"),
            [(k.label, kinds[k.value]) for k in CaseKind if kinds.get(k.value)],
            fmt=_count,
        ),
        by_office=bar_chart(
            _("Cases by office"), sorted(offices.items(), key=lambda i: -i[1]), fmt=_count
        ),
        by_cause=bar_chart(
            _("Cases by cause"),
            [
                (CauseCategory(c).label if c else _("Not recorded yet"), n)
                for c, n in sorted(causes.items(), key=lambda i: -i[1])
            ],
            fmt=_count,
        ),
        by_contractor=bar_chart(
            _("Cases by contractor"),
            [
                (name or _("(no contractor)"), n)
                for name, n in sorted(contractors.items(), key=lambda i: (-i[1], i[0] or ""))
            ],
            fmt=_count,
        ),
        months=month_chart(_months(municipality, period)),
        # The prevention measure's record, over the same period.
        completion=completion_rates(since=period.start, until=period.end),
        instalments_overdue=instalments["n"] or 0,
        instalments_overdue_amount=instalments["amount"] or 0,
        corrections=national_corrections(municipality.pk),
    )
