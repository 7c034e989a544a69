"""Every blocked step names what is missing and links to the form that supplies it; each role
sees what happens next and who does it (remedies/workflow.py, remedies/stage_panel.html)."""

import html
import re
from datetime import date

import pytest
from django.utils import translation
from django_scopes import scopes_disabled

from cases import services
from cases.models import CaseKind
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.models import AgencyContact, Method, Purpose, Side
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db


def _move(world, case, step, by=None):
    by = by or world.staff
    with tenant_scope(by), translation.override("ja"):
        case_transition(case=case, step=step, by=by)


def _panel(client, user, case) -> str:
    """The stage panel as `user` sees it."""
    client.force_login(user)
    body = client.get(f"/cases/{case.reference}/").content.decode()
    start = body.index('id="stage"')
    return body[start : body.index("</section>", start)]


def _reason(panel: str, text: str) -> str:
    """The <li> of the reason that contains `text`."""
    for item in re.findall(r"<li>(.*?)</li>", panel, re.S):
        if text in html.unescape(item):
            return item
    raise AssertionError(f"{text!r} not in the panel:\n{panel}")


def _links(item: str) -> dict[str, str]:
    return {
        html.unescape(label): html.unescape(href)
        for href, label in re.findall(r'<a class="remedy" href="([^"]+)">([^<]+)</a>', item)
    }


def _opens(client, href: str, *, contains: str = "") -> None:
    """The link's page answers for the same user; its #anchor is on that page."""
    path, _, anchor = href.partition("#")
    response = client.get(path)
    assert response.status_code == 200, href
    if anchor:
        assert f'id="{anchor}"' in response.content.decode(), href
    if contains:
        assert contains in response.content.decode()


def test_refer_names_the_link_and_the_cause_with_their_forms(client, world):
    with tenant_scope(world.staff):
        case = services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
        )
    panel = _panel(client, world.staff, case)
    link = _links(_reason(panel, "誤登録が記録されていません。誰の情報が誰の記録に"))
    assert link == {"誤登録の記録": f"/cases/{case.reference}/links/new/"}
    cause = _links(_reason(panel, "原因が記録されていません。"))
    assert cause == {"案件情報の編集": f"/cases/{case.reference}/edit/#id_cause_category"}
    for href in (*link.values(), *cause.values()):
        _opens(client, href)


def test_an_agency_answer_links_to_the_contact_form_then_to_its_answer(client, world, story):
    case, _, _ = story
    _move(world, case, "refer")
    panel = _panel(client, world.staff, case)
    links = _links(_reason(panel, "関係機関からの回答が記録されていません。"))
    assert links == {"関係機関照会の記録": f"/cases/{case.reference}/contacts/new/"}
    _opens(client, links["関係機関照会の記録"])
    from cases.models import Agency

    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=date(2023, 2, 8),
            channel="phone",
            request="照会。",
        )
    with scopes_disabled():
        contact = AgencyContact.objects.get(case=case)
    links = _links(_reason(_panel(client, world.staff, case), "回答を記録してください"))
    assert links == {"回答の記録": f"/cases/{case.reference}/contacts/{contact.pk}/answer/"}
    _opens(client, links["回答の記録"])


def test_negotiation_asks_for_the_misallocation_in_plain_words(client, world, answered):
    case, _, _ = answered
    _move(world, case, "refer")
    panel = _panel(client, world.staff, case)
    item = _reason(panel, "誤って配分された金額（誤配分）を記録してください。")
    assert "残高がある対象者がいません" not in panel
    links = _links(item)
    assert links == {
        "誤配分（誤って配分された金額）の記録": f"/cases/{case.reference}/ledger/misallocation/new/"
    }
    _opens(client, links["誤配分（誤って配分された金額）の記録"])


def _to_negotiation(world, case, c, d):
    _move(world, case, "refer")
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
    _move(world, case, "negotiate")


def _to_visit(world, case, c, d):
    _to_negotiation(world, case, c, d)
    with tenant_scope(world.staff):
        remedies.agreement_add(
            case=case,
            by=world.staff,
            payer=Side.CONTRACTOR,
            amount=5000,
            form=Method.CASH,
            agreed_on=date(2023, 3, 7),
        )
    _move(world, case, "agree")


def test_agreement_links_to_its_form(client, world, answered):
    case, c, d = answered
    _to_negotiation(world, case, c, d)
    links = _links(_reason(_panel(client, world.staff, case), "補償の合意が記録されていません。"))
    assert links == {"補償の合意の記録": f"/cases/{case.reference}/agreements/new/"}
    _opens(client, links["補償の合意の記録"])


