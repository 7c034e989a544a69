"""The dashboard over a period: this 年度 by default, another 年度 or a range of dates; the
breakdowns count cases open or closed in the period; months run April to March."""

import re
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from cases.deadlines import refresh_waits
from cases.models import CauseCategory, Stage
from cases.scoping import tenant_scope
from cases.wareki import fiscal_year_label
from overview.forms import PeriodForm
from overview.periods import Period
from remedies.models import AgencyContact, Channel, Side
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def _page(client, query: str = "") -> str:
    return re.sub(r"\s+", " ", client.get(f"/dashboard/{query}").content.decode())


def _row(label: str, n: int) -> str:
    return f'<th scope="row">{label}</th><td class="num">{n}件</td>'


def test_fiscal_year_labels_follow_the_era_of_the_year():
    assert fiscal_year_label(2026) == "令和8年度"
    assert fiscal_year_label(2019) == "令和元年度"
    assert fiscal_year_label(2018) == "平成30年度"
    assert Period.fiscal(2022) == Period(date(2022, 4, 1), date(2023, 3, 31), 2022)
    assert [d.month for d in Period.fiscal(2022).month_starts()] == [
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        1,
        2,
        3,
    ]


def test_a_closed_case_keeps_its_cause_in_its_fiscal_year(client, world, today):
    # Closed in 令和4年度 (today is 2023-03-01): it still counts there, not in 令和3年度.
    CaseFactory(
        office=world.office,
        stage=Stage.CLOSED,
        opened_on=date(2022, 9, 21),
        stage_since=date(2022, 11, 29),
        cause_category=CauseCategory.SHARED_DEVICE,
    )
    # Closed in 令和3年度: gone from 令和4年度, there in 令和3年度.
    CaseFactory(
        office=world.office2,
        stage=Stage.CLOSED,
        opened_on=date(2021, 6, 1),
        stage_since=date(2021, 7, 1),
        cause_category=CauseCategory.ID_MISTYPED,
    )
    client.force_login(world.manager)
    page = _page(client)
    assert "令和4年度の案件" in page
    assert _row("端末の共用", 1) in page
    assert "ID入力誤り" not in page.split('id="h-period"')[1]
    # Open cases by stage are now: neither closed case is open.
    assert '対応中の案件</p><p class="big-number"><a href="/cases/">0件' in page
    # Months April → March of the 年度, with the close in November.
    months = re.findall(r'<th scope="row">(\d{4}年\d+月)</th><td class="num">(\d+)</td>', page)
    expected = [f"2022年{m}月" for m in range(4, 13)] + [f"2023年{m}月" for m in (1, 2, 3)]
    assert [m for m, _n in months] == expected
    assert '<th scope="row">2022年11月</th><td class="num">0</td><td class="num">1</td>' in page

    page = _page(client, "?year=2021")
    assert "令和3年度の案件" in page
    assert _row("端末の共用", 0) not in page and "端末の共用" not in page.split('id="h-period"')[1]
    period_part = page.split('id="h-period"')[1]
    assert "2021年7月" in period_part and "2022年4月" not in period_part


def test_a_range_of_dates_and_its_months(client, world, today):
    CaseFactory(office=world.office, stage=Stage.INQUIRY, opened_on=date(2022, 10, 5))
    client.force_login(world.manager)
    page = _page(client, "?start=2022-10-01&end=2022-12-31")
    assert "令和4年10月1日から令和4年12月31日までの案件" in page
    period_part = page.split('id="h-period"')[1]
    months = re.findall(r'<th scope="row">(\d{4}年\d+月)</th><td class="num">', period_part)
    assert months == ["2022年10月", "2022年11月", "2022年12月"]
    assert '<th scope="row">2022年10月</th><td class="num">1</td>' in period_part


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?start=2023-02-01&end=2023-01-01", "end", "終了日に開始日より前の日付は指定できません。"),
        ("?start=2023-02-01", "end", "期間の終了日を入力してください。"),
        ("?start=2019-01-01&end=2023-01-01", "end", "期間は36か月以内で指定してください。"),
        ("?year=1999", "year", "年度は一覧から選択してください。"),
        ("?start=2023-02-31&end=2023-03-01", "start", "開始日を「2024-05-01」や"),
    ],
)
def test_a_bad_period_is_answered_next_to_the_field_and_this_year_is_shown(
    client, world, today, query, field, message
):
    client.force_login(world.manager)
    response = client.get(f"/dashboard/{query}")
    assert response.status_code == 200
    page = re.sub(r"\s+", " ", response.content.decode())
    error = re.search(rf'<p class="error" id="id_{field}_error">(.*?)</p>', page)
    assert error and message in error.group(1), page[:0]
    assert "令和4年度の案件" in page  # the default period meanwhile


def test_the_year_selector_shows_fiscal_years_in_wareki(client, world, today):
    client.force_login(world.manager)
    page = _page(client)
    assert '<option value="2022" selected>令和4年度</option>' in page
    assert '<option value="2019">令和元年度</option>' in page


