"""Writes through the API meet the pages' rules in the pages' words; a stale write is a 409."""

from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.models import TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger
from remedies.models import Visit

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def parties(world, case):
    with tenant_scope(world.staff):
        c = services.party_add(case=case, by=world.staff, label="C氏", name="北 花子")
        d = services.party_add(case=case, by=world.staff, label="D氏", name="南 次郎")
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 8), by=world.staff
        )
    return c, d


def _visit(party) -> dict:
    return {
        "party": party.pk,
        "visited_on": "2023-03-10",
        "place": "C氏宅",
        "purpose": "hand_over",
        "handed_over": 5000,
        "hand_over_method": "cash",
    }


def _url(case) -> str:
    return f"/api/v1/cases/{case.reference}/visits/"


def test_a_visit_without_if_match_is_428_and_writes_nothing(world, case, parties):
    answer = ApiClient(token_for(world.contractor)).post(_url(case), _visit(parties[0]))
    assert answer.status_code == 428
    assert answer.json()["type"].endswith("/precondition-required")
    with scopes_disabled():
        assert not Visit.objects.exists()


def test_a_visit_on_a_stale_ledger_is_409_and_writes_nothing(world, case, parties):
    api = ApiClient(token_for(world.contractor))
    etag = api.get(f"/api/v1/cases/{case.reference}/")["ETag"]
    with tenant_scope(world.staff):  # someone else moves money meanwhile
        ledger.ledger_post_payment(
            case=case,
            party=parties[0],
            amount=100,
            side="contractor",
            method="cash",
            on=date(2023, 3, 1),
            by=world.staff,
        )
    answer = api.post(_url(case), _visit(parties[0]), headers={"If-Match": etag})
    assert answer.status_code == 409
    assert answer["Content-Type"] == "application/problem+json"
    with scopes_disabled():
        assert not Visit.objects.exists()
    fresh = api.get(f"/api/v1/cases/{case.reference}/")["ETag"]
    retry = {**_visit(parties[0]), "handed_over": 4900}  # what C is still owed
    answer = api.post(_url(case), retry, headers={"If-Match": fresh})
    assert answer.status_code == 201, answer.json()


@pytest.mark.parametrize("if_match", ['"abc"', "*", '"99999999999999999999"', "W/"])
def test_an_if_match_that_is_no_etag_is_a_field_message(world, case, parties, if_match):
    api = ApiClient(token_for(world.contractor))
    answer = api.post(_url(case), _visit(parties[0]), headers={"If-Match": if_match})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "If-Match"


def test_bad_visit_input_gets_the_visit_forms_messages_by_field(world, case, parties):
    api = ApiClient(token_for(world.contractor))
    etag = api.get(f"/api/v1/cases/{case.reference}/")["ETag"]
    body = {**_visit(parties[0]), "visited_on": "2999-01-01", "handed_over": 0}
    answer = api.post(_url(case), body, headers={"If-Match": etag})
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"handed_over"} <= fields
    # A party of another case is refused as the form refuses it: by the field.
    other = {**_visit(parties[0]), "party": 10**6}
    answer = api.post(_url(case), other, headers={"If-Match": etag})
    assert [e["field"] for e in answer.json()["errors"]] == ["party"]


@pytest.mark.parametrize(
    "body", [[], "text", 42, None, {"party": [1]}, {"visited_on": {"a": 1}}, {"handed_over": "1e9"}]
)
def test_json_of_the_wrong_shape_is_a_400_never_a_500(world, case, parties, body):
    api = ApiClient(token_for(world.contractor))
    etag = api.get(f"/api/v1/cases/{case.reference}/")["ETag"]
    answer = api.generic(
        "POST",
        _url(case),
        __import__("json").dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}", "If-Match": etag},
    )
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"


