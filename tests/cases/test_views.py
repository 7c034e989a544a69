import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from cases.deadlines import refresh_waits
from cases.models import Case, Misregistration, Party, User
from remedies.models import AgencyContact, Channel, Side

from ..factories import CaseFactory, PartyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


# Pages of a case, and who may open them. A foreign case is a 404 (never confirm it exists);
# a visible case the role may not change is a 403.
CASE_PAGES = [
    "cases:detail",
    "cases:edit",
    "cases:party_new",
    "cases:link_new",
    "cases:timeline_new",
]
ROLE_ANSWERS = {
    "staff": {"cases:detail": 200, "default": 200},
    "manager": {"cases:detail": 200, "default": 200},
    "auditor": {"cases:detail": 200, "default": 403},
    "contractor": {"cases:detail": 200, "default": 403},
    "other_contractor": {"cases:detail": 404, "default": 404},
    "staff_other_city": {"cases:detail": 404, "default": 404},
}


@pytest.mark.parametrize("role", ROLE_ANSWERS)
@pytest.mark.parametrize("page", CASE_PAGES)
def test_case_pages_answer_each_role(client, world, case, role, page):
    _login(client, getattr(world, role))
    answers = ROLE_ANSWERS[role]
    response = client.get(reverse(page, kwargs={"ref": case.reference}))
    assert response.status_code == answers.get(page, answers["default"])


def test_party_edit_page_by_role(client, world, case):
    party = PartyFactory(case=case)
    url = reverse("cases:party_edit", kwargs={"ref": case.reference, "party_id": party.pk})
    for role, status in [
        ("staff", 200),
        ("auditor", 403),
        ("contractor", 403),
        ("other_contractor", 404),
        ("staff_other_city", 404),
    ]:
        _login(client, getattr(world, role))
        assert client.get(url).status_code == status, role


def test_a_party_of_another_case_is_not_found_through_this_case(client, world, case):
    other = PartyFactory(case=CaseFactory(office=world.office, created_by=world.staff))
    _login(client, world.staff)
    url = reverse("cases:party_edit", kwargs={"ref": case.reference, "party_id": other.pk})
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "url", ["/cases/", "/cases/new/", "/cases/T-1/", "/cases/T-1/edit/", "/cases/T-1/links/new/"]
)
def test_anonymous_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_user_of_no_organisation_is_refused(client, world):
    _login(client, UserFactory())
    response = client.get("/cases/")
    assert response.status_code == 403
    assert "所属が設定されていないため、利用できません。" in response.content.decode()


def test_new_case_page_by_role(client, world):
    for role, status in [("staff", 200), ("manager", 200), ("contractor", 200), ("auditor", 403)]:
        _login(client, getattr(world, role))
        assert client.get("/cases/new/").status_code == status, role


def test_lists_show_only_cases_the_user_may_see(client, world, case):
    other_company = CaseFactory(
        office=world.office2, contractor=world.other_co, created_by=world.staff
    )
    other_city = CaseFactory(office=world.other_city_office, created_by=world.staff_other_city)
    expectations = {
        "staff": {case, other_company},
        "auditor": {case, other_company},
        "contractor": {case},
        "other_contractor": {other_company},
        "staff_other_city": {other_city},
    }
    all_refs = {case.reference, other_company.reference, other_city.reference}
    for role, visible in expectations.items():
        body = _login(client, getattr(world, role)).get("/cases/").content.decode()
        shown = {ref for ref in all_refs if f">{ref}<" in body}
        assert shown == {c.reference for c in visible}, role


def test_case_list_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    _login(client, world.staff)
    for count in (3, 30):
        for case in CaseFactory.create_batch(
            count,
            office=world.office,
            contractor=world.contractor_co,
            assignee=world.staff,
            created_by=world.staff,
        ):
            # Each waiting on an agency: their clocks are read in one query, not one per row.
            AgencyContact.objects.create(
                case=case,
                municipality=world.city,
                made_by=Side.MUNICIPALITY,
                contacted_on=case.discovered_on,
                channel=Channel.PHONE,
                request="照会",
                created_by=world.staff,
            )
            refresh_waits([case.pk])  # what the services keep, written around them here
        cache.clear()  # factory rows bypass the audited services that move the page version
        # Three of them read the municipality's deadlines, closed days and the cases that
        # waited on an agency (cases/deadlines.py), one the version, one the people of the
        # page's cases (cases/selectors.py, mark_people).
        with django_assert_max_num_queries(13):
            assert client.get("/cases/").status_code == 200
        # Served again with nothing changed: the rendered body comes from the cache.
        with django_assert_max_num_queries(5):
            assert client.get("/cases/").status_code == 200


