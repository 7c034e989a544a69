"""A link corrected after the fact, a correction fixed later, and a manager's reason why a
link cannot be corrected: through the pages and the services, then closing."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_scopes import scopes_disabled

from cases import links
from cases.errors import CaseError
from cases.models import AuditEntry, CorrectionWay, Misregistration, Stage, TimelineEvent
from cases.scoping import tenant_scope
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db


def _link(case) -> Misregistration:
    with scopes_disabled():
        return Misregistration.objects.select_related("source", "target").get(case=case)


def _url(case, link, action: str) -> str:
    return f"/cases/{case.reference}/links/{link.pk}/{action}/"


def test_staff_record_a_correction_after_the_fact_and_the_case_page_shows_it(client, world, story):
    case, _c, _d = story
    link = _link(case)
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "未修正" in page and _url(case, link, "correct") in page
    assert _url(case, link, "excuse") not in page  # a manager's action
    # The correction page names the link as the link form and the case page read it.
    form_page = client.get(_url(case, link, "correct")).content.decode()
    assert "D氏のキャッシュレス決済がC氏のマイナポイントに登録された。" in form_page

    response = client.post(
        _url(case, link, "correct"),
        {
            "corrected_on": "2023-02-22",
            "corrected_how": CorrectionWay.PERSON,
            "correction_note": "正しい口座を登録し直した",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "令和5年2月22日（本人がマイナポータルで修正）" in page
    assert "正しい口座を登録し直した" in page
    with scopes_disabled():
        event = TimelineEvent.objects.get(case=case, action="link.corrected")
        entry = AuditEntry.objects.get(action="tadasu.misregistration.corrected")
    assert event.occurred_on == date(2023, 2, 22) and event.in_story
    assert event.text == (
        "誤登録（D氏→C氏・キャッシュレス決済）を修正した（本人がマイナポータルで修正）。"
        "正しい口座を登録し直した。"
    )
    assert entry.data["before"]["corrected_on"] is None
    assert entry.data["after"]["corrected_on"] == "2023-02-22"


def test_a_correction_can_be_fixed_later_with_its_audit_and_timeline_line(world, story):
    case, _c, _d = story
    with tenant_scope(world.staff):
        link = links.link_correct(
            link=_link(case),
            by=world.staff,
            corrected_on=date(2023, 2, 22),
            corrected_how=CorrectionWay.PERSON,
        )
        links.link_correct(
            link=link,
            by=world.staff,
            corrected_on=date(2023, 2, 24),
            corrected_how=CorrectionWay.MUNICIPALITY,
        )
    link = _link(case)
    assert link.corrected_on == date(2023, 2, 24)
    assert link.corrected_how == CorrectionWay.MUNICIPALITY
    with scopes_disabled():
        changed = TimelineEvent.objects.get(case=case, action="link.correction_changed")
        entries = list(
            AuditEntry.objects.filter(action="tadasu.misregistration.corrected").order_by("id")
        )
    assert "修正の記録を訂正した（修正日 令和5年2月24日、自治体の職員が修正）" in changed.text
    assert not changed.in_story  # bookkeeping: not part of the press release's 経過
    assert entries[1].data["before"]["corrected_on"] == "2023-02-22"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "修正日を入力してください。"),
        ((timezone.localdate() + timedelta(days=1)).isoformat(), "未来の日付"),
        ("2023-02-01", "案件の始まり"),  # before the error was discovered (2/7)
        ("2023-02-09", "誤登録の日（令和5年2月10日）より前"),
    ],
)
def test_a_bad_correction_date_is_answered_next_to_the_field(client, world, story, value, message):
    case, _c, _d = story
    with scopes_disabled():
        Misregistration.objects.filter(case=case).update(registered_on=date(2023, 2, 10))
    link = _link(case)
    client.force_login(world.staff)
    response = client.post(
        _url(case, link, "correct"),
        {"corrected_on": value, "corrected_how": CorrectionWay.PERSON},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and 'id="id_corrected_on_error"' in page
    assert _link(case).corrected_on is None


def test_only_a_manager_records_why_a_link_cannot_be_corrected_and_the_case_then_closes(
    client, world, answered
):
    case, c, d = answered
    link = _link(case)
    client.force_login(world.staff)
    assert client.get(_url(case, link, "excuse")).status_code == 403
    with tenant_scope(world.staff), pytest.raises(PermissionDenied):
        links.link_excuse(link=link, by=world.staff, reason="付与済み")

    client.force_login(world.manager)
    response = client.post(_url(case, link, "excuse"), {"reason": ""})
    assert "入力してください" in response.content.decode()
    response = client.post(
        _url(case, link, "excuse"), {"reason": "ポイントは付与済みで訂正できない。"}
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "修正不可" in page and "ポイントは付与済みで訂正できない。" in page
    with scopes_disabled():
        event = TimelineEvent.objects.get(case=case, action="link.excused")
        assert AuditEntry.objects.filter(action="tadasu.misregistration.excused").exists()
    assert not event.public  # a decision for the file, internal until published

    # Nothing else is missing for closing (no money moved, both apologised to).
    with tenant_scope(world.staff):
        for step in ("refer", "plan_visits"):
            case_transition(case=case, step=step, by=world.staff)
        from remedies import services as remedies

        for party in (c, d):
            remedies.letter_record(case=case, by=world.staff, party=party, sent_on=date(2023, 3, 1))
    with tenant_scope(world.manager):
        case_transition(case=case, step="close", by=world.manager)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    with scopes_disabled():
        assert case.__class__.objects.get(pk=case.pk).stage == Stage.CLOSED
    assert "修正不可" in page and "未修正" not in page


def test_a_corrected_link_cannot_be_excused(world, story):
    case, _c, _d = story
    with tenant_scope(world.manager):
        link = links.link_correct(
            link=_link(case),
            by=world.manager,
            corrected_on=date(2023, 2, 22),
            corrected_how=CorrectionWay.PERSON,
        )
        with pytest.raises(CaseError):
            links.link_excuse(link=link, by=world.manager, reason="理由")
