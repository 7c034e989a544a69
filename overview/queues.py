"""Work queues: what each person should look at next.

- My cases: open cases assigned to me (city staff and managers).
- Waiting on me: cases nobody has taken yet; my cases (for a manager, every case of the
  section) that are overdue or due soon by the one clock of cases/deadlines.py (which
  stops while an agency's answer is awaited, so the dashboard, the case list and this
  queue agree on every case); for managers also
  documents awaiting approval (決裁) and cases in settlement, which only a manager can
  close; for contractor staff, their company's cases in the visit stage.
- Waiting on an agency: open cases with a request to an agency still unanswered.
- Visits this week: visits recorded for this week, Monday to Sunday.
- Overdue instalments (city roles): instalments of repayment plans in force, in open
  cases, not paid one business day after their due date (remedies/plans.py).

Every queue is one bounded query (at most QUEUE_LENGTH rows, read in the order of an
index), and one more query counts every queue's total at once; all inside the tenant
scope, so the page costs the same number of queries whatever the number of cases.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import NamedTuple
from urllib.parse import urlencode

from django.db import connection, connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import get_language

from cases.deadlines import TIMED_STAGES, Deadline, DeadlineBook
from cases.filters import DUE_SOON_DAYS, ME, NOBODY, OPEN
from cases.models import Case, Membership, Role, Stage, User
from remedies.models import AgencyContact, Document, DocumentStatus, Visit
from remedies.plans import days_late, overdue_cutoff, overdue_instalments_picked
from remedies.workflow import OPEN_STAGES

QUEUE_LENGTH = 50
# The order of a queue of cases: the longest in its stage first.
BY_DUE = ("stage_since", "id")


@dataclass
class Queue:
    key: str
    rows: list
    total: int
    marked: bool = False  # rows of cases, to be marked with their deadlines
    # The case list's filters that hold exactly this queue's cases, in its order (a queue of
    # cases only): where "and N more" leads.
    list_query: str = ""

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass
class Queues:
    today: date
    week: tuple[date, date]
    mine: Queue | None = None
    unassigned: Queue | None = None
    due: Queue | None = None
    to_close: Queue | None = None
    approvals: Queue | None = None
    to_visit: Queue | None = None
    agencies: Queue | None = None
    visits: Queue | None = None
    instalments: Queue | None = None


class Person(NamedTuple):
    """A case's assignee as a row names it (`person`, cases/templatetags/tadasu.py)."""

    last_name: str
    first_name: str
    username: str


@dataclass(slots=True)
class CaseRow:
    """A case as a queue's row shows it, read as values: the rows of a manager's page (about
    200 at 100,000 cases) are not built as cases with their office and assignee (a model
    instance each, the case's state machine with it). What overview/case_rows.py writes and
    the deadline book marks (`pk`, `municipality_id`, `stage`, `stage_since`)."""

    pk: int
    municipality_id: int
    reference: str
    kind: str
    stage: str
    stage_since: date
    office: str  # the office's name: what str(office) gives
    assignee: Person | None
    deadline: Deadline | None = None

    # The values read, in the order of the fields above (the assignee's three after its id).
    COLUMNS = (
        "pk",
        "municipality_id",
        "reference",
        "kind",
        "stage",
        "stage_since",
        "office__name",
        "assignee_id",
        "assignee__last_name",
        "assignee__first_name",
        "assignee__username",
    )

    @classmethod
    def of(cls, values: tuple) -> "CaseRow":
        *case, assignee_id, last, first, username = values
        return cls(*case, Person(last, first, username) if assignee_id is not None else None)

    def get_kind_display(self) -> str:
        return _label(Case, "kind", self.kind)

    def get_stage_display(self) -> str:
        return _label(Case, "stage", self.stage)


def _label(model, name: str, value: str) -> str:
    """What the model's get_<name>_display() gives: its choice's label, else the value; in
    the language of the moment, kept once worked out (a manager's page shows about 200
    labels, of a dozen choices)."""
    key = (get_language(), model, name, value)
    text = _LABELS.get(key)
    if text is None:
        text = _LABELS[key] = str(dict(model._meta.get_field(name).flatchoices).get(value, value))
    return text


