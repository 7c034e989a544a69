"""{% bar_chart board.by_stage "c-stage" %}, {% month_chart board.months %}: the dashboard's
charts, written out (overview/charts.py); {% oldest_overdue_rows %} and {% agency_table %}: its
two tables (overview/tables.py)."""

from django import template
from django.utils.safestring import SafeString

from overview.charts import BarChart, MonthChart, bar_chart_html, month_chart_html
from overview.tables import agency_table_html, oldest_overdue_rows_html

register = template.Library()


@register.simple_tag
def bar_chart(chart: BarChart, id: str) -> SafeString:
    return bar_chart_html(chart, id)


@register.simple_tag
def month_chart(chart: MonthChart) -> SafeString:
    return month_chart_html(chart)


@register.simple_tag
def oldest_overdue_rows(cases: list) -> SafeString:
    return oldest_overdue_rows_html(cases)


@register.simple_tag
def agency_table(contacts: list) -> SafeString:
    return agency_table_html(contacts)
