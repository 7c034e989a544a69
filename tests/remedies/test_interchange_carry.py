"""Moving a case loses nothing (issue 15), for the remedies added since format 2: repayment
plans (superseded ones kept), issued お詫び状 records with their document and delivery,
national corrections, and link corrections and excuses recorded later. The whole demo
round-trips through an empty database, and a file amends a case that took them."""

import copy
import json
import os
from datetime import date

import pytest
from django.core.management import call_command
from django.db import transaction
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from cases import links, services
from cases.models import (
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    CorrectionWay,
    DataKind,
    Municipality,
    Office,
)
from cases.scoping import tenant_scope
from remedies import ledger, plans
from remedies import services as remedies
from remedies.demo import INSTALMENT_OFFICE, _organisations, _users
from remedies.documents import services as documents
from remedies.interchange import InterchangeError, export_cases, import_cases
from remedies.models import ApologyLetter, Delivery, RepaymentPlan

from .test_import_fuzz import JUNK, _damaged, _paths
from .test_interchange_amend import state

pytestmark = pytest.mark.django_db


def lines(document: dict) -> list[str]:
    return json.dumps(document, ensure_ascii=False, indent=2).splitlines()


# ---- the whole demo ------------------------------------------------------------------------


def test_the_whole_demo_round_trips_through_an_empty_database(settings):
    """Everything `manage.py load_demo` builds (the reference cases, the national
    correction, the instalment case its demo step adds), exported with the personal data
    and PDFs, imported into a database without cases, exports as the same file."""
    settings.DEBUG = True
    with scopes_disabled():  # the reference data stays; the cases are rolled back
        _users(_organisations())
        Office.objects.get_or_create(
            municipality=Municipality.objects.get(code="401005"), name=INSTALMENT_OFFICE
        )
    with transaction.atomic(), scopes_disabled():
        call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        exported = export_cases(personal_data=True, pdfs=True)
        transaction.set_rollback(True)
    with scopes_disabled():
        assert not Case.objects.exists()
    cases = exported["cases"]
    # What the file must carry for nothing to be lost.
    assert any(i["kind"] == "national_correction" for c in cases for i in c["ledger"])
    [plan] = [p for c in cases for p in c["plans"]]
    assert [i["amount"] for i in plan["instalments"]] == [5000, 5000, 5000]
    assert any(
        d["kind"] == "repayment_request" and "pdf" in d for c in cases for d in c["documents"]
    )

    with scopes_disabled():
        imported = import_cases(exported)
        assert len(imported) == len(cases) == 5
        assert lines(export_cases(personal_data=True, pdfs=True)) == lines(exported)
        plan = RepaymentPlan.objects.get()
        assert plan.total == 15000 and plan.instalments.count() == 3
        # Its state is read from the ledger after the agreement: the first instalment paid.
        state_now = plans.party_plan_state(plan.party, date.today())
        assert state_now.returned == 5000 and state_now.instalments[0].status == plans.PAID


# ---- a case with a plan, an issued letter and links; then amended ----------------------------


def _first_part(world) -> Case:
    staff = world.staff
    world.city.document_symbol = "デ推"
    world.city.save()
    case = services.case_open(
        by=staff,
        office=world.office,
        kind=CaseKind.CASHLESS_LINK,
        contractor=world.contractor_co,
        discovered_on=date(2023, 2, 7),
        reported_on=date(2023, 2, 8),
        discovery="受付表から両名を把握。",
        cause_category=CauseCategory.LOGOUT_OMITTED,
    )
    c = services.party_add(case=case, by=staff, label="C氏", name="佐藤 花子")
    d = services.party_add(case=case, by=staff, label="D氏", name="鈴木 次郎")
    services.misregistration_add(
        case=case, by=staff, source=d, target=c, data_kind=DataKind.CASHLESS_ACCOUNT
    )
    services.misregistration_add(
        case=case, by=staff, source=c, target=d, data_kind=DataKind.BANK_ACCOUNT
    )
    ledger.ledger_post_misallocation(
        case=case, owed=c, holder=d, amount=6000, on=date(2023, 2, 13), by=staff
    )
    plans.plan_agree(
        case=case,
        party=d,
        agreed_on=date(2023, 2, 14),
        instalments=[(date(2023, 3, 31), 3000), (date(2023, 4, 30), 3000)],
        note="2回分割。",
        by=staff,
    )
    with tenant_scope(staff):
        letter = documents.document_issue(
            kind="apology", by=staff, case=case, party=c, dated=date(2023, 2, 14)
        )
        documents.document_reissue(document=letter, by=staff)  # the record moves with it
    ledger.ledger_post_collection(
        case=case, party=d, amount=2000, side="municipality", method="cash",
        on=date(2023, 2, 15), by=staff,
    )  # fmt: skip
    return case


