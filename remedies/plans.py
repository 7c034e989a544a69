"""Repayment plans (分割納付): a person returns an excess in agreed instalments.

A plan is agreed on a date with the person who holds an excess; its instalments (amount and
due date each) sum to that excess. Nothing about payment is stored on the plan: what the
person has returned since the agreement (their ledger entries after the plan's
`ledger_head`) is allocated to the instalments in due order, so each instalment is paid,
partly paid, not yet due, or overdue — overdue counted in the municipality's business days,
a due date on a closed day moving to the next business day (as a 納期限 does).

Closing a case still waits for every balance to be zero (remedies/workflow.py): a plan
schedules the return, it does not settle it.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Least
from django.utils import translation
from django.utils.translation import gettext as _

from cases.audit import audit_log
from cases.deadlines import BusinessCalendar
from cases.errors import CaseError
from cases.models import Case, Party, User
from cases.selectors import with_parties
from cases.services import actor_of, add_timeline, check_event_date, lock_for_edit
from cases.wareki import wareki, yen

from . import ledger
from .errors import RemedyError
from .models import MAX_INSTALMENTS, Instalment, LedgerEntry, RepaymentPlan

# ---- states (reads) ------------------------------------------------------------------------

PAID, PARTLY_PAID, DUE, OVERDUE = "paid", "partly_paid", "due", "overdue"


def effective_due(calendar: BusinessCalendar, due_on: date) -> date:
    """The due date, or the next business day when it falls on a closed day."""
    return calendar.add(due_on - timedelta(days=1), 1)


def overdue_cutoff(calendar: BusinessCalendar, today: date) -> date:
    """Instalments due on or before this day are at least one business day late today: the
    business day before the last business day up to today. (Due on Friday: not late on
    Saturday, one business day late on Monday.)"""
    return calendar.back(today, 2)


def days_late(calendar: BusinessCalendar, due_on: date, on: date) -> int:
    return max(calendar.between(effective_due(calendar, due_on), on), 0)


@dataclass
class InstalmentState:
    instalment: Instalment
    status: str
    paid: int  # of this instalment's amount
    unpaid: int
    paid_on: date | None  # the day the last of it came in, once paid
    days_late: int  # business days: past due while unpaid, or how late it was paid

    @property
    def number(self) -> int:
        return self.instalment.number

    @property
    def due_on(self) -> date:
        return self.instalment.due_on

    @property
    def amount(self) -> int:
        return self.instalment.amount


@dataclass
class PlanState:
    plan: RepaymentPlan
    returned: int  # towards this plan since it was agreed
    instalments: list[InstalmentState] = field(default_factory=list)

    @property
    def overdue(self) -> list[InstalmentState]:
        return [s for s in self.instalments if s.status == OVERDUE]

    @property
    def overdue_amount(self) -> int:
        return sum(s.unpaid for s in self.overdue)

    @property
    def remaining(self) -> int:
        return self.plan.total - self.returned

    @property
    def complete(self) -> bool:
        return self.remaining == 0


def plan_state(
    plan: RepaymentPlan,
    entries: list[LedgerEntry],
    calendar: BusinessCalendar,
    on: date,
) -> PlanState:
    """Each instalment's state on `on`, from the person's ledger `entries` (any order; those
    of other people or from before the agreement are ignored)."""
    after = sorted(
        (e for e in entries if e.party_id == plan.party_id and e.pk > plan.ledger_head),
        key=lambda e: e.pk,
    )
    # What came in, and when each running total was reached (reversals and new
    # misallocations count against it, so a reversed collection un-pays an instalment).
    running, reached = 0, []
    for entry in after:
        running += entry.delta
        reached.append((running, entry.on))
    returned = min(max(running, 0), plan.total)
    state = PlanState(plan, returned)
    instalments = sorted(plan.instalments.all(), key=lambda i: i.number)
    for inst in instalments:
        before = inst.cumulative - inst.amount
        paid = min(max(returned - before, 0), inst.amount)
        if paid == inst.amount:
            # The first day the running total reached this instalment and stayed there.
            paid_on = None
            for total, day in reached:
                if total >= inst.cumulative and paid_on is None:
                    paid_on = day
                elif total < inst.cumulative:
                    paid_on = None
            paid_on = paid_on or on
            late = days_late(calendar, inst.due_on, paid_on)
            state.instalments.append(InstalmentState(inst, PAID, paid, 0, paid_on, late))
            continue
        late = days_late(calendar, inst.due_on, on)
        status = OVERDUE if late >= 1 else (PARTLY_PAID if paid else DUE)
        state.instalments.append(
            InstalmentState(inst, status, paid, inst.amount - paid, None, late)
        )
    return state


def case_plans(case: Case, entries: list[LedgerEntry], on: date) -> list[PlanState]:
    """The case's plans in force with their states (two queries, three with a plan: the
    municipality's closed days), from the case's ledger `entries` already read."""
    plans = with_parties(
        list(
            RepaymentPlan.objects.filter(case=case, superseded_on__isnull=True)
            .prefetch_related("instalments")
            .order_by("party__label", "id")
        ),
        case,
    )
    if not plans:
        return []
    calendar = BusinessCalendar.for_municipality(case.municipality_id)
    return [plan_state(p, entries, calendar, on) for p in plans]


def active_plan(party: Party) -> RepaymentPlan | None:
    return (
        RepaymentPlan.objects.filter(party=party, superseded_on__isnull=True)
        .prefetch_related("instalments")
        .first()
    )


def party_plan_state(party: Party, on: date) -> PlanState | None:
    """The person's plan in force and its state on `on` (letters)."""
    plan = active_plan(party)
    if plan is None:
        return None
    entries = list(LedgerEntry.objects.filter(party=party, pk__gt=plan.ledger_head))
    calendar = BusinessCalendar.for_municipality(party.case.municipality_id)
    return plan_state(plan, entries, calendar, on)


