"""A case waiting on an agency: its clock stops, and the case page, the dashboard, the case
list and the work queues say the same about it (cases/deadlines.py)."""

import re
from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.models import Agency, Case, Stage
from cases.scoping import tenant_scope
from remedies import services as remedies
from remedies.models import AgencyContact, Channel
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def _flat(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section class="card" id="{anchor}".*?</section>', page, re.S)
    assert match, f"no section #{anchor}"
    return match.group(0)


@pytest.fixture
def waiting(world, today, story):
    """Two cases of the staff member, both in 調査 (10 business days) with a request to an
    agency unanswered since 2/8: `paused` entered 調査 on 2/6, so its clock had run 2 days
    when it stopped; `late` entered on 1/4 and was already overdue when it asked."""
    paused, _c, _d = story
    late = CaseFactory(office=world.office, created_by=world.staff, assignee=world.staff)
    agency, _ = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)
    with tenant_scope(world.staff):
        services.case_take(case=paused, by=world.staff)
        for case in (paused, late):
            remedies.contact_add(
                case=case,
                by=world.staff,
                agencies=[agency],
                contacted_on=date(2023, 2, 8),
                channel=Channel.PHONE,
                request="口座の状況を照会。",
            )
    with scopes_disabled():
        Case.objects.filter(pk=paused.pk).update(stage=Stage.INQUIRY, stage_since=date(2023, 2, 6))
        Case.objects.filter(pk=late.pk).update(stage=Stage.INQUIRY, stage_since=date(2023, 1, 4))
    return paused, late


def test_dashboard_list_queues_and_case_page_agree_on_a_paused_clock(client, world, waiting):
    paused, late = waiting
    client.force_login(world.manager)
    dashboard = _flat(client.get("/dashboard/"))
    assert 'href="/cases/?overdue=true">1件' in dashboard
    late_part = dashboard.split('id="h-late"')[1].split("</section>")[0]
    assert late.reference in late_part and paused.reference not in late_part
    # The marker says which stage and how late: 1/4 → 2/8 is 24 business days (1/9 成人の日
    # a holiday), 14 past 10.
    assert "調査：14開庁日超過" in late_part

    client.force_login(world.staff)
    overdue_list = _flat(client.get("/cases/?overdue=true"))
    assert late.reference in overdue_list and paused.reference not in overdue_list
    full_list = _flat(client.get("/cases/"))
    row = re.search(rf"{paused.reference}</a>.*?</tr>", full_list).group(0)
    assert "回答待ちで停止中" in row and "あと8開庁日" in row

    queues = _flat(client.get("/queues/"))
    mine_waiting = _section(queues, "waiting-on-me").split("担当者未定の案件")[0]
    assert late.reference in mine_waiting and "調査：14開庁日超過" in mine_waiting
    assert paused.reference not in mine_waiting

    page = _flat(client.get(f"/cases/{paused.reference}/"))
    assert "関係機関の回答待ちのため期限の計算を停止しています（令和5年2月8日照会）。" in page


def test_the_answer_restarts_the_clock_without_the_days_waited(client, world, waiting):
    paused, _late = waiting
    with tenant_scope(world.staff):
        contact = AgencyContact.objects.get(case=paused)
        remedies.contact_answer(
            contact=contact, by=world.staff, answered_on=date(2023, 2, 27), answer="確認済み。"
        )
    client.force_login(world.staff)
    page = _flat(client.get(f"/cases/{paused.reference}/"))
    # Stopped on 2/9 … 2/27: 12 business days (2/11 and 2/23 are holidays).
    assert "関係機関の回答待ちの12開庁日は期限に数えていません。" in page
    # 2/7, 2/8, 2/28, 3/1 counted: 6 business days left, due 3/9.
    assert "令和5年3月9日" in page and "あと6開庁日" in page
    assert paused.reference not in _flat(client.get("/cases/?overdue=true"))
