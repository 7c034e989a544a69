"""Managers set the business days per stage and the municipality's closed days."""

from datetime import date

import pytest
from django_scopes import scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from cases.audit_verify import verify_chain
from cases.models import AuditEntry, ClosedDay, Role, Stage, StageDeadline
from tests.factories import CaseFactory, MunicipalityFactory, member

# Assertions read the settings rows directly; each request opens its own tenant scope.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unscoped")]

ALL_STAGES = ["inquiry", "agency_contact", "negotiation", "visit", "settlement"]


def _days(**changes) -> dict:
    return {stage: "10" for stage in ALL_STAGES} | changes


def test_manager_changes_a_deadline_and_the_case_page_follows(client, world, today):
    case = CaseFactory(office=world.office, stage=Stage.INQUIRY, stage_since=date(2023, 2, 27))
    client.force_login(world.manager)
    before = client.get(f"/cases/{case.reference}/").content.decode()
    assert "令和5年3月13日" in before  # 2/27 + 10 business days
    response = client.post("/dashboard/deadlines/", _days(inquiry="2"))
    assert response.status_code == 302
    assert StageDeadline.objects.get(municipality=world.city, stage="inquiry").business_days == 2
    after = client.get(f"/cases/{case.reference}/").content.decode()
    assert "令和5年3月1日" in after and "本日期限" in after
    assert AuditEntry.objects.filter(action="tadasu.settings.deadlines").exists()
    assert verify_chain()[1] == []


@pytest.mark.parametrize("bad", ["0", "251", "abc", "", "-3", "1.5"])
def test_a_bad_number_of_days_is_refused_next_to_its_field(client, world, bad):
    client.force_login(world.manager)
    response = client.post("/dashboard/deadlines/", _days(visit=bad))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_visit_error"' in page
    assert not StageDeadline.objects.exists()


def test_a_closed_day_moves_the_deadline(client, world, today):
    case = CaseFactory(office=world.office, stage=Stage.INQUIRY, stage_since=date(2023, 2, 27))
    client.force_login(world.manager)
    response = client.post(
        "/dashboard/deadlines/closed/new/", {"day": "2023-03-06", "name": "臨時閉庁"}
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "令和5年3月14日" in page  # one business day later than without the closed day
    settings_page = client.get("/dashboard/deadlines/").content.decode()
    assert "臨時閉庁" in settings_page


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2023-03-04", "土曜日・日曜日はもともと閉庁日です。"),
        ("2023-02-30", "日付を「2024-05-01」や「令和6年5月1日」のように、年・月・日の順で"),
        ("", "日付を入力してください。"),
    ],
)
def test_a_bad_closed_day_is_refused_with_a_message(client, world, day, message):
    client.force_login(world.manager)
    response = client.post("/dashboard/deadlines/closed/new/", {"day": day, "name": ""})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ClosedDay.objects.exists()


def test_the_same_closed_day_twice_is_refused(client, world):
    client.force_login(world.manager)
    client.post("/dashboard/deadlines/closed/new/", {"day": "2023-03-06", "name": "1回目"})
    response = client.post("/dashboard/deadlines/closed/new/", {"day": "2023-03-06", "name": ""})
    assert "この日は既に閉庁日として登録されています。" in response.content.decode()
    assert ClosedDay.objects.count() == 1


def test_manager_removes_a_closed_day(client, world):
    closed = ClosedDay.objects.create(municipality=world.city, day=date(2023, 3, 6))
    client.force_login(world.manager)
    assert client.post(f"/dashboard/deadlines/closed/{closed.pk}/delete/").status_code == 302
    assert not ClosedDay.objects.exists()
    assert AuditEntry.objects.filter(action="tadasu.settings.closed_day.removed").exists()


def test_auditor_reads_the_deadlines_but_cannot_change_them(client, world):
    client.force_login(world.auditor)
    page = client.get("/dashboard/deadlines/").content.decode()
    assert "10開庁日" in page and "<form" not in page.split("<main")[1].split("</main>")[0]
    assert client.post("/dashboard/deadlines/", _days(inquiry="3")).status_code == 403
    assert not StageDeadline.objects.exists()


class TestAnyInputIsSavedWholeOrRefused(HypothesisTestCase):
    """Whatever is typed, the page answers (never a 500) and either every stage is saved as
    typed or nothing changes."""

    @settings(max_examples=40, deadline=None)
    @given(
        values=st.lists(st.text(max_size=6) | st.integers(-5, 300).map(str), min_size=5, max_size=5)
    )
    def test_deadlines_form(self, values):
        city = MunicipalityFactory()
        manager = member(Role.MANAGER, municipality=city)
        self.client.force_login(manager)
        response = self.client.post(
            "/dashboard/deadlines/", dict(zip(ALL_STAGES, values, strict=True))
        )
        assert response.status_code in (200, 302)
        with scopes_disabled():
            rows = StageDeadline.objects.filter(municipality=city)
            stored = dict(rows.values_list("stage", "business_days"))
        if response.status_code == 302:
            assert stored == {s: int(v.strip()) for s, v in zip(ALL_STAGES, values, strict=True)}
        else:
            assert stored == {}
