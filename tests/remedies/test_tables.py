"""The remedies section's per-person lists and the stage panel's path and bar, written out in
Python (remedies/tables.py), are the same bytes as the template parts they replaced, kept
beside this file: balance_rows.html and apology_items.html (from remedies/overview.html),
stage_panel_parts.html (from remedies/stage_panel.html). Any labels, amounts, letters issued
or not, sent or not, people identified or not, stages and their days, in Japanese and
English."""

from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

from django.template import engines
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.models import Case, Stage
from remedies.ledger import Balance
from remedies.stage_history import Span, bar
from remedies.tables import (
    apology_items_html,
    balance_rows_html,
    stage_bar_html,
    stage_path_html,
)


def _template(name: str):
    return engines["django"].from_string(
        (Path(__file__).parent / name).read_text(encoding="utf-8").rstrip("\n")
    )


BALANCE_ROWS = _template("balance_rows.html")
APOLOGY_ITEMS = _template("apology_items.html")

text = st.one_of(
    st.just(""),
    st.sampled_from(["A氏", "<b>B氏</b>", "山田 & 太郎", '"引用"', "100%", "%(x)s"]),
    st.text(max_size=20),
)
case = SimpleNamespace(reference="401005-2022-001")


def _party(draw, pk: int):
    return SimpleNamespace(pk=pk, label=draw(text), identified=draw(st.booleans()))


@st.composite
def balances(draw):
    return [
        Balance(party=_party(draw, i + 1), amount=draw(st.integers(-(10**7), 10**7)))
        for i in range(draw(st.integers(0, 4)))
    ]


@st.composite
def letter(draw, pk: int):
    delivery = draw(st.sampled_from(["", "post", "hand"]))
    return SimpleNamespace(
        pk=pk,
        document=draw(st.booleans()),
        number=draw(st.one_of(text, st.from_regex(r"\Aデ推第[0-9]{1,3}号\Z"))),
        delivery=delivery,
        get_delivery_display=lambda d=delivery: {"post": "郵送", "hand": "<手渡し>"}.get(d, ""),
        sent_on=draw(st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2030, 12, 31)))),
    )


@st.composite
def apologies(draw):
    return [
        {
            "party": _party(draw, i + 1),
            "letters": [draw(letter(100 * i + j)) for j in range(draw(st.integers(0, 3)))],
        }
        for i in range(draw(st.integers(0, 4)))
    ]


@settings(max_examples=60, deadline=None)
@given(rows=balances(), language=st.sampled_from(["ja", "en"]))
def test_balance_rows_are_what_the_template_rendered(rows, language):
    with translation.override(language):
        rendered = BALANCE_ROWS.render({"s": {"balances": rows}})
        assert rendered == balance_rows_html(rows)


@settings(max_examples=80, deadline=None)
@given(rows=apologies(), can_edit=st.booleans(), language=st.sampled_from(["ja", "en"]))
def test_apology_items_are_what_the_template_rendered(rows, can_edit, language):
    values = {"s": {"apologies": rows, "can_edit": can_edit}, "case": case}
    with translation.override(language):
        rendered = APOLOGY_ITEMS.render(values)
        written = apology_items_html(rows, case=case, can_edit=can_edit)
    assert rendered == "\n    " + written


STAGE_PANEL_PARTS = _template("stage_panel_parts.html")


@st.composite
def spans(draw):
    """A case's spans as stage_history.stage_spans makes them: consecutive stages, the last
    one current (or not, when the case has moved on to a stage the bar leaves out)."""
    stages = draw(st.lists(st.sampled_from([s.value for s in Stage]), max_size=6))
    day = draw(st.dates(date(2015, 1, 1), date(2030, 12, 31)))
    made = []
    for i, stage in enumerate(stages):
        end = day + timedelta(days=draw(st.integers(0, 400)))
        last = i == len(stages) - 1
        made.append(Span(stage, day, end, last and draw(st.booleans())))
        day = end
    return made


@settings(max_examples=80, deadline=None)
@given(
    made=spans(),
    stage=st.sampled_from([s.value for s in Stage]),
    language=st.sampled_from(["ja", "en"]),
)
def test_the_stage_path_and_bar_are_what_the_template_rendered(made, stage, language):
    case = SimpleNamespace(STAGE_PATH=Case.STAGE_PATH, stage=stage)
    bars = bar(made)
    total = sum(s.days for s in made)
    with translation.override(language):
        rendered = STAGE_PANEL_PARTS.render(
            {"section": {"case": case, "bars": bars, "total_days": total}}
        )
        figure = f"\n  {stage_bar_html(bars, total)}\n  " if bars else ""
        written = f'<ol class="stages">\n    {stage_path_html(case)}\n  </ol>\n  {figure}'
    assert rendered == written