# (language, model, field name, value) → the label: a bounded set, the fields' choices.
_LABELS: dict[tuple, str] = {}


@dataclass(slots=True)
class WaitingRequest:
    """An unanswered request to agencies as the queue's row shows it, read as values (as the
    dashboard's `AgencyRequest`), with its wait in its city's business days."""

    pk: int
    reference: str  # the case's
    municipality_id: int  # the case's
    contacted_on: date
    request: str
    agencies: list[str] = field(default_factory=list)  # their names, in the order of names
    waiting_days: int = 0


@dataclass(slots=True)
class MissedInstalment:
    """An instalment not paid in time as the queue's row shows it, read as values (not the
    instalment, its plan, person, case and assignee as model instances, nor their columns
    compiled into the query)."""

    number: int
    due_on: date
    unpaid: int
    reference: str  # the case's
    municipality_id: int  # the case's
    party_id: int
    party_label: str
    assignee: Person | None  # the case's
    days_late: int = 0

    COLUMNS = (
        "number",
        "due_on",
        "unpaid",
        "plan__case__reference",
        "plan__case__municipality_id",
        "plan__party_id",
        "plan__party__label",
        "plan__case__assignee_id",
        "plan__case__assignee__last_name",
        "plan__case__assignee__first_name",
        "plan__case__assignee__username",
    )

    @classmethod
    def of(cls, values: tuple) -> "MissedInstalment":
        *instalment, assignee_id, last, first, username = values
        person = Person(last, first, username) if assignee_id is not None else None
        return cls(*instalment, person)


@dataclass(slots=True)
class AwaitingDocument:
    """A document awaiting approval as the queue's row shows it, read as values (not the
    document, whose data is decrypted as it is read, with its case and author)."""

    kind: str
    reference: str | None  # its case's, if it has one
    created_by: Person

    COLUMNS = (
        "kind",
        "case__reference",
        "created_by__last_name",
        "created_by__first_name",
        "created_by__username",
    )

    @classmethod
    def of(cls, values: tuple) -> "AwaitingDocument":
        kind, reference, *author = values
        return cls(kind, reference, Person(*author))

    def get_kind_display(self) -> str:
        return _label(Document, "kind", self.kind)


@dataclass(slots=True)
class WeekVisit:
    """A visit of this week as the queue's row shows it, read as values."""

    visited_on: date
    reference: str  # its case's
    party_label: str
    place: str
    purpose: str

    COLUMNS = ("visited_on", "case__reference", "party__label", "place", "purpose")

    @classmethod
    def of(cls, values: tuple) -> "WeekVisit":
        return cls(*values)

    def get_purpose_display(self) -> str:
        return _label(Visit, "purpose", self.purpose)


class _Totals:
    """The queues' totals, counted together in one query when the page is assembled
    (`count`): a queue longer than the rows it shows costs no query of its own, so the page
    costs the same number of queries at 1,000 cases as at 100,000. (A window count on each
    queue's rows would do it too, but would read every row of the queue to count it; each
    count here is read from an index.)"""

    def __init__(self):
        self.pending: dict[str, list[QuerySet | tuple[str, list]]] = {}

    def add(self, queue: Queue, qs: QuerySet | list[tuple[str, list]]) -> None:
        """`qs`: the queue's cases, or the SQL and parameters of the parts holding them
        apart (no case in two, each already compiled for the queue's rows), whose counts are
        added up."""
        if len(queue.rows) == QUEUE_LENGTH:  # there may be more than the rows shown
            self.pending[queue.key] = qs if isinstance(qs, list) else [qs]

    def count(self, queues: list[Queue]) -> None:
        if not queues:
            return
        parts, params = [], []
        for queue in queues:
            if queue.key in self.pending:
                counts = []
                for qs in self.pending[queue.key]:
                    if isinstance(qs, QuerySet):
                        sql, more = qs.order_by().values("pk").query.sql_with_params()
                    else:
                        sql, more = qs
                    # The ORM's own SQL for the queue, its values bound as parameters.
                    counts.append(f"(SELECT COUNT(*) FROM ({sql}) counted)")  # noqa: S608  # nosec B608
                    params += more
                parts.append(" + ".join(counts))
            else:  # shorter than a page: its rows are its total
                parts.append("%s")
                params.append(len(queue.rows))
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            for queue, total in zip(queues, cursor.fetchone(), strict=True):
                queue.total = total