def _second_part(world, case: Case) -> None:
    """After the file left: the plan renegotiated, the letter's delivery recorded (twice,
    a date corrected), one link corrected and the other excused by a manager."""
    staff, manager = world.staff, world.manager
    case = Case.objects.get(pk=case.pk)
    d = case.parties.get(label="D氏")
    plans.plan_agree(
        case=case,
        party=d,
        agreed_on=date(2023, 2, 20),
        instalments=[
            (date(2023, 3, 31), 1000),
            (date(2023, 4, 30), 1000),
            (date(2023, 5, 31), 2000),
        ],
        by=manager,
    )
    letter = ApologyLetter.objects.get(case=case)
    # The reissue is dated today, and a letter goes no earlier than the date it bears.
    remedies.letter_delivery_record(
        letter=letter, by=staff, sent_on=date.today(), delivery=Delivery.POST
    )
    remedies.letter_delivery_record(
        letter=letter, by=staff, sent_on=date.today(), delivery=Delivery.HAND
    )
    first, second = case.misregistrations.order_by("pk")
    links.link_correct(
        link=first, by=staff, corrected_on=date(2023, 2, 21), corrected_how=CorrectionWay.AGENCY
    )
    links.link_excuse(
        link=second, by=manager, reason="本人と連絡が取れない。", on=date(2023, 2, 22)
    )


def exports(world) -> tuple[dict, dict]:
    with transaction.atomic(), scopes_disabled():
        case = _first_part(world)
        first = export_cases(personal_data=True)
        _second_part(world, case)
        second = export_cases(personal_data=True)
        transaction.set_rollback(True)
    with scopes_disabled():
        assert not Case.objects.exists()
    return first, second


@pytest.fixture
def agency(world):
    return Agency.objects.get_or_create(name="デジタル庁", defaults={"kind": Agency.Kind.NATIONAL})[
        0
    ]


def test_plans_and_an_issued_letter_are_in_the_file(world, agency):
    first, second = exports(world)
    (case,) = second["cases"]
    old, new = case["plans"]
    assert (old["by"], old["party"], old["agreed_on"], old["superseded_on"]) == (
        "staff", "D氏", "2023-02-14", "2023-02-20",
    )  # fmt: skip
    assert old["instalments"] == [
        {"number": 1, "due_on": "2023-03-31", "amount": 3000},
        {"number": 2, "due_on": "2023-04-30", "amount": 3000},
    ]
    assert (new["by"], new["superseded_on"]) == ("manager", None)
    assert sum(i["amount"] for i in new["instalments"]) == 4000
    (letter,) = case["letters"]
    # Linked to the version it was issued as (its record moved to the reissue with it).
    issued = next(d for d in case["documents"] if d["seq"] == letter["document"])
    assert (issued["kind"], issued["version"]) == ("apology", 1)
    assert letter["seq"] == issued["seq"] + 1
    today = date.today().isoformat()
    assert (letter["sent_on"], letter["delivery"]) == (today, "hand")
    assert [(x["sent_on"], x["delivery"]) for x in letter["deliveries"]] == [
        (today, "post"),
        (today, "hand"),
    ]
    assert first["cases"][0]["letters"][0]["deliveries"] == []


def test_the_second_file_round_trips_with_the_same_records(world, agency):
    _, second = exports(world)
    with scopes_disabled():
        world.city.document_symbol = "デ推"
        world.city.save()
        (case,) = import_cases(second)
        assert lines(export_cases(personal_data=True)) == lines(second)
        letter = ApologyLetter.objects.get(case=case)
        assert letter.document.version == 2
        assert not hasattr(letter.document.supersedes, "apology_record")
        assert (letter.sent_on, letter.delivery) == (date.today(), Delivery.HAND)
        # One 経過 line for the letter, moved to the day it was handed over.
        line = case.timeline.get(action="letter.issued")
        assert line.occurred_on == date.today() and "手渡し" in line.text
        old, new = RepaymentPlan.objects.filter(case=case).order_by("pk")
        assert new.replaces == old and old.superseded_on == date(2023, 2, 20)
        assert [(i.number, i.amount) for i in new.instalments.all()] == [
            (1, 1000),
            (2, 1000),
            (3, 2000),
        ]
        corrected, excused = case.misregistrations.order_by("pk")
        assert corrected.corrected_how == CorrectionWay.AGENCY
        assert excused.excused_by == world.manager and excused.uncorrectable_reason