def test_settle_links_each_person_to_a_visit_and_to_their_letter(client, world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    panel = _panel(client, world.staff, case)
    for party in (c, d):
        links = _links(_reason(panel, f"{party.label}への訪問またはお詫び状の記録がありません。"))
        letter = f"/cases/{case.reference}/documents/new/?kind=apology&party={party.pk}"
        assert links == {
            "訪問の記録": f"/cases/{case.reference}/visits/new/",
            "お詫び状の発行": letter,
        }
        _opens(client, links["訪問の記録"])
        # The document form opens on the apology letter, for that person.
        _opens(client, letter, contains=f'<option value="{party.pk}" selected>')


def _to_settlement(world, case, c, d):
    _to_visit(world, case, c, d)
    with tenant_scope(world.staff):
        for party in (c, d):
            remedies.visit_record(
                case=case,
                by=world.staff,
                party=party,
                visited_on=date(2023, 3, 10),
                place="区役所",
                purpose=Purpose.APOLOGY,
                apologised=party == c,
            )
    _move(world, case, "settle")


def test_at_settlement_staff_are_told_a_manager_closes_and_what_is_still_open(
    client, world, answered
):
    case, c, d = answered
    _to_settlement(world, case, c, d)
    panel = _panel(client, world.staff, case)
    assert "精算が済んだら、管理職が案件を完了にします。" in panel
    assert "/stage/close/" not in panel
    # What still stands in the way, with the staff's own forms (not the manager's).
    base = f"/cases/{case.reference}"
    owed = _links(_reason(panel, "C氏への未払残高が5,000円あります。"))
    assert owed == {"支払の記録": f"{base}/ledger/payment/new/"}
    _opens(client, owed["支払の記録"])
    assert "/excuse/" not in panel and "/write_off/" not in panel


def test_the_manager_sees_what_blocks_closing_with_each_form(client, world, answered):
    case, c, d = answered
    _to_settlement(world, case, c, d)
    panel = _panel(client, world.manager, case)
    base = f"/cases/{case.reference}"
    owed = _links(_reason(panel, "C氏への未払残高が5,000円あります。"))
    assert owed == {
        "支払の記録": f"{base}/ledger/payment/new/",
        "残高の償却（管理職）": f"{base}/ledger/write_off/new/",
    }
    excess = _links(_reason(panel, "D氏に過大付与分5,000円が残っています。"))
    assert excess == {
        "徴収の記録": f"{base}/ledger/collection/new/",
        "残高の償却（管理職）": f"{base}/ledger/write_off/new/",
    }
    apology = _links(_reason(panel, "D氏への謝罪記録がありません。"))
    assert set(apology) == {"訪問の記録", "お詫び状の発行"}
    with scopes_disabled():
        link = case.misregistrations.get()
    correction = _links(_reason(panel, "が修正されていません。"))
    assert correction == {
        "修正を記録": f"{base}/links/{link.pk}/correct/",
        "修正できない理由を記録": f"{base}/links/{link.pk}/excuse/",
    }
    for href in (*owed.values(), *excess.values(), *apology.values(), *correction.values()):
        _opens(client, href)
    # The manager has the close step itself, not a note that a manager closes.
    assert "管理職が案件を完了にします" not in panel


def test_staff_see_the_blockers_of_closing_without_the_managers_actions(client, world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    panel = _panel(client, world.staff, case)
    # In 訪問・謝罪 staff may settle; closing is the manager's, and staff are told so.
    assert "管理職が案件を完了にします。" in panel
    assert "/excuse/" not in panel and "/write_off/" not in panel


def test_missing_prevention_links_to_its_field(client, world):
    with tenant_scope(world.staff):
        case = services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
        )
    from remedies.workflow import STEPS, CaseFile

    with scopes_disabled():
        reasons = STEPS["close"].blockers(CaseFile.objects.get(pk=case.pk))
    with translation.override("ja"):
        prevention = [r for r in reasons if "再発防止策" in r]
    assert prevention and prevention[0].actions[0].href.endswith("/edit/#id_prevention")
    client.force_login(world.staff)
    _opens(client, prevention[0].actions[0].href)


def test_the_contractor_sees_their_part_and_who_takes_the_next_step(client, world, answered):
    case, c, d = answered
    _to_visit(world, case, c, d)
    panel = _panel(client, world.contractor, case)
    item = _reason(panel, "委託事業者の方へ：訪問のたびに記録してください")
    assert _links(item) == {"訪問の記録": f"/cases/{case.reference}/visits/new/"}
    _opens(client, f"/cases/{case.reference}/visits/new/")
    assert "次の段階へは市の担当者が進めます（「精算へ進む」）。" in panel
    assert "/stage/" not in panel


def test_the_auditor_is_told_who_acts_and_gets_no_form(client, world, story):
    case, _, _ = story
    panel = _panel(client, world.auditor, case)
    assert "次の段階へは市の担当者が進めます" in panel
    assert 'class="remedy"' not in panel
