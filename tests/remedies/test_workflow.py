"""Every transition: allowed when its guards hold, refused with the reason when one fails,
refused for each role that may not take it."""

import re
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation
from django_scopes import scopes_disabled

from cases import links, services
from cases.models import Case, CaseKind, CorrectionWay, Misregistration, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.errors import RemedyError
from remedies.models import Method, Purpose, Side
from remedies.workflow import CaseFile, case_transition, next_by_others, steps_for

pytestmark = pytest.mark.django_db


def _move(world, case, step, by=None, **kwargs):
    by = by or world.staff
    with tenant_scope(by), translation.override("ja"):
        return case_transition(case=case, step=step, by=by, **kwargs)


def _stage(case):
    with scopes_disabled():
        return CaseFile.objects.get(pk=case.pk).stage


def _reasons(error) -> str:
    return str(error.value.message)


def test_refer_needs_a_link_and_the_cause(world):
    with tenant_scope(world.staff):
        case = services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
        )
    with pytest.raises(RemedyError) as error:
        _move(world, case, "refer")
    assert "誤登録が記録されていません" in _reasons(error) or "誤登録" in _reasons(error)
    assert "原因" in _reasons(error)
    assert _stage(case) == "inquiry"


def test_refer_writes_the_timeline_and_audit(world, story):
    case, _, _ = story
    _move(world, case, "refer", on=date(2023, 2, 8), note="デジタル庁に照会を開始")
    assert _stage(case) == "agency_contact"
    with scopes_disabled():
        event = TimelineEvent.objects.get(case=case, action="stage.refer")
    assert (event.occurred_on, event.text) == (date(2023, 2, 8), "デジタル庁に照会を開始")


def test_negotiate_needs_an_answer_and_money_out_of_place(world, story, answered):
    case, c, d = answered
    _move(world, case, "refer")
    with pytest.raises(RemedyError) as error:
        _move(world, case, "negotiate")
    assert "誤って配分された金額（誤配分）を記録してください" in _reasons(error)
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=date(2023, 3, 7), by=world.staff
        )
    _move(world, case, "negotiate")
    assert _stage(case) == "negotiation"


def test_plan_visits_is_refused_while_money_is_out_of_place(world, answered):
    case, c, d = answered
    _move(world, case, "refer")
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=date(2023, 3, 7), by=world.staff
        )
    with pytest.raises(RemedyError) as error:
        _move(world, case, "plan_visits")
    assert "C氏" in _reasons(error) and "15,000円" in _reasons(error)


def test_agency_answer_is_required_before_leaving_agency_contact(world, story):
    case, _, _ = story
    _move(world, case, "refer")
    for step in ("negotiate", "plan_visits"):
        with pytest.raises(RemedyError) as error:
            _move(world, case, step)
        assert "回答" in _reasons(error)


def _to_visit(world, case, c, d, amount=15000):
    _move(world, case, "refer")
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=amount, on=date(2023, 3, 7), by=world.staff
        )
    _move(world, case, "negotiate")
    with pytest.raises(RemedyError) as error:
        _move(world, case, "agree")
    assert "補償" in _reasons(error)
    with tenant_scope(world.staff):
        remedies.agreement_add(
            case=case,
            by=world.staff,
            payer=Side.CONTRACTOR,
            amount=amount,
            form=Method.CASH,
            agreed_on=date(2023, 3, 7),
        )
    _move(world, case, "agree")
    assert _stage(case) == "visit"