def test_case_page_query_count_does_not_grow(client, world, case):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _login(client, world.staff)
    counts = []
    served = []
    for count in (2, 20):
        PartyFactory.create_batch(count, case=case)
        cache.clear()  # factory rows bypass the audited services that move the page version
        for tally in (counts, served):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/cases/{case.reference}/").status_code == 200
            tally.append(len(queries))
    assert counts[0] == counts[1] <= 32, counts
    assert served[0] == served[1] <= 6, served


def _case_form(world, **overrides):
    data = {
        "kind": "cashless",
        "office": world.office.pk,
        "contractor": world.contractor_co.pk,
        "occurred_on": "",
        "discovered_on": "2023-02-07",
        "discovery": "C氏のマイナポイントに別人の決済が登録されていた。",
        "summary": "キャッシュレス決済の誤登録",
        "cause_category": "logout_omitted",
        "cause_text": "ログアウトせずに次の方の手続きを開始した。",
        "prevention": "",
        "assignee": world.staff.pk,
    }
    return data | overrides


def test_staff_open_a_case_and_read_it_in_japanese(client, world):
    _login(client, world.staff)
    response = client.post("/cases/new/", _case_form(world), follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    with scopes_disabled():
        case = Case.objects.get()
    assert response.redirect_chain[-1][0] == f"/cases/{case.reference}/"
    assert "キャッシュレス決済の誤登録" in body
    assert "調査" in body  # the stage
    assert "令和5年2月7日" in body  # discovered on, in wareki
    assert "ログアウト漏れ" in body
    assert "経過" in body and "北九州市で案件を登録。" in body


def test_contractor_reports_an_error_and_city_staff_see_it(client, world):
    _login(client, world.contractor)
    form = _case_form(world)
    for key in ("contractor", "assignee", "prevention"):
        form.pop(key)
    response = client.post("/cases/new/", form)
    assert response.status_code == 302
    with scopes_disabled():
        case = Case.objects.get()
    assert case.reported_by_contractor and case.assignee is None
    body = _login(client, world.staff).get(f"/cases/{case.reference}/").content.decode()
    assert "委託事業者（株式会社エイジェック）から北九州市に報告。" in body
    assert "担当する" in body or "この案件を担当する" in body


def test_staff_take_a_reported_case(client, world, case):
    _login(client, world.staff)
    response = client.post(f"/cases/{case.reference}/take/")
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assignee == world.staff


def test_take_needs_post_and_an_editor(client, world, case):
    assert _login(client, world.staff).get(f"/cases/{case.reference}/take/").status_code == 405
    assert _login(client, world.auditor).post(f"/cases/{case.reference}/take/").status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"discovered_on": (timezone.localdate() + timedelta(days=3)).isoformat()},
            "discovered_on",
        ),
        ({"occurred_on": "2023-02-08"}, "occurred_on"),
        ({"discovered_on": "2023-02-30"}, "discovered_on"),
        ({"discovered_on": ""}, "discovered_on"),
        ({"kind": "nonsense"}, "kind"),
    ],
)
def test_bad_case_input_is_answered_next_to_the_field(client, world, overrides, field):
    _login(client, world.staff)
    response = client.post("/cases/new/", _case_form(world, **overrides))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="id_{field}_error"' in body
    # The control names its message (beside its hint, if any) and is marked invalid.
    control = re.search(rf'<(?:input|select|textarea)[^>]*id="id_{field}"[^>]*>', body).group(0)
    assert re.search(rf'aria-describedby="[^"]*\bid_{field}_error\b', control)
    assert 'aria-invalid="true"' in control
    assert f'href="#id_{field}"' in body  # and the summary links to it
    with scopes_disabled():
        assert not Case.objects.exists()


def test_an_office_of_another_municipality_is_refused(client, world):
    _login(client, world.staff)
    response = client.post("/cases/new/", _case_form(world, office=world.other_city_office.pk))
    assert response.status_code == 200
    assert 'id="id_office_error"' in response.content.decode()
    with scopes_disabled():
        assert not Case.objects.exists()


