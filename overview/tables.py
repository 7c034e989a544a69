"""The dashboard's two tables of ten rows, written out in Python as its charts are
(overview/charts.py): the longest overdue cases and the oldest unanswered agency requests.

The dashboard renders them afresh after every change in the city, and a template resolves,
filters and escapes each value of each row one by one (about a tenth of the page's Python).
The text is what the templates they replace rendered, byte for byte: the rows of the
longest overdue in `overview/dashboard_body.html`, and `overview/agency_table.html` without
its waiting column (the work queue still renders that template with it);
tests/overview/test_tables.py renders the former templates beside these and compares them.
"""

import re
from collections.abc import Iterable

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from cases.templatetags.tadasu import deadline, jdate, person

from .charts import _cut, _escape

# Stands for a case reference while the case page's URL is reversed once a table; a case
# reference is letters, digits and hyphens, which reverse() leaves as they are (as
# {% row_url %} does, cases/templatetags/tadasu.py).
_STAND_IN = "0-case-reference-0"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _case_url():
    """A function giving the case page's URL of a reference, as {% url 'cases:detail' %}."""
    head, _, tail = reverse("cases:detail", kwargs={"ref": _STAND_IN}).partition(_STAND_IN)

    def url(ref: str) -> str:
        if _PLAIN.fullmatch(ref):
            return f"{head}{ref}{tail}"
        return reverse("cases:detail", kwargs={"ref": ref})

    return url


def _text(value) -> str:
    """{{ value }}: its text, escaped ("None" for nothing, as a template writes it)."""
    return _escape(str(value))


def oldest_overdue_rows_html(cases: Iterable) -> SafeString:
    """The rows of the longest overdue (overview.dashboard.OverdueRow, or cases; `deadline`
    set by the clock)."""
    e, url = _text, _case_url()
    unassigned = None
    rows = []
    for case in cases:
        if case.assignee:
            assignee = e(person(case.assignee))
        else:
            if unassigned is None:
                unassigned = f'<span class="muted">{e(gettext("Not assigned"))}</span>'
            assignee = unassigned
        rows.append(
            f'\n      <tr class="overdue"><td class="nowrap"><a href="{e(url(case.reference))}">'
            f"{e(case.reference)}</a></td>\n"
            f'        <td><span class="stage stage-{e(case.stage)}">'
            f"{e(case.get_stage_display())}</span></td>\n"
            f'        <td class="nowrap">{_escape(deadline(case.deadline))}</td>\n'
            f"        <td>{e(case.office)}</td>\n"
            f"        <td>{assignee}</td></tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308  # nosec B308 B703  # escaped above


def agency_table_html(contacts: list) -> SafeString:
    """`overview/agency_table.html` as included without its waiting column: the unanswered
    requests (overview.dashboard.AgencyRequest) with their case, agencies, day and what was
    asked."""
    e = _text
    if not contacts:
        empty = e(gettext("No request is waiting for an answer."))
        return mark_safe(f'<p class="empty">{empty}</p>\n')  # noqa: S308  # nosec B308 B703
    url = _case_url()
    titles = (
        gettext("Case"),
        gettext("Agencies"),
        gettext("Contacted on"),
        gettext("What was asked"),
    )
    head = "".join(f'<th scope="col">{e(title)}</th>' for title in titles)
    rows = []
    for contact in contacts:
        ref = contact.reference
        agencies = "、".join(e(agency) for agency in contact.agencies)
        rows.append(
            f'\n    <tr><td class="nowrap"><a href="{e(url(ref))}">{e(ref)}</a></td>\n'
            f"      <td>{agencies}</td>\n"
            f'      <td class="nowrap">{e(jdate(contact.contacted_on))}</td>\n'
            f"      <td>{e(_cut(str(contact.request), 80))}</td>\n"
            "      </tr>\n  "
        )
    return mark_safe(  # noqa: S308  # nosec B308 B703  # escaped above
        '\n<div class="table-wrap"><table class="list">\n'
        f"  <thead><tr>{head}</tr></thead>\n"
        f"  <tbody>{''.join(rows)}</tbody>\n"
        "</table></div>\n\n"
    )