def test_settle_needs_a_visit_or_letter_for_every_identified_person(world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    with pytest.raises(RemedyError) as error:
        _move(world, case, "settle")
    assert "C氏" in _reasons(error) and "D氏" in _reasons(error)
    with tenant_scope(world.contractor):
        remedies.visit_record(
            case=case,
            by=world.contractor,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=15000,
            hand_over_side=Side.CONTRACTOR,
            hand_over_method=Method.CASH,
        )
    with tenant_scope(world.staff):
        remedies.letter_record(case=case, by=world.staff, party=d, sent_on=date(2023, 3, 11))
    _move(world, case, "settle")
    assert _stage(case) == "settlement"


def test_close_needs_zero_balances_apologies_prevention_and_a_manager(world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    with tenant_scope(world.staff):
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=15000,
            hand_over_side=Side.CONTRACTOR,
            hand_over_method=Method.CASH,
        )
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=d,
            visited_on=date(2023, 3, 16),
            place="区役所",
            purpose=Purpose.JOINT_CHECK,
            apologised=False,
            collected=10000,
            collected_by=Side.CONTRACTOR,
        )
    with pytest.raises(PermissionDenied):
        _move(world, case, "close", by=world.staff)
    with pytest.raises(RemedyError) as error:
        _move(world, case, "close", by=world.manager)
    reasons = _reasons(error)
    assert "D氏" in reasons and "5,000円" in reasons  # excess still held
    assert "D氏への謝罪" in reasons or ("D氏" in reasons and "謝罪" in reasons)
    with tenant_scope(world.staff):
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=d,
            visited_on=date(2023, 3, 17),
            place="区役所",
            purpose=Purpose.COLLECTION,
            collected=5000,
            collected_by=Side.CONTRACTOR,
        )
        services.case_update(case=case, by=world.staff, prevention="")
    with pytest.raises(RemedyError) as error:
        _move(world, case, "close", by=world.manager)
    assert "再発防止策" in _reasons(error)
    with tenant_scope(world.staff):
        services.case_update(case=case, by=world.staff, prevention="毎回ログアウトする。")
    # The link D→C was never marked corrected: closing names it and the action to take.
    with pytest.raises(RemedyError) as error:
        _move(world, case, "close", by=world.manager)
    assert _reasons(error) == (
        "誤登録（D氏→C氏・キャッシュレス決済）が修正されていません。「誤登録の状況」の"
        "「修正を記録」で修正日を記録するか、課長・係長が修正できない理由を記録してください。"
    )
    with tenant_scope(world.staff):
        link = Misregistration.objects.get(case=case)
        links.link_correct(
            link=link,
            by=world.staff,
            corrected_on=date(2023, 3, 16),
            corrected_how=CorrectionWay.CONTRACTOR,
        )
    _move(world, case, "close", by=world.manager)
    assert _stage(case) == "closed"


def test_withdraw_and_reopen_need_a_manager_and_a_reason(world, story):
    case, _, _ = story
    with pytest.raises(PermissionDenied):
        _move(world, case, "withdraw", by=world.staff, note="重複登録")
    with pytest.raises(RemedyError) as error:
        _move(world, case, "withdraw", by=world.manager, note=" ")
    assert error.value.field == "note"
    _move(world, case, "withdraw", by=world.manager, note="重複登録のため")
    assert _stage(case) == "withdrawn"
    with pytest.raises(RemedyError):
        _move(world, case, "refer")  # not from withdrawn
    _move(world, case, "reopen", by=world.manager, note="別事案と判明")
    assert _stage(case) == "inquiry"
    with scopes_disabled():
        texts = list(
            TimelineEvent.objects.filter(case=case, action__startswith="stage.").values_list(
                "text", flat=True
            )
        )
    assert any("重複登録のため" in t for t in texts) and any("別事案と判明" in t for t in texts)


@pytest.mark.parametrize("role", ["auditor", "contractor"])
def test_roles_that_may_not_move_a_case(world, story, role):
    case, _, _ = story
    with pytest.raises(PermissionDenied):
        _move(world, case, "refer", by=getattr(world, role))
    assert _stage(case) == "inquiry"


def test_a_stale_stage_is_a_conflict(world, story):
    case, _, _ = story
    _move(world, case, "refer", expected_stage="inquiry")
    with pytest.raises(RemedyError) as error:
        _move(world, case, "withdraw", by=world.manager, expected_stage="inquiry", note="x")
    assert error.value.conflict


def test_case_page_offers_only_the_users_steps_with_reasons(world, story):
    case, _, _ = story
    with tenant_scope(world.staff):
        staff_steps = {o.step.name: o for o in steps_for(case, world.staff)}
    with tenant_scope(world.manager):
        manager_steps = {o.step.name for o in steps_for(case, world.manager)}
    with tenant_scope(world.auditor):
        auditor_steps = steps_for(case, world.auditor)
    assert set(staff_steps) == {"refer"} and staff_steps["refer"].allowed
    assert manager_steps == {"refer", "withdraw"}
    assert auditor_steps == []


# ---- what the case page tells each role about the steps others take -----------------------

_YOUR_PART = (
    "委託事業者の方へ：訪問のたびに記録してください（誰が、どこで、何を渡したか・受け取ったか、"
    "謝罪したか）。"
)
_CLOSE_FROM_VISIT = (
    "すべての対象者への謝罪が済み、残高がすべて0円になったら、管理職が案件を完了にします。"
)
_CLOSE_FROM_SETTLEMENT = "精算が済んだら、管理職が案件を完了にします。"


