"""The dashboard's bar charts, written out in Python (overview/charts.py), are the same bytes
as the template they replaced (bar_chart.html beside this file, kept as the reference)."""

from pathlib import Path

import pytest
from django.template import engines
from django.utils import translation
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st

from cases.models import Stage
from cases.wareki import yen
from overview.charts import bar_chart, bar_chart_html

REFERENCE = engines["django"].from_string(
    (Path(__file__).parent / "bar_chart.html").read_text(encoding="utf-8")
)


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
