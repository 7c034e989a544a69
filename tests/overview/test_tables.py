"""The dashboard's two tables, written out in Python (overview/tables.py), are the same bytes
as the templates they replaced: the longest overdue's rows (oldest_overdue_rows.html beside
this file, the loop kept from dashboard_body.html) and overview/agency_table.html, which the
work queue still renders (with its waiting column)."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.db.models import Prefetch
from django.template import engines
from django.template.loader import render_to_string
from django.utils import translation

from cases.deadlines import Deadlines
from cases.models import Agency, Case, Stage
from cases.scoping import tenant_scope
from overview.dashboard import LIST_LENGTH, dashboard
from overview.tables import agency_table_html, oldest_overdue_rows_html
from remedies import services as remedies
from remedies.models import AgencyContact, Channel
from remedies.workflow import OPEN_STAGES
from tests.factories import CaseFactory, OfficeFactory

pytestmark = pytest.mark.django_db

ROWS = engines["django"].from_string(
    (Path(__file__).parent / "oldest_overdue_rows.html").read_text(encoding="utf-8").rstrip("\n")
)


@pytest.fixture
def board(world, today, answered):
    """Overdue cases assigned and not, in an office whose name needs escaping; unanswered
    requests to one agency and to two, one asking more than a row shows, with markup."""
    case, _c, _d = answered
    office = OfficeFactory(municipality=world.city, name="<区役所> & 窓口")
    for i, assignee in enumerate([world.staff, None, world.manager]):
        CaseFactory(
            office=office if i else world.office,
            assignee=assignee,
            stage=[Stage.INQUIRY, Stage.NEGOTIATION, Stage.SETTLEMENT][i],
            stage_since=today - timedelta(days=40 + 7 * i),
        )
    national = Agency.objects.get_or_create(name="総務省", kind=Agency.Kind.NATIONAL)[0]
    other = Agency.objects.get_or_create(name="デジタル庁 <本庁>", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        for agencies, text in (
            ([national], "付与済みポイントの取消しの可否を照会。"),
            ([other, national], "<b>至急</b> & " + "照会内容の確認をお願いします。" * 8),
        ):
            remedies.contact_add(
                case=case,
                by=world.staff,
                agencies=agencies,
                contacted_on=date(2023, 2, 10),
                channel=Channel.EMAIL,
                request=text,
            )
    with tenant_scope(world.manager):
        yield dashboard(world.city, today)


def _whole(world, today, rows) -> list[Case]:
    """The listed cases as the dashboard read them before: whole, with their office and
    assignee, in the same order, marked by the clock."""
    with tenant_scope(world.manager):
        by_id = Case.objects.select_related("office", "assignee").in_bulk([r.pk for r in rows])
        return Deadlines(world.city, today).mark([by_id[r.pk] for r in rows])


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_longest_overdue_rows_are_what_the_template_rendered(world, today, board, language):
    rows = board.oldest_overdue
    assert len(rows) >= 3
    assert any(row.assignee is None for row in rows)
    assert any(row.assignee is not None for row in rows)
    with translation.override(language):
        written = oldest_overdue_rows_html(rows)
        assert written == ROWS.render({"cases": _whole(world, today, rows)})
    assert "&lt;区役所&gt; &amp; 窓口" in written


def _contacts(world) -> list[AgencyContact]:
    """The unanswered requests as the dashboard read them before: whole rows, their case,
    their agencies prefetched in the order of names."""
    with tenant_scope(world.manager):
        return list(
            AgencyContact.objects.filter(
                municipality=world.city, case__stage__in=OPEN_STAGES, answered_on__isnull=True
            )
            .select_related("case")
            .prefetch_related(Prefetch("agencies", queryset=Agency.objects.order_by("name")))
            .order_by("contacted_on", "id")[:LIST_LENGTH]
        )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_agency_table_is_what_the_template_rendered(world, board, language):
    requests = board.waiting_on_agencies
    assert len(requests) >= 2 and any(len(r.agencies) > 1 for r in requests)
    with translation.override(language):
        written = agency_table_html(requests)
        assert written == render_to_string(
            "overview/agency_table.html", {"contacts": _contacts(world)}
        )
    assert "&lt;b&gt;至急&lt;/b&gt; &amp;" in written and "…" in written


@pytest.mark.parametrize("language", ["ja", "en"])
def test_no_request_is_what_the_template_rendered(language):
    with translation.override(language):
        assert agency_table_html([]) == render_to_string(
            "overview/agency_table.html", {"contacts": []}
        )
