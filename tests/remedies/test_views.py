from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from cases.scoping import tenant_scope
from remedies import ledger
from remedies.models import LedgerEntry, Visit
from remedies.workflow import CaseFile, case_transition

pytestmark = pytest.mark.django_db

PAGES = [
    "contacts/new/",
    "agreements/new/",
    "ledger/misallocation/new/",
    "ledger/payment/new/",
    "ledger/collection/new/",
    "ledger/regrant/new/",
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("staff", 200),
        ("manager", 200),
        ("auditor", 403),
        ("contractor", 403),
        ("other_contractor", 404),
        ("staff_other_city", 404),
    ],
)
def test_remedy_pages_answer_each_role(client, world, story, page, role, status):
    case, _, _ = story
    client.force_login(getattr(world, role))
    assert client.get(f"/cases/{case.reference}/{page}").status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("staff", 200),
        ("contractor", 200),
        ("auditor", 403),
        ("other_contractor", 404),
    ],
)
def test_visit_page_is_for_city_staff_and_the_desk_contractor(client, world, story, role, status):
    case, _, _ = story
    client.force_login(getattr(world, role))
    assert client.get(f"/cases/{case.reference}/visits/new/").status_code == status


def test_write_off_page_is_for_managers_only(client, world, story):
    case, _, _ = story
    for role, status in [("staff", 403), ("manager", 200)]:
        client.force_login(getattr(world, role))
        url = f"/cases/{case.reference}/ledger/write_off/new/"
        assert client.get(url).status_code == status, role


def test_unknown_ledger_kind_is_refused(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    assert client.get(f"/cases/{case.reference}/ledger/bonus/new/").status_code == 403


def _post_misallocation(client, case, c, d, **overrides):
    with scopes_disabled():
        head = ledger.ledger_head(case)
    data = {
        "owed": c.pk,
        "holder": d.pk,
        "amount": "１５，０００円",
        "on": "2023-03-07",
        "note": "",
        "expected_head": head,
    } | overrides
    return client.post(f"/cases/{case.reference}/ledger/misallocation/new/", data)


def test_staff_record_a_misallocation_typed_the_japanese_way(client, world, story):
    case, c, d = story
    client.force_login(world.staff)
    assert _post_misallocation(client, case, c, d).status_code == 302
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "15,000円" in body and "△15,000円" in body and "-15,000円" not in body


def test_a_stale_ledger_form_answers_409_and_posts_nothing(client, world, story):
    case, c, d = story
    client.force_login(world.staff)
    assert _post_misallocation(client, case, c, d).status_code == 302
    response = _post_misallocation(client, case, c, d, expected_head=0)
    assert response.status_code == 409
    assert "他の職員により更新されました" in response.content.decode()
    with scopes_disabled():
        assert LedgerEntry.objects.count() == 2


@pytest.mark.parametrize("amount", ["0", "-5", "10,000,001", "abc", "5.5", ""])
def test_bad_amounts_are_answered_next_to_the_field(client, world, story, amount):
    case, c, d = story
    client.force_login(world.staff)
    response = _post_misallocation(client, case, c, d, amount=amount)
    assert response.status_code == 200
    assert 'id="id_amount_error"' in response.content.decode()
    with scopes_disabled():
        assert not LedgerEntry.objects.exists()


def test_contractor_records_a_hand_over_visit(client, world, story):
    case, c, d = story
    client.force_login(world.staff)
    _post_misallocation(client, case, c, d)
    client.force_login(world.contractor)
    with scopes_disabled():
        head = ledger.ledger_head(case)
    response = client.post(
        f"/cases/{case.reference}/visits/new/",
        {
            "party": c.pk,
            "visited_on": "2023-03-10",
            "place": "C氏宅",
            "purpose": "hand_over",
            "apologised": "on",
            "contractor_attendees": "戸畑",
            "outcome": "",
            "handed_over": "15000",
            "hand_over_side": "contractor",
            "hand_over_method": "cash",
            "expected_head": head,
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        visit = Visit.objects.get()
        assert visit.ledger_entries.get().delta == -15000
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "C氏宅でC氏を訪問" in body


def test_stage_buttons_move_the_case_and_blocked_steps_say_why(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "関係機関照会へ進む" in body
    response = client.post(
        f"/cases/{case.reference}/stage/refer/",
        {"expected_stage": "inquiry", "on": "2023-02-08", "note": ""},
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert CaseFile.objects.get(pk=case.pk).stage == "agency_contact"
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "関係機関からの回答が記録されていません。" in body


def test_pressing_a_stage_button_twice_answers_409(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    data = {"expected_stage": "inquiry", "on": "", "note": ""}
    assert client.post(f"/cases/{case.reference}/stage/refer/", data).status_code == 302
    response = client.post(f"/cases/{case.reference}/stage/refer/", data)
    assert response.status_code == 409
    assert "再読み込み" in response.content.decode()


def test_stage_change_needs_post_and_a_known_step(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    assert client.get(f"/cases/{case.reference}/stage/refer/").status_code == 405
    assert (
        client.post(
            f"/cases/{case.reference}/stage/fly/", {"expected_stage": "inquiry"}
        ).status_code
        == 403
    )


def test_auditor_and_contractor_see_no_stage_buttons(client, world, story):
    case, _, _ = story
    for role in ("auditor", "contractor"):
        client.force_login(getattr(world, role))
        body = client.get(f"/cases/{case.reference}/").content.decode()
        assert "/stage/" not in body, role
        assert (
            client.post(
                f"/cases/{case.reference}/stage/refer/", {"expected_stage": "inquiry"}
            ).status_code
            == 403
        )


def test_a_closed_case_is_read_only_until_reopened(client, world, story):
    case, _, _ = story
    with tenant_scope(world.manager):
        case_transition(case=case, step="withdraw", by=world.manager, note="重複のため")
    client.force_login(world.staff)
    assert client.get(f"/cases/{case.reference}/edit/").status_code == 403
    assert client.get(f"/cases/{case.reference}/ledger/payment/new/").status_code == 403
    client.force_login(world.manager)
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "案件を再開する" in body and "/edit/" not in body


def test_case_page_queries_do_not_grow_with_remedy_rows(client, world, story):
    case, c, d = story
    client.force_login(world.staff)
    counts = []
    for amount in (100, 200):
        for _ in range(5 if amount == 200 else 1):
            _post_misallocation(client, case, c, d, amount=str(amount))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/cases/{case.reference}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 40, counts


def test_agency_contact_waiting_shows_how_long(client, world, story):
    case, _, _ = story
    from cases.models import Agency

    agency = Agency.objects.get_or_create(name="デジタル庁", kind="national")[0]
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/contacts/new/",
        {
            "agencies": [agency.pk],
            "made_by": "municipality",
            "contacted_on": "2023-02-08",
            "channel": "phone",
            "request": "B氏の情報提供を依頼。",
            "answered_on": "",
            "answer": "",
        },
    )
    assert response.status_code == 302
    body = client.get(f"/cases/{case.reference}/").content.decode()
    days = (date.today() - date(2023, 2, 8)).days
    assert f"{days}日" in body