def _queue(key: str, qs: QuerySet, *, row: type) -> Queue:
    """A queue of `row`s (its COLUMNS, then `row.of(values)`), not of cases: its first rows,
    its total counted with the others only when it is longer than them (never, here)."""
    rows = [row.of(v) for v in qs.values_list(*row.COLUMNS)[:QUEUE_LENGTH]]
    return Queue(key, rows, len(rows))


# Where a queue's own condition goes in the compiled SQL of the open cases (`_OpenCases`).
_HERE = "queue_condition_here"


class _Compiled:
    """A scoped ORM query of cases (`Case.objects`, its tenant filter and the open stages)
    compiled once a request, with a place in its WHERE clause for a queue's own condition
    (SQL on the case table's columns, values as parameters). A manager's page reads five
    queues of cases (four tables of rows, five parts of the due-soon queue picked and
    counted): building and compiling each through the ORM cost more than running it."""

    def __init__(self, qs: QuerySet, *, place: bool = True):
        """Without a `place`, the query as it is (`sql("", [])`)."""
        qs = qs.order_by()
        if place:
            qs = qs.filter(RawSQL(_HERE, (), output_field=BooleanField()))  # noqa: S611  # nosec B611
        self.connection = connections[qs.db]
        self.compiler = qs.query.get_compiler(connection=self.connection)
        sql, params = self.compiler.as_sql()
        self.head, mark, self.tail = sql.partition(_HERE) if place else (sql, "", "")
        # The condition's parameters follow the query's own: nothing after it takes any.
        if place and (not mark or _HERE in self.tail or "%s" in self.tail):
            raise ValueError(f"no single place for a queue's condition in {sql!r}")
        self.params = list(params)

    def sql(self, condition: str, params: list) -> tuple[str, list]:
        return f"{self.head}{condition}{self.tail}", [*self.params, *params]

    def rows(self, condition: str, params: list, order: str) -> list:
        """The first QUEUE_LENGTH rows in this `order` (SQL), converted as the ORM converts
        them (on SQLite a date is read as text)."""
        sql, params = self.sql(condition, params)
        with self.connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY {order} LIMIT {QUEUE_LENGTH}", params)
            rows = cursor.fetchall()
        converters = self.compiler.get_converters([col for col, *_ in self.compiler.select])
        if converters:
            rows = self.compiler.apply_converters(rows, converters)
        return list(rows)


def _column(name: str) -> str:
    """A column of the case table, named as the compiled queries name it."""
    quote = connection.ops.quote_name
    return f"{quote(Case._meta.db_table)}.{quote(Case._meta.get_field(name).column)}"


class _OpenCases:
    """The scope's open cases, compiled twice a request: as a queue's rows (CaseRow's
    values, joined to the office and the assignee) and as its ids with the due order's
    columns (the picks of the due-soon queue and every count)."""

    def __init__(self):
        cases = _cases()
        self.rows = _Compiled(cases.values_list(*CaseRow.COLUMNS))
        self.ids = _Compiled(cases.values("pk", "stage_since"))
        self.order = ", ".join(_column(name) for name in BY_DUE)  # the due order as SQL