def test_dashboard_queries_are_the_same_for_10_and_200_cases_of_every_kind(client, world, today):
    """Open, closed in the period, closed before it, waiting on an agency: the same number
    of queries whatever their number."""
    client.force_login(world.manager)
    counts = []
    made = 0
    for total in (10, 200):
        while made < total:
            kind = made % 4
            case = CaseFactory(
                office=world.office if made % 2 else world.office2,
                created_by=world.staff,
                stage=Stage.CLOSED if kind in (1, 2) else Stage.AGENCY_CONTACT,
                opened_on=date(2022, 4, 1) + timedelta(days=made % 300),
                stage_since=date(2021, 5, 1) if kind == 2 else date(2022, 12, 1),
                cause_category=CauseCategory.LOGOUT_OMITTED,
            )
            if kind == 3:
                AgencyContact.objects.create(
                    case=case,
                    municipality=world.city,
                    made_by=Side.MUNICIPALITY,
                    contacted_on=date(2022, 12, 5),
                    channel=Channel.PHONE,
                    request="照会",
                    created_by=world.staff,
                )
                refresh_waits([case.pk])  # what the services keep, written around them here
            made += 1
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/dashboard/?year=2022").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


FIELDS = engines["django"].from_string(
    '{% for field in form %}{% include "includes/field.html" %}{% endfor %}'
)
BOX = engines["django"].from_string('{% include "overview/period_box.html" %}')


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "today", [date(2026, 12, 4), date(2019, 4, 30), date(2019, 5, 1), date(2027, 3, 31)]
)
def test_the_period_box_is_what_the_unchosen_form_renders(language, today):
    with translation.override(language):
        form = PeriodForm(None, today=today)
        box = BOX.render({"form": form})
        assert box == FIELDS.render({"form": form})
    assert f'<option value="{today.year if today.month > 3 else today.year - 1}" selected>' in box


@pytest.mark.parametrize(
    "period",
    [Period.fiscal(2026), Period(date(2026, 6, 1), date(2026, 11, 30)), Period.fiscal(2027)],
    ids=["this-year", "range", "next-year"],
)
def test_the_ended_cases_of_a_recent_period_are_those_active_in_it(world, period, monkeypatch):
    """A period begun within the last year reads the cases ended since its first day from
    their range of an index (overview/dashboard.py `_breakdown`); the groups are the same
    as by the rule every other period follows (Period.active())."""
    from overview import dashboard as board

    today = date(2026, 12, 4)
    start = period.start
    for stage in (Stage.CLOSED, Stage.WITHDRAWN, Stage.INQUIRY):
        for ended in (start - timedelta(days=1), start, start + timedelta(days=30), today):
            for opened in (date(2025, 1, 10), period.end, period.end + timedelta(days=1)):
                CaseFactory(
                    office=world.office,
                    stage=stage,
                    stage_since=ended,
                    opened_on=min(opened, ended),
                    cause_category=CauseCategory.LOGOUT_OMITTED,
                )
    assert period.start > today - board.RECENT
    with tenant_scope(world.manager):
        deadlines = board.Deadlines(world.city, today)
        ranged = board._breakdown(world.city, period, deadlines)
        monkeypatch.setattr(board, "RECENT", timedelta(days=0))
        ruled = board._breakdown(world.city, period, deadlines)
    assert ranged == ruled
    assert any(row["stage"] in board.ENDED_STAGES for row in ranged)


@pytest.mark.parametrize(
    ("period", "active"),
    [
        (Period.fiscal(2026), 8),
        (Period(date(2026, 6, 1), date(2026, 12, 4)), 8),
        (Period(date(2026, 6, 1), date(2026, 12, 3)), 6),
        (Period.fiscal(2025), 4),
    ],
    ids=["this-year", "range-to-today", "range-to-yesterday", "last-year"],
)
def test_the_open_cases_active_in_a_period_are_those_opened_by_its_end(world, period, active):
    """An open case is active in a period when it opened on or before the period's last
    day. A period that ends today or later counts every open case, none being opened after
    today (overview/dashboard.py `_breakdown`); an earlier end leaves out those opened
    after it."""
    from django.db.models import Count

    from cases.models import Case
    from overview import dashboard as board

    today = date(2026, 12, 4)
    for i, opened in enumerate([date(2024, 5, 1), date(2025, 3, 31), date(2026, 4, 1), today]):
        for stage in (Stage.INQUIRY, Stage.NEGOTIATION):
            CaseFactory(
                office=world.office,
                stage=stage,
                stage_since=opened,
                opened_on=opened,
                cause_category=CauseCategory.LOGOUT_OMITTED if i % 2 else "",
            )
    with tenant_scope(world.manager):
        rows = board._breakdown(world.city, period, board.Deadlines(world.city, today))
        expected = dict(
            Case.objects.filter(period.active(), stage__in=board.OPEN_STAGES)
            .values_list("stage")
            .annotate(n=Count("*"))
            .order_by()
        )
    counted: dict = {}
    for row in rows:
        if row["stage"] in board.OPEN_STAGES and row["in_period"]:
            counted[row["stage"]] = counted.get(row["stage"], 0) + row["in_period"]
    assert counted == expected
    assert sum(counted.values()) == active
