import pytest
from django_scopes import ScopeError

from cases.models import Case, Party, TimelineEvent
from cases.scoping import tenant_scope

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
