"""The managers' dashboard: the figures it shows, who may see it, what it costs."""

import re
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Agency, CauseCategory, Stage
from cases.scoping import tenant_scope
from overview.dashboard import ENDED_STAGES, _months
from overview.periods import Period
from remedies import ledger
from remedies import services as remedies
from remedies.models import Channel
from remedies.workflow import OPEN_STAGES
from tests.factories import CaseFactory, ContractorFactory

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def money(world, today, answered):
    """The story case with C owed 5,000円 by D's excess, 3,000円 paid to C by the
    contractor, and an unanswered request to an agency."""
    case, c, d = answered
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 20), by=world.staff
        )
        ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=3000,
            side="contractor",
            method="cash",
            on=date(2023, 2, 21),
            by=world.staff,
        )
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[Agency.objects.get_or_create(name="総務省", kind=Agency.Kind.NATIONAL)[0]],
            contacted_on=date(2023, 2, 10),
            channel=Channel.EMAIL,
            request="付与済みポイントの取消しの可否を照会。",
        )
    return case


def test_dashboard_shows_money_outstanding_and_cost_by_contractor(client, world, money):
    client.force_login(world.manager)
    page = _text(client.get("/dashboard/"))
    assert '市民への未払額</p><p class="big-number owed">2,000円' in page
    assert '市民からの未回収額</p><p class="big-number excess">5,000円' in page
    # Cost borne: the contractor paid 3,000円 and has collected nothing back.
    assert '<th scope="row">株式会社エイジェック</th><td class="num">3,000円</td>' in page
    # The unanswered request, oldest first, with what was asked.
    assert "付与済みポイントの取消しの可否を照会。" in page
    assert "総務省" in page


def test_dashboard_counts_open_and_overdue_cases_by_stage(client, world, today):
    # Inquiry allows 10 business days by default: since 2/1 is overdue on 3/1, 2/27 is not.
    for since in (date(2023, 2, 1), date(2023, 2, 2), date(2023, 2, 27)):
        CaseFactory(
            office=world.office,
            contractor=world.contractor_co,
            stage=Stage.INQUIRY,
            stage_since=since,
            opened_on=since,
            cause_category=CauseCategory.LOGOUT_OMITTED,
        )
    CaseFactory(
        office=world.office2,
        stage=Stage.CLOSED,
        stage_since=date(2023, 1, 5),
        opened_on=date(2022, 12, 1),
    )
    CaseFactory(office=world.other_city_office, stage=Stage.INQUIRY, stage_since=date(2022, 1, 4))
    client.force_login(world.manager)
    page = _text(client.get("/dashboard/"))
    # Three open cases of this city; the closed one and the other city's are not counted.
    assert '対応中の案件</p><p class="big-number"><a href="/cases/">3件' in page
    assert 'href="/cases/?overdue=true">2件' in page
    assert '<th scope="row">調査</th><td class="num">3件</td>' in page
    assert '<th scope="row">ログアウト漏れ</th><td class="num">3件</td>' in page
    assert '<th scope="row">八幡西区役所 支援窓口</th><td class="num">3件</td>' in page
    # Every chart has a text alternative saying the same as its bars.
    assert 'aria-labelledby="c-stage-title c-stage-text"' in page
    assert "調査: 3件、関係機関照会: 0件" in page


def test_opened_and_closed_per_month(client, world, today, answered):
    client.force_login(world.manager)
    page = _text(client.get("/dashboard/"))
    # The story case was opened (reported) on the frozen today, 2023-03-01; none closed.
    assert '<th scope="row">2023年3月</th><td class="num">1</td><td class="num">0</td>' in page
    assert '<th scope="row">2022年4月</th><td class="num">0</td><td class="num">0</td>' in page


def test_the_months_sum_the_days_of_each_month_in_the_period(world):
    """Cases are counted by the day they opened or closed, and the days summed into months:
    days of one month add up, a month's first and last day count in it, and days outside
    the period (or cases closed before it, or withdrawn) do not."""
    opened = [date(2021, 4, 1), date(2021, 5, 3), date(2021, 5, 3), date(2021, 5, 31)]
    opened += [date(2022, 3, 31), date(2021, 3, 31), date(2022, 4, 1)]  # the last two: outside
    for day in opened:
        CaseFactory(office=world.office, opened_on=day, stage=Stage.INQUIRY, stage_since=day)
    closed = [date(2021, 6, 1), date(2021, 6, 30), date(2021, 7, 15), date(2021, 3, 31)]
    for day in closed:
        CaseFactory(
            office=world.office, opened_on=date(2020, 5, 1), stage=Stage.CLOSED, stage_since=day
        )
    CaseFactory(
        office=world.office,
        opened_on=date(2020, 5, 1),
        stage=Stage.WITHDRAWN,
        stage_since=date(2021, 6, 2),
    )
    with tenant_scope(world.manager):
        months = _months(world.city, Period.fiscal(2021))
    counts = {month: (o, c) for month, _label, _short, _year, o, c in months}
    assert len(months) == 12 and months[0][0] == "2021-04" and months[-1][0] == "2022-03"
    assert counts["2021-04"] == (1, 0)
    assert counts["2021-05"] == (3, 0)
    assert counts["2021-06"] == (0, 2)
    assert counts["2021-07"] == (0, 1)
    assert counts["2022-03"] == (1, 0)
    assert sum(o for o, _c in counts.values()) == 5
    assert sum(c for _o, c in counts.values()) == 3