def _told(world, case, role: str) -> list[tuple[str, list[str]]]:
    """What `role` is told happens next by others (the case page's and the API's notes),
    with the forms each note links to. The API hands over the case as it reads it (a plain
    Case), the case page as the stage machine's CaseFile: both must read the same."""
    user = getattr(world, role)
    told = []
    with tenant_scope(user), translation.override("ja"):
        with scopes_disabled():
            as_read = [Case.objects.get(pk=case.pk), CaseFile.objects.get(pk=case.pk)]
        for instance in as_read:
            notes = next_by_others(instance, user)
            prefix = f"/cases/{case.reference}/"
            told.append([(str(n), [a.href.removeprefix(prefix) for a in n.actions]) for n in notes])
    assert told[0] == told[1]
    return told[0]


def _to_settlement(world, case, c, d):
    _to_visit(world, case, c, d)
    with tenant_scope(world.staff):
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=c,
            visited_on=date(2023, 3, 10),
            place="C氏宅",
            purpose=Purpose.HAND_OVER,
            handed_over=10000,
            hand_over_side=Side.CONTRACTOR,
            hand_over_method=Method.CASH,
        )
        remedies.letter_record(case=case, by=world.staff, party=d, sent_on=date(2023, 3, 11))
    _move(world, case, "settle")


def test_in_inquiry_the_contractor_and_the_auditor_are_told_the_city_takes_the_next_step(
    world, story
):
    case, _, _ = story
    city_step = ("次の段階へは市の担当者が進めます（「関係機関照会へ進む」）。", [])
    # Withdrawing is the manager's decision, never announced as the next step.
    assert _told(world, case, "contractor") == [city_step]
    assert _told(world, case, "auditor") == [city_step]
    assert _told(world, case, "staff") == []  # staff take it themselves
    assert _told(world, case, "manager") == []


def test_at_the_visits_the_contractor_is_told_its_own_part_first(world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    city_step = ("次の段階へは市の担当者が進めます（「精算へ進む」）。", [])
    assert _told(world, case, "contractor") == [
        (_YOUR_PART, ["visits/new/"]),
        (_CLOSE_FROM_VISIT, []),
        city_step,
    ]
    # The auditor records no visit; staff go to settlement themselves, a manager closes.
    assert _told(world, case, "auditor") == [(_CLOSE_FROM_VISIT, []), city_step]
    assert _told(world, case, "staff") == [(_CLOSE_FROM_VISIT, [])]
    assert _told(world, case, "manager") == []


def test_in_settlement_staff_are_told_what_still_stands_in_the_managers_way(world, answered):
    case, c, d = answered
    _to_settlement(world, case, c, d)
    with scopes_disabled():
        link = Misregistration.objects.get(case=case).pk
    assert _told(world, case, "staff") == [
        (_CLOSE_FROM_SETTLEMENT, []),
        ("C氏への未払残高が5,000円あります。", ["ledger/payment/new/", "ledger/write_off/new/"]),
        (
            "D氏に過大付与分15,000円が残っています。",
            ["ledger/collection/new/", "ledger/write_off/new/"],
        ),
        (
            "誤登録（D氏→C氏・キャッシュレス決済）が修正されていません。「誤登録の状況」の"
            "「修正を記録」で修正日を記録するか、課長・係長が修正できない理由を記録してください。",
            [f"links/{link}/correct/", f"links/{link}/excuse/"],
        ),
    ]
    # The contractor cannot supply the payments or corrections: told its part and who closes.
    assert _told(world, case, "contractor") == [
        (_YOUR_PART, ["visits/new/"]),
        (_CLOSE_FROM_SETTLEMENT, []),
    ]
    assert _told(world, case, "auditor") == [(_CLOSE_FROM_SETTLEMENT, [])]
    assert _told(world, case, "manager") == []


def _remedies_offered(client, user, case) -> set[str]:
    """The forms the stage panel links from its reasons (what stands in the way, what
    others do next), as the user's case page shows them."""
    client.force_login(user)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    reasons = "".join(re.findall(r'<ul class="reasons">(.*?)</ul>', page, re.S))
    prefix = f"/cases/{case.reference}/"
    return {
        href.removeprefix(prefix) for href in re.findall(r'class="remedy" href="([^"]+)"', reasons)
    }


def test_the_case_page_links_staff_to_their_forms_and_keeps_the_managers_forms_from_them(
    client, world, answered
):
    case, c, d = answered
    _to_settlement(world, case, c, d)
    with scopes_disabled():
        link = Misregistration.objects.get(case=case).pk
    staff_forms = {"ledger/payment/new/", "ledger/collection/new/", f"links/{link}/correct/"}
    managers_forms = {"ledger/write_off/new/", f"links/{link}/excuse/"}
    assert _remedies_offered(client, world.staff, case) == staff_forms
    assert _remedies_offered(client, world.manager, case) == staff_forms | managers_forms
    # The contractor's part: its own form, nothing of the city's.
    assert _remedies_offered(client, world.contractor, case) == {"visits/new/"}
