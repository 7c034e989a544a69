"""The dashboard's charts, written out in Python (overview/charts.py), are the same bytes as
the templates they replaced (bar_chart.html and month_chart.html beside this file, kept as
the reference)."""

from pathlib import Path

import pytest
from django.template import engines
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st

from cases.models import Stage
from cases.wareki import yen
from overview.charts import (
    _escape,
    bar_chart,
    bar_chart_html,
    month_chart,
    month_chart_html,
)


def _reference(name: str, *, end: str = "\n"):
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    return engines["django"].from_string(text.removesuffix("\n") + end)


REFERENCE = _reference("bar_chart.html")  # an included template: its last line break too
# The months' figure was inline in dashboard_period.html, up to its closing tag.
MONTHS = _reference("month_chart.html", end="")


def _count(n: int) -> str:
    return translation.gettext("%(n)s cases") % {"n": f"{n:,}"}


def _both(chart, id: str = "c-stage") -> tuple[str, str]:
    return bar_chart_html(chart, id), REFERENCE.render({"chart": chart, "id": id})


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_chart_is_what_the_template_rendered(language):
    with translation.override(language):
        chart = bar_chart(
            translation.gettext("Open cases by stage"),
            [
                (Stage.INQUIRY.label, 3),
                (Stage.AGENCY_CONTACT.label, 0),
                ("八幡西区役所 マイナポイント支援窓口", 12),
            ],
            fmt=_count,
            css=lambda label: "alt",
        )
        written, rendered = _both(chart)
        assert written == rendered
        assert '<th scope="row">八幡西区役所 マイナポイント支援窓口</th>' in written
        assert "八幡西区役所 マイナポイン…<" in written  # the bar's label, cut at 14 characters


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_empty_chart_is_what_the_template_rendered(language):
    with translation.override(language):
        written, rendered = _both(bar_chart("Cases by kind", []), id="c-kind")
    assert written == rendered
    assert 'class="empty"' in written


labels = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["<b>&amp;</b>", "株式会社エイジェック\"'", gettext_lazy("Not recorded yet")]),
)


@given(
    items=st.lists(st.tuples(labels, st.integers(min_value=-5, max_value=10**9)), max_size=8),
    title=st.text(max_size=20),
    money=st.booleans(),
    alt=st.booleans(),
    language=st.sampled_from(["ja", "en"]),
)
def test_any_chart_is_what_the_template_rendered(items, title, money, alt, language):
    with translation.override(language):
        chart = bar_chart(
            title,
            items,
            fmt=yen if money else _count,
            css=(lambda label: "alt") if alt else (lambda label: ""),
        )
        written, rendered = _both(chart, id="c-<x>")
    assert written == rendered


def _months(counts: list[tuple[int, int]], first: int = 4) -> list[tuple]:
    months = []
    for i, (opened, closed) in enumerate(counts):
        year, month = 2026 + (first - 1 + i) // 12, (first - 1 + i) % 12 + 1
        labels = (f"{year}年{month}月", f"{month}月", f"{year}年")
        months.append((f"{year}-{month:02}", *labels, opened, closed))
    return months


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_months_chart_is_what_the_template_rendered(language):
    with translation.override(language):
        chart = month_chart(_months([(3, 0), (0, 0), (1234, 7), (5, 5)], first=11))
        written = month_chart_html(chart)
        assert written == MONTHS.render({"chart": chart})
    assert ">1234</text>" in written
    assert 'y="154" text-anchor="middle">2027年</text>' in written  # January's year


@given(
    counts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(0, 10**6)),
        max_size=14,
    ),
    first=st.integers(min_value=1, max_value=12),
    language=st.sampled_from(["ja", "en"]),
)
def test_any_months_chart_is_what_the_template_rendered(counts, first, language):
    with translation.override(language):
        chart = month_chart(_months(counts, first))
        assert month_chart_html(chart) == MONTHS.render({"chart": chart})


@given(
    st.one_of(
        st.text(),
        st.integers(),
        st.none(),
        st.text().map(mark_safe),
        st.sampled_from([Stage.INQUIRY.label, gettext_lazy("Figures"), mark_safe("<b>&</b>")]),
    )
)
def test_the_charts_escape_as_conditional_escape_does(value):
    """`_escape`, the charts' and tables' escaping without Django's wrapper for lazy
    arguments, gives what conditional_escape gives: safe text as it is, the rest escaped."""
    assert _escape(value) == conditional_escape(value)
