"""Work queues: what each person should look at next.

- My cases: open cases assigned to me (city staff and managers).
- Waiting on me: cases nobody has taken yet; my cases that are overdue or due soon by the
  one clock of cases/deadlines.py (which stops while an agency's answer is awaited, so the
  dashboard, the case list and this queue agree on every case); for managers also
  documents awaiting approval (決裁) and cases in settlement, which only a manager can
  close; for contractor staff, their company's cases in the visit stage.
- Waiting on an agency: open cases with a request to an agency still unanswered.
- Visits this week: visits recorded for this week, Monday to Sunday.
- Overdue instalments (city roles): instalments of repayment plans in force, in open
  cases, not paid one business day after their due date (remedies/plans.py).

Every queue is one bounded query (at most QUEUE_LENGTH rows, each carrying the queue's
total as a window count), all inside the tenant scope, so the page costs the same number
of queries whatever the number of cases.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Prefetch, QuerySet, Window

from cases.deadlines import DeadlineBook
from cases.models import Agency, Case, Membership, Role, Stage, User
from remedies.models import AgencyContact, Document, DocumentStatus, Visit
from remedies.plans import days_late, overdue_cutoff, overdue_instalments
from remedies.workflow import OPEN_STAGES

QUEUE_LENGTH = 50
DUE_SOON_DAYS = 3


@dataclass
class Queue:
    key: str
    rows: list
    total: int

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


def _queue(key: str, qs: QuerySet, book: DeadlineBook | None = None) -> Queue:
    # The total rides on the rows' own query (COUNT(*) OVER (), computed before the LIMIT):
    # a queue of 3,000 costs the one query a queue of 3 does, not a second one to count.
    rows = list(qs.annotate(queue_total=Window(Count("pk")))[:QUEUE_LENGTH])
    total = rows[0].queue_total if rows else 0
    if book is not None:
        book.mark(rows)
    return Queue(key, rows, total)


def _cases() -> QuerySet[Case]:
    return Case.objects.filter(stage__in=OPEN_STAGES).select_related(
        "office", "assignee", "contractor"
    )


def queues_for(user: User, membership: Membership, book: DeadlineBook) -> Queues:
    today = book.today
    monday = today - timedelta(days=today.weekday())
    result = Queues(today=today, week=(monday, monday + timedelta(days=6)))
    by_due = ("stage_since", "id")

    if membership.role in (Role.STAFF, Role.MANAGER):
        mine = _cases().filter(assignee=user)
        result.mine = _queue("mine", mine.order_by(*by_due), book)
        result.unassigned = _queue(
            "unassigned", _cases().filter(assignee__isnull=True).order_by(*by_due), book
        )
        result.due = _queue(
            "due",
            mine.filter(book.due_within(DUE_SOON_DAYS)).order_by(*by_due),
            book,
        )
    if membership.role == Role.MANAGER:
        result.to_close = _queue(
            "to_close", _cases().filter(stage=Stage.SETTLEMENT).order_by(*by_due), book
        )
        result.approvals = _queue(
            "approvals",
            Document.objects.filter(status=DocumentStatus.AWAITING_APPROVAL)
            .select_related("case", "party", "created_by")
            .order_by("created_at", "id"),
        )
    if membership.role == Role.CONTRACTOR:
        result.to_visit = _queue(
            "to_visit", _cases().filter(stage=Stage.VISIT).order_by(*by_due), book
        )
    if membership.role != Role.CONTRACTOR:
        result.agencies = _queue(
            "agencies",
            AgencyContact.objects.filter(case__stage__in=OPEN_STAGES, answered_on__isnull=True)
            .select_related("case", "case__assignee")
            .prefetch_related(Prefetch("agencies", queryset=Agency.objects.order_by("name")))
            .order_by("contacted_on", "id"),
        )
    result.visits = _queue(
        "visits",
        Visit.objects.filter(visited_on__range=result.week)
        .select_related("case", "party")
        .order_by("visited_on", "id"),
    )
    if membership.role != Role.CONTRACTOR:
        result.instalments = _overdue_instalments(book)
    for contact in result.agencies.rows if result.agencies else []:
        contact.waiting_days = book.of(contact.case.municipality_id).calendar.between(
            contact.contacted_on, today
        )
    return result


def _overdue_instalments(book: DeadlineBook) -> Queue:
    """Missed instalments, longest overdue first, each with `.days_late` in its
    municipality's business days (the calendars are the deadline book's, already read)."""
    cutoffs = {
        mid: overdue_cutoff(book.of(mid).calendar, book.today) for mid in book.municipality_ids
    }
    queue = _queue(
        "instalments",
        overdue_instalments(cutoffs)
        .select_related("plan__party", "plan__case", "plan__case__assignee")
        .order_by("due_on", "plan_id", "number"),
    )
    for row in queue.rows:
        calendar = book.of(row.plan.case.municipality_id).calendar
        row.days_late = days_late(calendar, row.due_on, book.today)
    return queue