@pytest.mark.parametrize(
    ("persona", "status"),
    [("manager", 200), ("auditor", 200), ("staff", 403), ("contractor", 403)],
)
def test_dashboard_is_for_managers_and_auditors(client, world, persona, status):
    client.force_login(getattr(world, persona))
    assert client.get("/dashboard/").status_code == status


def test_dashboard_query_count_does_not_grow_with_cases_or_ledger_rows(client, world, today):
    client.force_login(world.manager)
    scratch, served = [], []
    for n in (2, 20):
        for i in range(n):
            contractor = ContractorFactory(serves=[world.city])
            CaseFactory(
                office=world.office,
                contractor=contractor,
                stage=Stage.INQUIRY,
                # Overdue at both sizes (10 business days in 調査): the longest overdue
                # list shows 1, then 10 of them.
                stage_since=today - timedelta(days=20 + i * 3),
            )
        cache.clear()  # factory rows are not audited: start from scratch
        for counts in (scratch, served):
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/dashboard/").status_code == 200
            counts.append(len(queries))
    # 19 (the session, the user, the membership, the city and the audit version among
    # them): one loads the cases whose waits on an agency leave them in doubt
    # (cases/deadlines.py), the breakdown counts the overdue cases by stage with the rest,
    # one picks each stage's oldest with what their rows show, one reads their waits; one sums
    # the overdue instalments of repayment plans (remedies/plans.py), one the corrections
    # by the national system (a small partial index), apart from the costs; the cases
    # opened and closed per month are one query; the completion panel reads no unchecked
    # reception when it counts none, and no agency is read for a list of no request.
    assert scratch[0] == scratch[1] <= 19, scratch
    assert served[0] == served[1] < scratch[0], served


def test_a_change_shows_on_the_dashboard_at_once(client, world, today, answered):
    """The rendered figures are cached, keyed by the municipality's newest audit entry:
    the next request after any audited change computes them again."""
    case, c, d = answered
    client.force_login(world.manager)
    assert '市民への未払額</p><p class="big-number">0円' in _text(client.get("/dashboard/"))
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=7000, on=date(2023, 2, 20), by=world.staff
        )
    assert 'big-number owed">7,000円' in _text(client.get("/dashboard/"))


def test_dashboard_shows_the_checklist_completion_of_the_last_twelve_months(
    client, world, today, import_rows
):
    office = world.office.name
    import_rows(
        [
            (office, "A1", "2023-02-07 09:00", "", "署名 花子", "完了", "済", "済"),
            (office, "A1", "2023-02-07 09:30", "", "中断 次郎", "中断", "未", "未"),
            (office, "A1", "2021-02-07 09:30", "", "昔 太郎", "中断", "未", "未"),
        ]
    )
    client.force_login(world.manager)
    page = _text(client.get("/dashboard/"))
    assert "完了チェック表" in page
    row = f'<tr><td>{office}</td><td class="nowrap">2023年2月</td><td class="num">2</td>'
    assert row in page
    assert "2021-02" not in page  # older than the twelve months the dashboard covers


def test_every_stage_is_counted_as_open_or_ended():
    # The breakdown counts the open cases and the ended ones apart (overview/dashboard.py).
    assert sorted(OPEN_STAGES + ENDED_STAGES) == sorted(Stage)


def test_the_dashboards_cases_are_the_municipalitys_whatever_the_scope(world):
    """The dashboard reads its cases through the scoped manager, and adds the municipality's
    condition unless the scope is that municipality alone: in its manager's scope, with
    scopes disabled, or in a contractor's scope over two cities, only its own cases."""
    from django_scopes import scope, scopes_disabled

    from overview.dashboard import _cases

    mine = CaseFactory(office=world.office)
    theirs = CaseFactory(office=world.other_city_office)
    expected = {mine.pk}
    with tenant_scope(world.manager):
        assert set(_cases(world.city).values_list("pk", flat=True)) == expected
    with scopes_disabled():
        assert set(_cases(world.city).values_list("pk", flat=True)) == expected
    with scope(municipality=[world.city.pk, world.other_city.pk], contractor=None):
        assert set(_cases(world.city).values_list("pk", flat=True)) == expected
    with scope(municipality=world.other_city.pk, contractor=None):
        assert not _cases(world.city).exists()
    assert theirs.pk not in expected
