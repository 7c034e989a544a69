"""Who may change a case, checked with the tenant scope lifted (issue 20).

Web requests are already narrowed by the tenant scope (scoping.py), so another city's case
is simply not found. Management commands and imports run under `scopes_disabled()`, where
the membership checks of permissions.py are the only guard: these tests call the services
the way those do, and ask the rules directly for what the case page would offer."""

from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django_scopes import scope, scopes_disabled

from cases import permissions, services
from cases.models import Case, CaseKind, Party, Role, Stage
from cases.scoping import membership_of, scope_for, tenant_scope
from remedies import ledger
from remedies.errors import RemedyError
from remedies.workflow import case_transition
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db

ON = date(2023, 3, 7)


@pytest.fixture
def manager_other_city(world):
    return member(Role.MANAGER, municipality=world.other_city, username="manager-other")


def _m(user):
    return membership_of(user)


def _fresh(case):
    with scopes_disabled():
        return Case.objects.get(pk=case.pk)


def _set_stage(case, stage):
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(stage=stage)
    return _fresh(case)


# ---- the services, with the scope lifted -------------------------------------------------


def test_staff_of_another_city_cannot_change_the_case_file(world, story):
    case, _, _ = story
    with scopes_disabled():
        with pytest.raises(PermissionDenied):
            services.case_update(case=case, by=world.staff_other_city, summary="書き換え")
        with pytest.raises(PermissionDenied):
            services.party_add(case=case, by=world.staff_other_city, label="E氏", name="他市")
        assert Party.objects.filter(case=case).count() == 2
    assert _fresh(case).summary != "書き換え"


def test_staff_of_another_city_cannot_open_a_case_for_this_city(world):
    with scopes_disabled(), pytest.raises(PermissionDenied):
        services.case_open(
            by=world.staff_other_city,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=ON,
        )
    with scopes_disabled():
        assert not Case.objects.exists()


def test_a_contractor_reports_only_for_a_city_its_company_serves(world):
    with scopes_disabled():
        # contractor_co serves only world.city
        with pytest.raises(PermissionDenied):
            services.case_open(
                by=world.contractor,
                office=world.other_city_office,
                kind=CaseKind.CASHLESS_LINK,
                discovered_on=ON,
            )
        case = services.case_open(
            by=world.contractor, office=world.office, kind=CaseKind.CASHLESS_LINK, discovered_on=ON
        )
    assert case.municipality == world.city and case.contractor == world.contractor_co


def test_a_manager_of_another_city_cannot_take_a_managers_step(world, story, manager_other_city):
    case, _, _ = story
    with scopes_disabled(), pytest.raises(PermissionDenied):
        case_transition(case=case, step="withdraw", by=manager_other_city, note="重複登録")
    assert _fresh(case).stage == Stage.INQUIRY
    _set_stage(case, Stage.CLOSED)
    with scopes_disabled(), pytest.raises(PermissionDenied):
        case_transition(case=case, step="reopen", by=manager_other_city, note="再調査")
    assert _fresh(case).stage == Stage.CLOSED


def test_a_manager_of_another_city_cannot_write_off_a_balance(world, story, manager_other_city):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=15000, on=ON, by=world.staff
        )
    with scopes_disabled():
        with pytest.raises(PermissionDenied):
            ledger.ledger_write_off(
                case=case, party=d, reason="回収不能", on=ON, by=manager_other_city
            )
        assert ledger.balance_of(d) == -15000


def test_a_user_of_no_organisation_is_refused_by_every_service(world, story):
    case, _, _ = story
    nobody = UserFactory(username="nobody")
    with scopes_disabled():
        with pytest.raises(PermissionDenied):
            services.case_update(case=case, by=nobody, summary="x")
        with pytest.raises(PermissionDenied):
            services.case_open(
                by=nobody, office=world.office, kind=CaseKind.CASHLESS_LINK, discovered_on=ON
            )
    with pytest.raises(PermissionError), tenant_scope(nobody):
        pass


def test_a_closed_case_is_changed_only_by_reopening_it(world, story):
    case, _, _ = story
    case = _set_stage(case, Stage.CLOSED)
    with scopes_disabled(), pytest.raises((PermissionDenied, RemedyError)):
        services.case_update(case=case, by=world.staff, summary="閉じた後の変更")
    assert _fresh(case).summary != "閉じた後の変更"


# ---- the rules themselves, for each role ------------------------------------------------