def test_a_timeline_entry_by_the_api_is_one_by_hand(world, case):
    api = ApiClient(token_for(world.staff))
    body = {"occurred_on": "2023-02-08", "actor": "北九州市", "text": "電話で確認した。"}
    answer = api.post(f"/api/v1/cases/{case.reference}/timeline/", body)
    assert answer.status_code == 201
    with scopes_disabled():
        event = TimelineEvent.objects.get(pk=answer.json()["id"])
    assert (event.actor, event.text, event.action, event.public) == (
        "北九州市",
        "電話で確認した。",
        "",
        answer.json()["public"],
    )
    listed = api.get(f"/api/v1/cases/{case.reference}/timeline/").json()
    assert listed[-1]["text"] == "電話で確認した。"


def test_the_case_list_takes_the_case_lists_filters_but_no_names(world, case):
    api = ApiClient(token_for(world.staff))
    assert api.get("/api/v1/cases/", {"stage": "inquiry"}).json()["count"] == 1
    assert api.get("/api/v1/cases/", {"stage": "closed"}).json()["count"] == 0
    bad = api.get("/api/v1/cases/", {"discovered_from": "いつか"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "discovered_from"
    # The name search stays on the pages (names never travel in a URL): q is ignored.
    assert api.get("/api/v1/cases/", {"q": "該当なし"}).json()["count"] == 1


def test_the_case_list_costs_the_same_queries_for_one_case_or_many(
    world, django_assert_max_num_queries
):
    from tests.factories import CaseFactory

    with scopes_disabled():
        CaseFactory.create_batch(20, office=world.office, contractor=world.contractor_co)
    api = ApiClient(token_for(world.staff))
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/cases/").json()["results"]) == 20


def test_a_write_that_gave_up_waiting_for_a_lock_is_a_busy_problem_and_saves_nothing(
    world, case, monkeypatch
):
    from django.db import OperationalError

    from cases import services

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "timeline_add", locked)
    api = ApiClient(token_for(world.staff))
    body = {"occurred_on": "2023-02-08", "actor": "北九州市", "text": "電話で確認した。"}
    answer = api.post(f"/api/v1/cases/{case.reference}/timeline/", body)
    assert answer.status_code == 503
    assert answer["Content-Type"] == "application/problem+json"
    assert answer["Retry-After"] == "30"
    problem = answer.json()
    assert problem["type"] == "/api/problems/busy"
    assert "保存されていません" in problem["detail"]
    with scopes_disabled():
        assert not TimelineEvent.objects.filter(case=case, text="電話で確認した。").exists()


def test_the_name_search_is_posted_and_finds_only_the_users_own_cases(world, case):
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
    staff = ApiClient(token_for(world.staff))
    found = staff.post("/api/v1/cases/search/", {"q": "佐藤"})
    assert found.status_code == 200
    assert [row["reference"] for row in found.json()["results"]] == [case.reference]
    assert staff.post("/api/v1/cases/search/", {"q": "鈴木"}).json()["count"] == 0
    # the reference too, and the list's other filters alongside
    assert staff.post("/api/v1/cases/search/", {"q": case.reference}).json()["count"] == 1
    assert staff.post("/api/v1/cases/search/", {"q": "佐藤", "stage": "closed"}).json() == {
        **staff.post("/api/v1/cases/search/", {"q": "鈴木"}).json()
    }
    # another city's staff find nothing of it
    other = ApiClient(token_for(world.staff_other_city))
    assert other.post("/api/v1/cases/search/", {"q": "佐藤"}).json()["count"] == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "q"),
        ({"q": "   "}, "q"),
        ({"q": ["佐藤"]}, "q"),
        ({"q": "佐" * 101}, "q"),
        ({"q": "佐藤", "discovered_from": "いつか"}, "discovered_from"),
        ({"q": "佐藤", "stage": {"a": 1}}, "stage"),
    ],
)
def test_a_search_without_words_or_with_a_wrong_filter_names_the_field(world, case, body, field):
    answer = ApiClient(token_for(world.staff)).post("/api/v1/cases/search/", body)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == field