def _returned() -> Coalesce:
    """What the plan's person has returned since the agreement, as a subquery."""
    since = (
        LedgerEntry.objects.filter(
            party_id=OuterRef("plan__party_id"), pk__gt=OuterRef("plan__ledger_head")
        )
        .order_by()
        .values("party_id")
        .annotate(s=Sum("delta"))
        .values("s")
    )
    return Coalesce(Subquery(since), Value(0))


def overdue_instalments(cutoffs: dict[int, date]) -> QuerySet[Instalment]:
    """Instalments of plans in force, in open cases, not fully paid and due on or before
    their municipality's cutoff ({municipality_id: overdue_cutoff}). One query for the rows,
    each annotated with `unpaid`; no query per row. What was returned is an alias, not a
    column of its own: the dashboard sums these rows afresh, and each use of the subquery is
    one more to build and run."""
    from .workflow import OPEN_STAGES  # the stage table imports the ledger; call time only

    due = Q(pk__in=[])
    for municipality_id, cutoff in cutoffs.items():
        due |= Q(plan__case__municipality_id=municipality_id, due_on__lte=cutoff)
    return (
        Instalment.objects.filter(
            due, plan__superseded_on__isnull=True, plan__case__stage__in=OPEN_STAGES
        )
        .alias(returned=_returned())
        .filter(cumulative__gt=F("returned"))
        .annotate(unpaid=Least(F("amount"), F("cumulative") - F("returned")))
    )


def overdue_instalments_total(municipality_id: int, cutoff: date) -> tuple[int, int]:
    """(instalments, yen unpaid) of `overdue_instalments({municipality_id: cutoff})`, summed
    in one statement: the dashboard's figure, asked afresh after every change in the city.
    Found as the work queue finds its rows (`_overdue`), summed without the wrapper a sum
    over an annotation would take."""
    missed, unpaid = _overdue({municipality_id: cutoff})
    total = missed.order_by().aggregate(n=Count("*"), amount=Sum(unpaid))
    return total["n"], total["amount"] or 0


def overdue_instalments_picked(cutoffs: dict[int, date]) -> QuerySet[Instalment]:
    """The instalments of `overdue_instalments(cutoffs)`, annotated with `unpaid`: the work
    queue's rows."""
    missed, unpaid = _overdue(cutoffs)
    return missed.annotate(unpaid=unpaid)


