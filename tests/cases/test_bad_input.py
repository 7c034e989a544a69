"""Whatever a user types, the answer is a page with a message — never a 500, never a write."""

import pytest
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Case, Party, TimelineEvent

pytestmark = pytest.mark.django_db

junk = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "2023-02-30",
            "9999-12-31",
            "0000-00-00",
            "-1",
            "１２３",
            "2023/02/07",
            "令和5年2月7日",
            "\x00",
            "' OR 1=1 --",
            "<script>",
        ]
    ),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)
FIELDS = [
    "kind",
    "office",
    "contractor",
    "occurred_on",
    "discovered_on",
    "discovery",
    "summary",
    "cause_category",
    "cause_text",
    "prevention",
    "assignee",
]
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@HYPOTHESIS
@given(data=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, junk)))
def test_case_form_never_fails_on_junk(world, data):
    with scopes_disabled():
        before = Case.objects.count()
    response = _client(world.staff).post("/cases/new/", data)
    assert response.status_code in (200, 302)
    with scopes_disabled():
        created = Case.objects.count() - before
    assert created == (1 if response.status_code == 302 else 0)


@HYPOTHESIS
@given(
    data=st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            [
                "label",
                "identified",
                "name",
                "name_kana",
                "phone",
                "address",
                "identification_note",
                "identified_on",
            ],
            junk,
        ),
    )
)
def test_party_form_never_fails_on_junk(world, case, data):
    with scopes_disabled():
        before = Party.objects.count()
    response = _client(world.staff).post(f"/cases/{case.reference}/parties/new/", data)
    assert response.status_code in (200, 302)
    with scopes_disabled():
        assert Party.objects.count() - before == (1 if response.status_code == 302 else 0)


@HYPOTHESIS
@given(
    data=st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            [
                "source",
                "target",
                "data_kind",
                "registered_on",
                "corrected_on",
                "paid_through",
                "note",
            ],
            junk,
        ),
    )
)
def test_link_form_never_fails_on_junk(world, case, data):
    response = _client(world.staff).post(f"/cases/{case.reference}/links/new/", data)
    assert response.status_code == 200  # no two parties exist, so nothing can be linked


@HYPOTHESIS
@given(
    data=st.fixed_dictionaries({}, optional=dict.fromkeys(["occurred_on", "actor", "text"], junk))
)
def test_timeline_form_never_fails_on_junk(world, case, data):
    with scopes_disabled():
        before = TimelineEvent.objects.count()
    response = _client(world.staff).post(f"/cases/{case.reference}/timeline/new/", data)
    assert response.status_code in (200, 302)
    with scopes_disabled():
        assert TimelineEvent.objects.count() - before == (1 if response.status_code == 302 else 0)