def test_add_parties_and_link_them_in_the_browser_flow(client, world, case):
    _login(client, world.staff)
    base = f"/cases/{case.reference}"
    r = client.post(
        f"{base}/parties/new/",
        {"label": "C氏", "identified": "on", "name": "佐藤 花子", "name_kana": "サトウ ハナコ"},
    )
    assert r.status_code == 302
    r = client.post(
        f"{base}/parties/new/",
        {"label": "D氏", "identified": "", "identification_note": "受付表から照会中"},
    )
    assert r.status_code == 302
    with scopes_disabled():
        c, d = Party.objects.get(label="C氏"), Party.objects.get(label="D氏")
    r = client.post(
        f"{base}/links/new/",
        {
            "source": d.pk,
            "target": c.pk,
            "data_kind": "cashless_account",
            "registered_on": "2022-12-01",
            "corrected_on": "",
            "paid_through": "on",
        },
    )
    assert r.status_code == 302
    body = client.get(f"{base}/").content.decode()
    assert "佐藤 花子" in body and "身元未判明" in body and "受付表から照会中" in body
    assert "D氏のキャッシュレス決済がC氏のマイナポイントに登録された。" in body


def test_a_party_linked_to_itself_is_refused_next_to_the_field(client, world, case):
    party = PartyFactory(case=case)
    PartyFactory(case=case)
    _login(client, world.staff)
    r = client.post(
        f"/cases/{case.reference}/links/new/",
        {
            "source": party.pk,
            "target": party.pk,
            "data_kind": "cashless_account",
        },
    )
    assert r.status_code == 200
    assert 'id="id_target_error"' in r.content.decode()
    with scopes_disabled():
        assert not Misregistration.objects.exists()


def test_an_identified_party_without_a_name_is_refused(client, world, case):
    _login(client, world.staff)
    r = client.post(f"/cases/{case.reference}/parties/new/", {"label": "A氏", "identified": "on"})
    assert r.status_code == 200
    assert 'id="id_name_error"' in r.content.decode()
    with scopes_disabled():
        assert not Party.objects.exists()


def test_identify_a_party_later(client, world, case):
    with scopes_disabled():
        party = PartyFactory(
            case=case,
            label="B氏",
            identified=False,
            name="",
            identification_note="身元をデジタル庁に照会中",
        )
    _login(client, world.staff)
    url = f"/cases/{case.reference}/parties/{party.pk}/edit/"
    r = client.post(
        url,
        {"label": "B氏", "identified": "on", "name": "鈴木 次郎", "identified_on": "2023-03-01"},
    )
    assert r.status_code == 302
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "鈴木 次郎" in body and "B氏の身元が判明。" in body


def test_add_a_timeline_entry(client, world, case):
    _login(client, world.staff)
    r = client.post(
        f"/cases/{case.reference}/timeline/new/",
        {
            "occurred_on": "2023-03-07",
            "actor": "北九州市",
            "text": "C氏、D氏に状況を連絡。",
        },
    )
    assert r.status_code == 302
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "令和5年3月7日" in body and "C氏、D氏に状況を連絡。" in body


def test_edit_case_records_the_cause_and_prevention(client, world, case):
    _login(client, world.staff)
    data = _case_form(world, prevention="一人の対応を終える度に必ずログアウトする。")
    r = client.post(f"/cases/{case.reference}/edit/", data)
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.prevention == "一人の対応を終える度に必ずログアウトする。"
    assert case.cause_category == "logout_omitted"


def test_japanese_is_the_default_and_english_is_remembered_per_user(client, world):
    _login(client, world.staff)
    body = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "案件" in body and 'lang="ja"' in body
    r = client.post("/language/", {"language": "en", "next": "/cases/"})
    assert r.status_code == 302 and r.url == "/cases/"
    assert User.objects.get(pk=world.staff.pk).language == "en"
    client.cookies.clear()
    _login(client, world.staff)
    body = client.get("/cases/").content.decode()
    assert 'lang="en"' in body and "Cases" in body


def test_language_switch_refuses_an_outside_redirect(client, world):
    _login(client, world.staff)
    r = client.post("/language/", {"language": "en", "next": "https://evil.example/"})
    assert r.url == "/"


def test_signed_in_user_and_organisation_are_on_every_page(client, world, case):
    world.contractor.last_name, world.contractor.first_name = "戸畑", "健"
    world.contractor.save()
    _login(client, world.contractor)
    for url in ("/cases/", f"/cases/{case.reference}/", "/cases/new/"):
        body = client.get(url).content.decode()
        assert "株式会社エイジェック" in body and "戸畑 健" in body, url
