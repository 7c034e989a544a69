"""Whatever is typed into a remedy form, the answer is a page — never a 500 — and a refused
form writes nothing."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remedies.models import AgencyContact, LedgerEntry, Visit

pytestmark = pytest.mark.django_db

junk = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "5,000円",
            "１５，０００",
            "10000001",
            "2023-02-30",
            "9999-12-31",
            "2023-03-07",
            "on",
            "contractor",
            "cash",
            "hand_over",
            "\x00",
            "1e9",
            "NaN",
        ]
    ),
    st.integers(min_value=-(10**9), max_value=10**9).map(str),
)
HYPOTHESIS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _fields(*names):
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, junk))


def _post(user, url, data):
    client = Client()
    client.force_login(user)
    return client.post(url, data)


def _counts():
    with scopes_disabled():
        return (LedgerEntry.objects.count(), Visit.objects.count(), AgencyContact.objects.count())


@HYPOTHESIS
@given(data=_fields("owed", "holder", "amount", "on", "note", "expected_head"))
def test_misallocation_form_never_fails(world, story, data):
    case, _, _ = story
    before = _counts()
    response = _post(world.staff, f"/cases/{case.reference}/ledger/misallocation/new/", data)
    assert response.status_code in (200, 302, 409)
    if response.status_code != 302:
        assert _counts() == before


@HYPOTHESIS
@given(
    data=_fields(
        "party",
        "visited_on",
        "place",
        "purpose",
        "apologised",
        "handed_over",
        "hand_over_side",
        "hand_over_method",
        "collected",
        "collected_by",
        "collection_method",
        "expected_head",
    )
)
def test_visit_form_never_fails(world, story, data):
    case, _, _ = story
    before = _counts()
    response = _post(world.contractor, f"/cases/{case.reference}/visits/new/", data)
    assert response.status_code in (200, 302, 409)
    if response.status_code != 302:
        assert _counts() == before


@HYPOTHESIS
@given(
    data=_fields(
        "agencies", "made_by", "contacted_on", "channel", "request", "answered_on", "answer"
    )
)
def test_contact_form_never_fails(world, story, data):
    case, _, _ = story
    before = _counts()
    response = _post(world.staff, f"/cases/{case.reference}/contacts/new/", data)
    assert response.status_code in (200, 302)
    if response.status_code != 302:
        assert _counts() == before


@HYPOTHESIS
@given(
    step=st.sampled_from(
        ["refer", "negotiate", "plan_visits", "agree", "settle", "close", "withdraw", "reopen"]
    ),
    data=_fields("expected_stage", "on", "note"),
)
def test_stage_buttons_never_fail(world, story, step, data):
    case, _, _ = story
    response = _post(world.manager, f"/cases/{case.reference}/stage/{step}/", data)
    assert response.status_code in (302, 409)