def _case_queue(
    key: str,
    cases: _OpenCases,
    book: DeadlineBook,
    condition: str = "",
    params: list | None = None,
    *,
    totals: _Totals,
    parts: list[tuple[str, list]] | None = None,
    listed: dict | None = None,
) -> Queue:
    """A queue of the open cases matching `condition` (SQL on the case table's columns,
    its values `params`), in the due order; or, with `parts`, of the cases matching any of
    these conditions (no case in two), picked a part at a time. Its rows are CaseRows,
    which the `book` marks."""
    if parts is not None:
        # The queue's cases held apart (a stage each): each part's first rows picked as ids
        # in the order of an index, which stops after QUEUE_LENGTH, rather than every
        # match of the queue sorted; of those, the first QUEUE_LENGTH in the queue's order
        # kept; then only the rows kept are read, joined and ordered. Each part is the SQL
        # of the scoped query of open cases with the part's condition, for its pick
        # (ordered by the due order's columns) and its count.
        columns = ["pk" if name == "id" else name for name in BY_DUE]  # as the picks name them
        counted, picks, params = [], [], []
        for i, (part, more) in enumerate(parts):
            sql, more = cases.ids.sql(part, more)
            counted.append((sql, more))
            first = f"{sql} ORDER BY {cases.order} LIMIT {QUEUE_LENGTH}"
            picks.append(f"SELECT {', '.join(columns)} FROM ({first}) AS first_{i}")  # noqa: S608  # nosec B608
            params += more
        kept = f"{' UNION ALL '.join(picks)} ORDER BY {', '.join(columns)} LIMIT {QUEUE_LENGTH}"
        condition = f"{_column('id')} IN (SELECT pk FROM ({kept}) AS kept)"  # noqa: S608  # nosec B608
    else:
        params = params or []
        counted = [cases.ids.sql(condition, params)]
    rows = [CaseRow.of(values) for values in cases.rows.rows(condition, params, cases.order)]
    queue = Queue(key, rows, len(rows))
    queue.marked = True
    if listed is not None:  # the case list's filters for the same cases, in the same order
        queue.list_query = urlencode({**listed, "sort": "stage-since"})
    totals.add(queue, counted)
    return queue


def _cases() -> QuerySet[Case]:
    # The rows show the office and the assignee (CaseRow), never the contractor.
    return Case.objects.filter(stage__in=OPEN_STAGES)


def queues_for(user: User, membership: Membership, book: DeadlineBook) -> Queues:
    today = book.today
    monday = today - timedelta(days=today.weekday())
    result = Queues(today=today, week=(monday, monday + timedelta(days=6)))
    totals = _Totals()
    queue = partial(_case_queue, totals=totals)
    # The open cases of the scope, compiled once: each queue of cases adds its condition.
    open_cases = _OpenCases()
    assignee, stage = _column("assignee"), _column("stage")

    if membership.role in (Role.STAFF, Role.MANAGER):
        mine = (f"{assignee} = %s", [user.pk])
        result.mine = queue("mine", open_cases, book, *mine, listed={"stage": OPEN, "assignee": ME})
        result.unassigned = queue(
            "unassigned",
            open_cases,
            book,
            f"{assignee} IS NULL",
            listed={"stage": OPEN, "assignee": NOBODY},
        )
        # A manager answers for every case of the section: the cases due soon or overdue
        # are all of them, whoever holds them, so that no overdue row further down (a case
        # in settlement, say) sits under a count of 0. Staff answer for their own (and only
        # their cases' waits are read).
        listed = {"stage": OPEN, "due_soon": "on"}
        if membership.role == Role.MANAGER:
            among, watched = None, ("", [])
        else:
            among, watched = {"assignee": user}, (f"{mine[0]} AND ", mine[1])
            listed["assignee"] = ME
        # The clock's filter as SQL on the case table (the only table of the picks and of
        # the count), a stage at a time: not built and compiled through the ORM.
        parts = []
        for timed in TIMED_STAGES:
            due = book.due_within_sql(DUE_SOON_DAYS, among, [timed])
            parts.append((f"{watched[0]}({due.sql})", [*watched[1], *due.params]))
        result.due = queue("due", open_cases, book, parts=parts, listed=listed)
    if membership.role == Role.MANAGER:
        result.to_close = queue(
            "to_close",
            open_cases,
            book,
            f"{stage} = %s",
            [Stage.SETTLEMENT.value],
            listed={"stage": Stage.SETTLEMENT},
        )
        result.approvals = _queue(
            "approvals",
            Document.objects.filter(status=DocumentStatus.AWAITING_APPROVAL).order_by(
                "created_at", "id"
            ),
            row=AwaitingDocument,
        )
    if membership.role == Role.CONTRACTOR:
        result.to_visit = queue(
            "to_visit",
            open_cases,
            book,
            f"{stage} = %s",
            [Stage.VISIT.value],
            listed={"stage": Stage.VISIT},
        )
    if membership.role != Role.CONTRACTOR:
        result.agencies = _waiting_on_agencies(book, totals)
    result.visits = _queue(
        "visits",
        Visit.objects.filter(visited_on__range=result.week).order_by("visited_on", "id"),
        row=WeekVisit,
    )
    if membership.role != Role.CONTRACTOR:
        result.instalments = _overdue_instalments(book, totals)
    queues = [q for q in vars(result).values() if isinstance(q, Queue)]
    totals.count(queues)
    # Every queue's cases marked with their deadlines at once: one read of their waits.
    book.mark([row for q in queues if q.marked for row in q.rows])
    return result


