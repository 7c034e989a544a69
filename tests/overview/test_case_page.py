"""The case page shows the deadline of the current stage and the time spent in each stage."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.models import Stage, TimelineEvent
from cases.scoping import tenant_scope
from remedies.stage_history import stage_spans
from remedies.workflow import case_transition
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_stage_bar_shows_days_in_each_stage(client, world, today, answered):
    case, _c, _d = answered
    with tenant_scope(world.staff):
        case_transition(case=case, step="refer", by=world.staff, on=date(2023, 3, 1))
    client.force_login(world.staff)
    page = re.sub(r"\s+", " ", client.get(f"/cases/{case.reference}/").content.decode())
    assert "段階ごとの所要日数" in page
    # Opened on 3/1 (the frozen today) and referred the same day: 0 days of 調査.
    assert "調査: 令和5年3月1日 — 0日" in page
    assert "関係機関照会: 令和5年3月1日から本日まで — 0日" in page
    assert 'role="img" aria-labelledby="stage-bar-text"' in page
    # Agency contact allows 20 business days from 3/1 (3/21 春分の日 is a holiday).
    assert "処理期限" in page and "令和5年3月30日" in page


def test_case_page_query_count_does_not_grow_with_timeline_or_parties(client, world, today, story):
    case, _c, _d = story
    client.force_login(world.staff)
    counts = []
    for n in (2, 20):
        with tenant_scope(world.staff):
            for i in range(n):
                services.party_add(case=case, by=world.staff, label=f"E{n}-{i}氏", name="対象者")
                services.timeline_add(
                    case=case,
                    by=world.staff,
                    occurred_on=date(2023, 2, 20),
                    actor="北九州市",
                    text=f"電話で確認した（{i}）。",
                )
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/cases/{case.reference}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_closed_case_bar_ends_when_the_case_closed(world, unscoped):
    case = CaseFactory(office=world.office, stage=Stage.CLOSED, stage_since=date(2023, 3, 20))
    for action, on in [
        ("case.discovered", date(2023, 2, 7)),
        ("case.opened", date(2023, 2, 10)),
        ("stage.refer", date(2023, 2, 10)),
        ("stage.plan_visits", date(2023, 3, 7)),
        ("stage.settle", date(2023, 3, 16)),
        ("stage.close", date(2023, 3, 20)),
    ]:
        TimelineEvent.objects.create(
            case=case, occurred_on=on, actor="市", text="-", action=action, created_by=world.staff
        )
    spans = stage_spans(case, today=date(2023, 6, 1))
    assert [(s.stage, s.days) for s in spans] == [
        ("inquiry", 0),
        ("agency_contact", 25),
        ("visit", 9),
        ("settlement", 4),
    ]
    assert not any(s.current for s in spans)


def test_case_page_shows_the_latest_entries_and_links_the_whole_timeline(client, world, story):
    case, _c, _d = story
    with tenant_scope(world.staff):
        for i in range(40):
            services.timeline_add(
                case=case,
                by=world.staff,
                occurred_on=date(2023, 2, 8),
                actor="北九州市",
                text=f"記録{i:02d}。",
            )
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    total = 42  # the two entries written when the case was opened, and the forty above
    assert f"全{total}件のうち、最新の30件を表示しています。" in page
    assert "記録39。" in page and "記録09。" not in page
    whole = client.get(f"/cases/{case.reference}/timeline/").content.decode()
    assert "記録00。" in whole and "記録39。" in whole
