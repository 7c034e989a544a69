"""Deadline reminders: one mail per assignee listing their cases that are overdue or due
within N business days.

The mail names cases by reference only: mail leaves the system, so it carries no names,
contacts or amounts. Each assignee reads it in their own language (User.language).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from cases.audit import audit_log
from cases.deadlines import Deadlines
from cases.models import Case, Municipality, User
from remedies.workflow import OPEN_STAGES


@dataclass
class Reminder:
    user: User
    cases: list[Case]


@dataclass
class Result:
    sent: int = 0
    cases: int = 0
    skipped_no_email: list[str] | None = None


def due_cases(municipality: Municipality, today: date, days: int) -> list[Case]:
    # A command has no request: open the one tenant scope for this municipality.
    with scope(municipality=municipality.pk, contractor=None):
        deadlines = Deadlines(municipality, today)
        return deadlines.mark(
            Case.objects.filter(
                municipality=municipality, stage__in=OPEN_STAGES, assignee__isnull=False
            )
            .filter(deadlines.due_within(days))
            .select_related("assignee", "office")
            .order_by("stage_since", "id")
        )


def reminders(today: date, days: int, municipality_code: str | None = None) -> list[Reminder]:
    with scopes_disabled():
        municipalities = Municipality.objects.order_by("code")
        if municipality_code:
            municipalities = municipalities.filter(code=municipality_code)
        municipalities = list(municipalities)
    by_user: dict[int, Reminder] = {}
    grouped: dict[int, list[Case]] = defaultdict(list)
    for municipality in municipalities:
        for case in due_cases(municipality, today, days):
            by_user.setdefault(case.assignee_id, Reminder(case.assignee, []))
            grouped[case.assignee_id].append(case)
    for user_id, reminder in by_user.items():
        reminder.cases = grouped[user_id]
    return sorted(by_user.values(), key=lambda r: r.user.username)


def _message(reminder: Reminder, days: int) -> EmailMessage:
    user = reminder.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        overdue = sum(1 for c in reminder.cases if c.deadline.overdue)
        subject = _("[Tadasu] %(n)s case(s) overdue or due soon") % {"n": len(reminder.cases)}
        body = render_to_string(
            "overview/reminder.txt",
            {
                "user": user,
                "cases": [
                    (
                        case,
                        settings.TADASU_SITE_URL + reverse("cases:detail", args=[case.reference]),
                    )
                    for case in reminder.cases
                ],
                "overdue": overdue,
                "days": days,
                "queues_url": settings.TADASU_SITE_URL + reverse("overview:queues"),
            },
        )
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def send(
    today: date, days: int, *, dry_run: bool = False, municipality_code: str | None = None
) -> tuple[Result, list[EmailMessage]]:
    result = Result(skipped_no_email=[])
    messages = []
    for reminder in reminders(today, days, municipality_code):
        if not reminder.user.email:
            result.skipped_no_email.append(reminder.user.username)
            continue
        messages.append(_message(reminder, days))
        result.cases += len(reminder.cases)
    if not dry_run and messages:
        result.sent = get_connection().send_messages(messages) or 0
        audit_log(
            "tadasu.reminders.sent",
            by=None,
            data={"mails": result.sent, "cases": result.cases, "within_days": days},
        )
    return result, messages
