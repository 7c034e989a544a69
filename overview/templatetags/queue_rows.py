"""{% case_rows q.due empty with_assignee=True %}: a work queue's table of cases, and
{% agency_rows q.agencies.rows show_wait=True %}: its requests waiting on an agency, written
out (overview/case_rows.py)."""

from django import template
from django.utils.safestring import SafeString

from overview.case_rows import agency_rows_html, case_rows_html

register = template.Library()


@register.simple_tag
def case_rows(queue, empty: str, with_assignee: bool = False) -> SafeString:
    return case_rows_html(queue, empty, with_assignee=with_assignee)


@register.simple_tag
def agency_rows(contacts: list, show_wait: bool = False) -> SafeString:
    return agency_rows_html(contacts, show_wait=show_wait)
