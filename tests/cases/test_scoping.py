import pytest
from django_scopes import ScopeError, scope

from cases.models import Case, Party, TimelineEvent
from cases.scoping import membership_of, scope_for, tenant_scope

from ..factories import CaseFactory, OfficeFactory, PartyFactory

pytestmark = pytest.mark.django_db


def test_a_case_query_without_a_scope_fails_loudly(world, case):
    PartyFactory(case=case)
    with pytest.raises(ScopeError):
        list(Case.objects.all())
    with pytest.raises(ScopeError):
        Case.objects.filter(reference=case.reference).exists()
    with pytest.raises(ScopeError):
        Party.objects.count()
    with pytest.raises(ScopeError):
        list(TimelineEvent.objects.all())


def test_staff_see_only_their_own_municipality(world, case):
    foreign = CaseFactory(office=world.other_city_office, created_by=world.staff_other_city)
    with tenant_scope(world.staff):
        assert list(Case.objects.all()) == [case]
    with tenant_scope(world.staff_other_city):
        assert list(Case.objects.all()) == [foreign]


def test_contractor_sees_only_its_company_cases_in_cities_it_serves(world, case):
    theirs_elsewhere = CaseFactory(
        office=world.other_city_office, contractor=world.other_co, created_by=world.staff
    )
    # contractor_co does not serve other_city: a case there stays hidden even if it names it.
    unserved = CaseFactory(
        office=world.other_city_office, contractor=world.contractor_co, created_by=world.staff
    )
    city_run = CaseFactory(office=world.office, contractor=None, created_by=world.staff)

    with tenant_scope(world.contractor):
        assert set(Case.objects.all()) == {case}
    with tenant_scope(world.other_contractor):
        assert set(Case.objects.all()) == {theirs_elsewhere}
    with tenant_scope(world.staff):
        assert set(Case.objects.all()) == {case, city_run}
    assert unserved.pk  # exists, and nobody above saw it but its own city's staff
    with tenant_scope(world.staff_other_city):
        assert set(Case.objects.all()) == {theirs_elsewhere, unserved}


def test_parties_are_scoped_through_their_case(world, case):
    mine = PartyFactory(case=case)
    PartyFactory(
        case=CaseFactory(
            office=OfficeFactory(municipality=world.other_city), created_by=world.staff
        )
    )
    with tenant_scope(world.staff):
        assert list(Party.objects.all()) == [mine]
    with tenant_scope(world.other_contractor):
        assert list(Party.objects.all()) == []


def test_a_scope_narrowed_to_one_city_shows_that_citys_cases_only(world):
    """An API token a city's manager made for a contractor's service account reaches that
    city's cases only, though the company serves others (api/tokens.py). Narrowed to a city
    the account does not act for, it reaches nothing."""
    here = CaseFactory(office=world.office, contractor=world.other_co, created_by=world.staff)
    there = CaseFactory(
        office=world.other_city_office, contractor=world.other_co, created_by=world.staff
    )

    def visible(user, city):
        with scope(**scope_for(membership_of(user), only_municipality=city.pk)):
            return set(Case.objects.all())

    # other_co serves both cities: each narrowing shows that city's case alone.
    assert visible(world.other_contractor, world.city) == {here}
    assert visible(world.other_contractor, world.other_city) == {there}
    # contractor_co does not serve other_city.
    assert visible(world.contractor, world.other_city) == set()
    # City staff: their own city as always; another city's narrowing shows nothing.
    assert visible(world.staff, world.city) == {here}
    assert visible(world.staff, world.other_city) == set()
