"""No event of a case may be dated before the case began (issue 17: a stage change and a
visit dated 1868-01-25 were accepted, and the page then said "39586開庁日超過")."""

from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.errors import CaseError
from cases.models import Agency, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.models import Channel, Method, Purpose, Side
from remedies.workflow import CaseFile, case_transition

pytestmark = pytest.mark.django_db

MEIJI = date(1868, 1, 25)
BEFORE = date(2023, 2, 6)  # the day before the story's discovery (2023-02-07)
MESSAGE = "案件の始まり（令和5年2月7日）より前の日付です。"


def _writes(world, case, c, d):
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    return {
        "stage": lambda on: case_transition(case=case, step="refer", by=world.staff, on=on),
        "visit": lambda on: remedies.visit_record(
            case=case, by=world.staff, party=c, visited_on=on, place="自宅", purpose=Purpose.APOLOGY
        ),
        "contact": lambda on: remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=on,
            channel=Channel.PHONE,
            request="照会",
        ),
        "agreement": lambda on: remedies.agreement_add(
            case=case,
            by=world.staff,
            payer=Side.CONTRACTOR,
            amount=1000,
            form=Method.CASH,
            agreed_on=on,
        ),
        "letter": lambda on: remedies.letter_record(case=case, by=world.staff, party=c, sent_on=on),
        "ledger": lambda on: ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=1000, on=on, by=world.staff
        ),
        "timeline": lambda on: services.timeline_add(
            case=case, by=world.staff, occurred_on=on, actor="北九州市", text="電話"
        ),
        "link corrected": lambda on: services.misregistration_add(
            case=case,
            by=world.staff,
            source=c,
            target=d,
            data_kind=DataKind.BANK_ACCOUNT,
            corrected_on=on,
        ),
        "identified": lambda on: services.party_add(
            case=case, by=world.staff, label="E氏", name="山田 一郎", identified_on=on
        ),
    }


WRITES = ["stage", "visit", "contact", "agreement", "letter", "ledger", "timeline",
          "link corrected", "identified"]  # fmt: skip


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("on", [MEIJI, BEFORE])
def test_no_event_is_dated_before_the_case_began(world, story, write, on):
    case, c, d = story
    with tenant_scope(world.staff):
        count = TimelineEvent.objects.count()
        with pytest.raises(CaseError) as error:
            _writes(world, case, c, d)[write](on)
        assert error.value.message == MESSAGE
        assert TimelineEvent.objects.count() == count
    with scopes_disabled():
        assert CaseFile.objects.get(pk=case.pk).stage == "inquiry"


@pytest.mark.parametrize("write", WRITES)
def test_the_day_the_case_began_is_accepted(world, story, write):
    case, c, d = story
    with tenant_scope(world.staff):
        _writes(world, case, c, d)[write](date(2023, 2, 7))


def test_the_occurrence_date_is_the_floor_when_known(world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        services.case_update(case=case, by=world.staff, occurred_on=date(2023, 1, 20))
        services.timeline_add(
            case=case, by=world.staff, occurred_on=date(2023, 1, 20), actor="窓口", text="誤登録"
        )
        with pytest.raises(CaseError) as error:
            services.misregistration_add(
                case=case, by=world.staff, source=c, target=d,
                data_kind=DataKind.BANK_ACCOUNT, registered_on=date(2023, 1, 19),
            )  # fmt: skip
    assert error.value.field == "registered_on"
    assert "令和5年1月20日" in error.value.message


def test_a_dated_form_says_it_next_to_the_field(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/timeline/new/",
        {"occurred_on": "1868-01-25", "actor": "北九州市", "text": "電話"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_occurred_on_error"' in body
    assert MESSAGE in body


def test_a_stage_change_before_the_case_began_is_refused_with_a_message(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/stage/refer/",
        {"expected_stage": "inquiry", "on": "1868-01-25", "note": ""},
        follow=True,
    )
    body = response.content.decode()
    assert MESSAGE in body
    assert "開庁日超過" not in body
    with scopes_disabled():
        assert CaseFile.objects.get(pk=case.pk).stage == "inquiry"
