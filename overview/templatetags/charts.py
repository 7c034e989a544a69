"""{% bar_chart board.by_stage "c-stage" %}: a dashboard chart, written out (overview/charts.py)."""

from django import template
from django.utils.safestring import SafeString

from overview.charts import BarChart, bar_chart_html

register = template.Library()


@register.simple_tag
def bar_chart(chart: BarChart, id: str) -> SafeString:
    return bar_chart_html(chart, id)