def _waiting_on_agencies(book: DeadlineBook, totals: _Totals) -> Queue:
    """The oldest unanswered requests of the open cases: the values a row shows, and the
    agencies' names in one read of the link table (not the requests and their cases as
    whole rows, and the agencies through a prefetch); each with `.waiting_days`."""
    unanswered = AgencyContact.objects.filter(
        case__stage__in=OPEN_STAGES, answered_on__isnull=True
    ).values_list("pk", "case__reference", "case__municipality_id", "contacted_on", "request")
    # Compiled once, for the rows and the count.
    compiled = _Compiled(unanswered, place=False)
    quote = connection.ops.quote_name
    table = quote(AgencyContact._meta.db_table)
    order = f"{table}.{quote('contacted_on')}, {table}.{quote('id')}"  # the oldest first
    rows = [WaitingRequest(*values) for values in compiled.rows("", [], order)]
    if rows:
        by_pk = {row.pk: row for row in rows}
        # The link table of the requests read above (in the tenant's scope), their ids as
        # plain parameters: an `agencycontact_id__in` lookup passes each of up to 50
        # through the foreign key's field.
        through = AgencyContact.agencies.through
        column = connection.ops.quote_name(through._meta.get_field("agencycontact").column)
        table = connection.ops.quote_name(through._meta.db_table)
        ids = RawSQL(  # noqa: S611  # nosec B611
            f"{table}.{column} IN ({', '.join(['%s'] * len(by_pk))})",
            list(by_pk),
            output_field=BooleanField(),
        )
        links = through.objects.filter(ids)
        for pk, name in links.order_by("agency__name").values_list(
            "agencycontact_id", "agency__name"
        ):
            by_pk[pk].agencies.append(name)
    for row in rows:
        row.waiting_days = book.of(row.municipality_id).calendar.between(
            row.contacted_on, book.today
        )
    queue = Queue("agencies", rows, len(rows))
    totals.add(queue, [compiled.sql("", [])])
    return queue


def _overdue_instalments(book: DeadlineBook, totals: _Totals) -> Queue:
    """Missed instalments, longest overdue first, read as values (MissedInstalment), each
    with `.days_late` in its municipality's business days (the calendars are the deadline
    book's, already read)."""
    cutoffs = {
        mid: overdue_cutoff(book.of(mid).calendar, book.today) for mid in book.municipality_ids
    }
    missed = overdue_instalments_picked(cutoffs).order_by("due_on", "plan_id", "number")
    rows = [
        MissedInstalment.of(values)
        for values in missed.values_list(*MissedInstalment.COLUMNS)[:QUEUE_LENGTH]
    ]
    for row in rows:
        row.days_late = days_late(book.of(row.municipality_id).calendar, row.due_on, book.today)
    queue = Queue("instalments", rows, len(rows))
    totals.add(queue, missed)
    return queue