def _overdue(cutoffs: dict[int, date]) -> tuple[QuerySet[Instalment], Least]:
    """The instalments of `overdue_instalments(cutoffs)` and the expression of what each
    leaves unpaid, as SQL inside a query of the scoped manager (fixed text, ids and days as
    parameters): the plans in force picked first from their partial index
    (`repayment_plan_one_active`), each one's case by its id, then its instalments due by
    the cutoff.

    Measured at 100,000 cases: built through the ORM (the filter through two joins, the
    subquery of what was returned), the dashboard's figure and the work queue's rows were
    their pages' dearest queries to build and compile. And asked as a join of instalments,
    plans and cases, SQLite's planner, which has no statistics for a table that was empty
    when last analysed (most cities have no plan), read every open case of the city to
    look for their plans (CROSS JOIN fixes SQLite's order of the loops).
    tests/remedies/test_plans.py compares both with `overdue_instalments` for plans partly
    paid, paid, superseded, in a withdrawn case and in another city, at several cutoffs."""
    from .workflow import OPEN_STAGES  # the stage table imports the ledger; call time only

    quote = connection.ops.quote_name
    instalment = quote(Instalment._meta.db_table)
    plan = quote(RepaymentPlan._meta.db_table)
    case = quote(Case._meta.db_table)
    entry = quote(LedgerEntry._meta.db_table)
    # What the plan's person returned since the agreement, as `_returned()`: in the pick,
    # of its plan `p`; in the row, of the instalment's plan (read by its id, so that the
    # value needs no join of the outer query).
    returned = (
        f"COALESCE((SELECT SUM(e.delta) FROM {entry} e WHERE e.party_id = p.party_id"  # noqa: S608  # nosec B608
        " AND e.id > p.ledger_head), 0)"
    )
    stages = ", ".join(["%s"] * len(OPEN_STAGES))
    days, params = [], list(OPEN_STAGES)
    for municipality_id, cutoff in cutoffs.items():
        days.append("(c.municipality_id = %s AND i.due_on <= %s)")
        params += [municipality_id, connection.ops.adapt_datefield_value(cutoff)]
    due = (
        f"{instalment}.id IN (SELECT i.id FROM {plan} p CROSS JOIN {case} c"  # noqa: S608  # nosec B608
        f" CROSS JOIN {instalment} i WHERE p.superseded_on IS NULL AND c.id = p.case_id"
        f" AND c.stage IN ({stages}) AND i.plan_id = p.id AND ({' OR '.join(days) or '1 = 0'})"
        f" AND i.cumulative > {returned})"
    )  # names from the models, values parameters
    returned_now = RawSQL(  # noqa: S611  # nosec B611
        f"(SELECT {returned} FROM {plan} p WHERE p.id = {instalment}.plan_id)",  # noqa: S608  # nosec B608
        (),
        output_field=BigIntegerField(),
    )
    missed = Instalment.objects.filter(
        RawSQL(due, params, output_field=BooleanField())  # noqa: S611  # nosec B611
    )
    return missed, Least(F("amount"), F("cumulative") - returned_now)


# ---- writes --------------------------------------------------------------------------------


def _check_schedule(rows: list[tuple[date | None, int | None]], agreed_on: date) -> list:
    """Amounts in whole yen, dates on or after the agreement, each later than the one before.
    The message goes next to the row's own field (amount_3, due_3)."""
    if not rows:
        # Next to the first row's date: where the instalments are to be entered.
        raise RemedyError(_("Enter at least one instalment."), field="due_1")
    if len(rows) > MAX_INSTALMENTS:
        raise RemedyError(
            _("A plan has at most %(n)s instalments.") % {"n": MAX_INSTALMENTS}, field="schedule"
        )
    previous = None
    for n, (due_on, amount) in enumerate(rows, start=1):
        if due_on is None:
            raise RemedyError(_("Enter the due date."), field=f"due_{n}")
        ledger._check_amount(amount, f"amount_{n}")
        if due_on < agreed_on:
            raise RemedyError(
                _("An instalment cannot be due before the plan was agreed."), field=f"due_{n}"
            )
        if previous is not None and due_on <= previous:
            raise RemedyError(
                _("Each instalment must be due after the one before it."), field=f"due_{n}"
            )
        previous = due_on
    return rows


def _schedule_text(rows: list[tuple[date, int]]) -> str:
    first, last = rows[0][0], rows[-1][0]
    if len(rows) == 1:
        return _("in one payment by %(date)s") % {"date": wareki(first)}
    return _("in %(n)s instalments from %(first)s to %(last)s") % {
        "n": len(rows),
        "first": wareki(first),
        "last": wareki(last),
    }