def test_a_file_amends_a_case_with_its_plans_letter_deliveries_and_links(world, agency):
    first, second = exports(world)
    with scopes_disabled():
        world.city.document_symbol = "デ推"
        world.city.save()
        import_cases(first)
        assert lines(export_cases(personal_data=True)) == lines(first)
        import_cases(second, amend=True)
        assert lines(export_cases(personal_data=True)) == lines(second)
        case = Case.objects.get()
        assert case.repayment_plans.count() == 2
    # Nothing newer the second time.
    before = state()
    with scopes_disabled():
        import_cases(second, amend=True)
    assert state() == before


def test_an_amendment_whose_plan_differs_names_the_plan(world, agency):
    first, second = exports(world)
    with scopes_disabled():
        import_cases(first)
    changed = copy.deepcopy(second)
    changed["cases"][0]["plans"][0]["instalments"][0]["due_on"] = "2023-03-30"
    before = state()
    with pytest.raises(InterchangeError) as caught:
        import_cases(changed, amend=True)
    assert 'plan 1, field "instalments"' in str(caught.value)
    assert "does not continue the case" in str(caught.value)
    assert state() == before


# ---- bad input in the new parts ----------------------------------------------------------


def _plan(document: dict) -> dict:
    return document["cases"][0]["plans"][0]


def _letter(document: dict) -> dict:
    return document["cases"][0]["letters"][0]


BAD = [
    (lambda f: _plan(f).update(instalments="3000"), "plan 1", "instalments", "must be a list"),
    (
        lambda f: _plan(f)["instalments"][1].update(amount=True),
        "plan 1",
        "instalments",
        'instalment 2, "amount": true is not a whole number',
    ),
    (
        lambda f: _plan(f)["instalments"][0].update(due_on="2023-02-30"),
        "plan 1",
        "instalments",
        'instalment 1, "due_on": "2023-02-30" is not a date',
    ),
    (
        lambda f: _plan(f)["instalments"][1].update(number=3),
        "plan 1",
        "instalments",
        'instalment 2, "number": 3 is not 2',
    ),
    (
        lambda f: _plan(f)["instalments"][1].update(amount=2999),
        "plan 1",
        "instalments",
        "分割納付の合計は5,999円",
    ),
    (
        lambda f: _plan(f)["instalments"][1].update(amount=0),
        "plan 1",
        "instalments",
        'instalment 2, "amount"',
    ),
    (
        lambda f: _plan(f)["instalments"][1].update(due_on="2023-03-01"),
        "plan 1",
        "instalments",
        'instalment 2, "due_on"',
    ),
    (lambda f: _plan(f).update(agreed_on=None), "plan 1", "agreed_on", "is not a date"),
    (lambda f: _plan(f).update(party="C氏"), "plan 1", "party", "C氏"),
    (lambda f: _plan(f).update(superseded_on="2023-03-01"), "", "superseded_on", "the file says"),
    (lambda f: _letter(f).update(document=9999), "letter 1", "document", "seq 9999 is no document"),
    (lambda f: _letter(f).update(document="1"), "letter 1", "document", "not a whole number"),
    (lambda f: _letter(f).update(party="D氏"), "letter 1", "party", "addressed to"),
    (
        lambda f: _letter(f)["deliveries"][0].update(delivery="fax"),
        "letter 1 delivery 1",
        "delivery",
        "",
    ),
    (
        lambda f: _letter(f)["deliveries"][0].update(sent_on=True),
        "letter 1 delivery 1",
        "sent_on",
        "is not a date",
    ),
    (
        lambda f: _letter(f).update(sent_on="2023-02-18"),
        "letter 1 delivery 2",
        "sent_on",
        "last delivery",
    ),
    (lambda f: _letter(f).update(deliveries={}), "letter 1", "deliveries", "must be a list"),
]


@pytest.mark.parametrize(("spoil", "item", "field", "reason"), BAD)
def test_bad_plans_and_letters_are_refused_naming_case_item_and_field(
    world, agency, spoil, item, field, reason
):
    _, second = exports(world)
    spoil(second)
    before = state()
    with pytest.raises(InterchangeError) as caught, scopes_disabled():
        import_cases(second)
    error = caught.value
    assert error.case == "case 1 (401005-2022-001)"
    assert (error.item, error.field) == (item or error.item, field)
    assert reason in error.reason
    assert state() == before


_SECOND: list[dict] = []  # the file, built once for all examples of the test below


@examples(
    max_examples=int(os.environ.get("TADASU_FUZZ_EXAMPLES_IMPORT", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_damaged_plan_or_letter_imports_whole_or_not_at_all(world, agency, data):
    if not _SECOND:
        _SECOND.append(exports(world)[1])
    (second,) = _SECOND
    paths = [p for p in _paths(second) if p[:3] in (("cases", 0, "plans"), ("cases", 0, "letters"))]
    _damaged(second, data.draw(st.sampled_from(paths)), data.draw(JUNK))
