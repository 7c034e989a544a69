"""{% bar_chart board.by_stage "c-stage" %}, {% month_chart board.months %}: the dashboard's
charts, written out (overview/charts.py)."""

from django import template
from django.utils.safestring import SafeString

from overview.charts import BarChart, MonthChart, bar_chart_html, month_chart_html

register = template.Library()


@register.simple_tag
def bar_chart(chart: BarChart, id: str) -> SafeString:
    return bar_chart_html(chart, id)


@register.simple_tag
def month_chart(chart: MonthChart) -> SafeString:
    return month_chart_html(chart)
