"""{% case_rows q.due empty with_assignee=True %}: a work queue's table of cases, written
out (overview/case_rows.py)."""

from django import template
from django.utils.safestring import SafeString

from overview.case_rows import case_rows_html

register = template.Library()


@register.simple_tag
def case_rows(queue, empty: str, with_assignee: bool = False) -> SafeString:
    return case_rows_html(queue, empty, with_assignee=with_assignee)