def test_who_may_read_a_case(world, story):
    case, _, _ = story
    with scopes_disabled():
        assert permissions.can_read_case(_m(world.staff), case)
        assert permissions.can_read_case(_m(world.auditor), case)
        assert permissions.can_read_case(_m(world.contractor), case)  # its desk ran it
        assert not permissions.can_read_case(_m(world.staff_other_city), case)
        assert not permissions.can_read_case(_m(world.other_contractor), case)  # not its case
        assert not permissions.can_read_case(None, case)
        # The company's own case, in a city it no longer serves.
        world.contractor_co.municipalities.remove(world.city)
        assert not permissions.can_read_case(_m(world.contractor), case)


def test_a_case_without_a_contractor_is_read_by_no_contractor(world, story):
    case, _, _ = story
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(contractor=None)
        case = Case.objects.get(pk=case.pk)
        assert not permissions.can_read_case(_m(world.contractor), case)
        assert not permissions.can_record_visit(_m(world.contractor), case)
        assert permissions.can_read_case(_m(world.staff), case)


def test_who_may_edit_a_case_and_approve(world, story, manager_other_city):
    case, _, _ = story
    with scopes_disabled():
        assert permissions.can_edit_case(_m(world.staff), case)
        assert permissions.can_edit_case(_m(world.manager), case)
        for user in (world.auditor, world.contractor, world.staff_other_city, manager_other_city):
            assert not permissions.can_edit_case(_m(user), case), user.username
        assert not permissions.can_edit_case(None, case)
        assert permissions.is_manager_of(_m(world.manager), case)
        for user in (world.staff, world.auditor, world.contractor, manager_other_city):
            assert not permissions.is_manager_of(_m(user), case), user.username
        assert not permissions.is_manager_of(None, case)


@pytest.mark.parametrize("stage", [Stage.CLOSED, Stage.WITHDRAWN])
def test_nobody_edits_or_visits_for_a_closed_or_withdrawn_case(world, story, stage):
    case, _, _ = story
    case = _set_stage(case, stage)
    with scopes_disabled():
        for user in (world.staff, world.manager, world.contractor):
            assert not permissions.can_edit_case(_m(user), case), user.username
            assert not permissions.can_record_visit(_m(user), case), user.username
        assert permissions.is_manager_of(_m(world.manager), case)  # who may reopen it


def test_who_may_record_a_visit(world, story):
    case, _, _ = story
    with scopes_disabled():
        assert permissions.can_record_visit(_m(world.staff), case)
        assert permissions.can_record_visit(_m(world.contractor), case)  # its desk
        assert not permissions.can_record_visit(_m(world.other_contractor), case)
        assert not permissions.can_record_visit(_m(world.auditor), case)
        assert not permissions.can_record_visit(_m(world.staff_other_city), case)
        assert not permissions.can_record_visit(None, case)


def test_who_may_open_a_case_where(world, manager_other_city):
    with scopes_disabled():
        for user in (world.staff, world.manager, world.contractor):
            assert permissions.can_open_case_in(_m(user), world.city), user.username
        assert not permissions.can_open_case_in(_m(world.auditor), world.city)
        assert not permissions.can_open_case_in(None, world.city)
        assert not permissions.can_open_case_in(_m(world.staff), world.other_city)
        assert not permissions.can_open_case_in(_m(world.contractor), world.other_city)
        assert permissions.can_open_case_in(_m(world.other_contractor), world.other_city)
        assert permissions.can_open_case_in(_m(manager_other_city), world.other_city)


# ---- the tenant scope ------------------------------------------------------------------


def test_the_scope_of_each_role(world):
    with scopes_disabled():
        assert scope_for(_m(world.staff)) == {"municipality": world.city.pk, "contractor": None}
        assert scope_for(_m(world.auditor)) == {"municipality": world.city.pk, "contractor": None}
        served = scope_for(_m(world.other_contractor))
    assert sorted(served["municipality"]) == sorted([world.city.pk, world.other_city.pk])
    assert served["contractor"] == world.other_co.pk


def test_membership_of_nobody_is_none(world):
    assert membership_of(None) is None
    assert membership_of(AnonymousUser()) is None
    assert membership_of(UserFactory(username="lone")) is None
    assert membership_of(world.staff).municipality == world.city


def test_the_scope_opened_for_a_user_shows_only_their_cases(world, story):
    case, _, _ = story
    with tenant_scope(world.staff_other_city) as membership:
        assert membership.municipality == world.other_city
        assert not Case.objects.filter(pk=case.pk).exists()
    with tenant_scope(world.other_contractor):
        assert not Case.objects.filter(pk=case.pk).exists()
    with tenant_scope(world.contractor):
        assert Case.objects.filter(pk=case.pk).exists()
    with scope(**scope_for(_m(world.staff))):
        assert Case.objects.filter(pk=case.pk).exists()
