"""A work queue's table of cases, written out in Python: the same bytes as the template it
replaced (tests/overview/case_rows.html, kept as the reference), without the template engine
resolving and filtering six values on each of up to 50 rows of up to four queues (a
manager's page shows about 150)."""

import unicodedata
from html import escape

from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext

from cases.templatetags.tadasu import deadline, jdate, person, row_reverser


def case_rows_html(queue, empty: str, *, with_assignee: bool = False) -> SafeString:
    """The queue's rows (reference, kind, office, stage, deadline, and the assignee where
    asked), "and N more" with its link to the case list, or `empty` (already safe text,
    as `{% translate … as empty %}` makes it) when the queue holds none."""
    if not queue.rows:
        return mark_safe(f'<p class="empty">{conditional_escape(empty)}</p>\n')  # noqa: S308  # nosec B308 B703  # escaped
    detail = row_reverser("cases:detail", "ref")
    head = "".join(
        f'<th scope="col">{gettext(word)}</th>'
        for word in ("Reference", "Kind", "Office / desk", "Stage", "Due")
    )
    if with_assignee:
        head += f'<th scope="col">{gettext("Assignee")}</th>'
        nobody = f'<span class="muted">{gettext("Not assigned")}</span>'
    out = [
        '\n<div class="table-wrap"><table class="list">\n',
        f"  <thead><tr>{head}</tr></thead>\n  <tbody>",
    ]
    # The same deadline (a stage and a day) on many rows is written once, and so are a
    # kind's and a stage's cells (their labels looked up in the language of the moment).
    deadlines: dict = {}
    kinds: dict[str, str] = {}
    stages: dict[str, str] = {}
    for case in queue.rows:
        due = getattr(case, "deadline", None)
        overdue = ' class="overdue"' if due and due.overdue else ""
        due_html = deadlines.get(due)
        if due_html is None:
            due_html = deadlines[due] = deadline(due)
        kind = kinds.get(case.kind)
        if kind is None:
            kind = kinds[case.kind] = escape(str(case.get_kind_display()))
        stage = stages.get(case.stage)
        if stage is None:
            stage = stages[case.stage] = (
                f'<span class="stage stage-{escape(case.stage)}">'
                f"{escape(str(case.get_stage_display()))}</span>"
            )
        ref = escape(case.reference)
        out.append(
            f"\n    <tr{overdue}>"
            f'<td class="nowrap"><a href="{escape(detail(case.reference))}">{ref}</a></td>\n'
            f'      <td class="kind">{kind}</td>'
            f'<td class="office">{escape(str(case.office))}</td>\n'
            f"      <td>{stage}</td>\n"
            f'      <td class="nowrap">{due_html}</td>\n      '
        )
        if with_assignee:
            who = escape(person(case.assignee)) if case.assignee else nobody
            out.append(f'<td class="nowrap">{who}</td>')
        out.append("</tr>\n  ")
    out.append("</tbody>\n</table></div>\n")
    if queue.more:
        out.append('<p class="muted">')
        out.append(ngettext("and %(n)s more", "and %(n)s more", queue.more) % {"n": queue.more})
        if queue.list_query:
            whole = ngettext(
                "See all %(n)s in the case list", "See all %(n)s in the case list", queue.total
            ) % {"n": queue.total}
            out.append(
                f' <a href="{escape(reverse("cases:list"))}?{escape(queue.list_query)}">{whole}</a>'
            )
        out.append("</p>")
    out.append("\n\n")
    return mark_safe("".join(out))  # noqa: S308  # nosec B308 B703  # escaped above


def agency_rows_html(contacts: list, *, show_wait: bool = False) -> SafeString:
    """The requests waiting on an agency as overview/agency_table.html renders them (the
    dashboard still includes that template; tests/overview/test_case_rows.py compares the
    two), for the work queues' up to 50 rows (`overview.queues.WaitingRequest`: the case's
    reference and the agencies' names read as values)."""
    if not contacts:
        empty = gettext("No request is waiting for an answer.")
        return mark_safe(f'<p class="empty">{empty}</p>\n')  # noqa: S308  # nosec B308 B703
    detail = row_reverser("cases:detail", "ref")
    head = "".join(
        f'<th scope="col">{gettext(word)}</th>'
        for word in ("Case", "Agencies", "Contacted on", "What was asked")
    )
    if show_wait:
        head += f'<th scope="col" class="num">{gettext("Waiting")}</th>'
    out = [
        '\n<div class="table-wrap"><table class="list">\n',
        f"  <thead><tr>{head}</tr></thead>\n  <tbody>",
    ]
    days_of: dict[int, str] = {}  # a wait's words, by its business days
    days: dict = {}  # a day's words, by the day
    for contact in contacts:
        ref = contact.reference
        agencies = "、".join(escape(name) for name in contact.agencies)
        contacted = days.get(contact.contacted_on)
        if contacted is None:
            contacted = days[contact.contacted_on] = escape(jdate(contact.contacted_on))
        out.append(
            f'\n    <tr><td class="nowrap"><a href="{escape(detail(ref))}">{escape(ref)}</a></td>\n'
            f"      <td>{agencies}</td>\n"
            f'      <td class="nowrap">{contacted}</td>\n'
            f"      <td>{escape(_truncated(contact.request, 80))}</td>\n      "
        )
        if show_wait:
            n = contact.waiting_days
            wait = days_of.get(n)
            if wait is None:
                wait = days_of[n] = ngettext("%(n)s business day", "%(n)s business days", n) % {
                    "n": n
                }
            out.append(f'<td class="num nowrap">{wait}</td>')
        out.append("</tr>\n  ")
    out.append("</tbody>\n</table></div>\n\n")
    return mark_safe("".join(out))  # noqa: S308  # nosec B308 B703  # escaped above


def _truncated(text: str, length: int) -> str:
    """`Truncator(text).chars(length)`: that text (NFC-normalised, as it gives it) when it
    has no more characters than `length`, which it cannot then cut; else what it gives."""
    normal = unicodedata.normalize("NFC", str(text))
    if len(normal) <= length:
        return normal
    return Truncator(text).chars(length)
