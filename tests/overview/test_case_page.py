"""The case page shows the deadline of the current stage and the time spent in each stage."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.scoping import tenant_scope
from remedies.workflow import case_transition

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