@transaction.atomic
def plan_agree(
    *,
    case: Case,
    party: Party,
    agreed_on: date | None,
    instalments: list[tuple[date | None, int | None]],
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> RepaymentPlan:
    """Record the schedule agreed with `party` for returning the excess they hold. A plan in
    force for the same person is superseded by this one (renegotiation), and kept."""
    case = lock_for_edit(case, by)
    head = ledger.ledger_head(case)
    if expected_head is not None and head != expected_head:
        raise RemedyError(
            _("This case was changed by someone else. Reload the page and check the ledger."),
            conflict=True,
        )
    if party is None or party.case_id != case.pk:
        raise RemedyError(_("Choose a person of this case."), field="party")
    if agreed_on is None:
        raise RemedyError(_("Enter the date."), field="agreed_on")
    try:
        check_event_date(case, agreed_on, "agreed_on")
    except CaseError as error:
        raise RemedyError(error.message, field="agreed_on") from error
    excess = -ledger.balance_of(party)
    if excess <= 0:
        raise RemedyError(
            _("%(party)s holds no excess to be repaid.") % {"party": party.label}, field="party"
        )
    rows = _check_schedule(instalments, agreed_on)
    scheduled = sum(amount for _due, amount in rows)
    if scheduled != excess:
        raise RemedyError(
            _(
                "The instalments add up to %(scheduled)s; %(party)s holds an excess of "
                "%(excess)s. They must add up to the excess."
            )
            % {"scheduled": yen(scheduled), "party": party.label, "excess": yen(excess)},
            field="schedule",
        )
    # Lock the person's plan in force: two clerks replacing it at once meet here (the case
    # row is locked already; this is the row that changes).
    old = (
        RepaymentPlan.objects.select_for_update()
        .filter(party=party, superseded_on__isnull=True)
        .first()
    )
    if old is not None:
        old.superseded_on = agreed_on
        old.save(update_fields=["superseded_on"])
    plan = RepaymentPlan.objects.create(
        case=case,
        party=party,
        agreed_on=agreed_on,
        total=excess,
        ledger_head=head,
        note=note.strip(),
        replaces=old,
        created_by=by,
    )
    cumulative = 0
    objects = []
    for n, (due_on, amount) in enumerate(rows, start=1):
        cumulative += amount
        objects.append(
            Instalment(plan=plan, number=n, due_on=due_on, amount=amount, cumulative=cumulative)
        )
    Instalment.objects.bulk_create(objects)
    audit_log(
        "tadasu.plan.replace" if old else "tadasu.plan.agree",
        by=by,
        case=case,
        obj=plan,
        data={
            "party": party.label,
            "total": excess,
            "instalments": [[d.isoformat(), a] for d, a in rows],
            "replaces": old.pk if old else None,
        },
    )
    with translation.override("ja"):
        values = {"party": party.label, "amount": yen(excess), "schedule": _schedule_text(rows)}
        if old is None:
            text = _("Agreed with %(party)s to return %(amount)s %(schedule)s.") % values
        else:
            text = (
                _(
                    "Renegotiated with %(party)s: the remaining %(amount)s is to be returned "
                    "%(schedule)s (the earlier plan is superseded)."
                )
                % values
            )
    # Internal by default, as money postings are (cases/publication.py): a person's
    # schedule and amounts are not for the press release unless staff publish the line.
    action = "plan.replace" if old else "plan.agree"
    actor = actor_of(by)
    add_timeline(case, on=agreed_on, actor=actor, text=text, action=action, by=by, public=False)
    if note.strip():
        add_timeline(
            case, on=agreed_on, actor=actor, text=note.strip(), action="note." + action, by=by
        )
    return plan


def split_evenly(total: int, count: int, first: date) -> list[tuple[date, int]]:
    """A proposal for the form: `count` monthly instalments from `first`, in whole yen, the
    remainder of the division added to the first. Days past a month's end fall on its
    last day (31 January, then 28 February, then 31 March)."""
    base, rest = divmod(total, count)
    rows = []
    for n in range(count):
        y, m = divmod(first.month - 1 + n, 12)
        year, month = first.year + y, m + 1
        day = first.day
        while True:
            try:
                due = date(year, month, day)
                break
            except ValueError:
                day -= 1
        rows.append((due, base + (rest if n == 0 else 0)))
    return rows
