"""A document over several cases is readable only by someone who may read every one of them
(issue 17: a press release over several cases was stored on the newest case, and the
contractor of that case could download the PDF holding every other case)."""

import importlib
from datetime import date

import pytest
from django.apps import apps
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.models import CaseKind
from cases.scoping import tenant_scope
from remedies.documents import services
from remedies.models import Document

pytestmark = pytest.mark.django_db


@pytest.fixture
def release(world, story):
    """A press release over the story (contractor_co's desk, the newest case) and an older
    case at other_co's desk."""
    case, _, _ = story
    with tenant_scope(world.staff):
        older = case_services.case_open(
            by=world.staff,
            office=world.office2,
            kind=CaseKind.ACCOUNT_MISREGISTRATION,
            contractor=world.other_co,
            discovered_on=date(2023, 1, 10),
            summary="別の窓口の案件",
        )
        document = services.document_issue(
            kind="press_release", by=world.staff, cases=[case, older], dated=date(2023, 3, 16)
        )
    assert document.case_id == case.pk  # stored on the newest case, as before
    return document, case, older


def test_contractor_of_one_case_cannot_download_a_release_over_others(client, world, release):
    document, _, _ = release
    client.force_login(world.contractor)
    assert client.get(f"/documents/{document.pk}/download/").status_code == 404


def test_contractor_is_not_offered_it_on_the_case_page_or_the_list(client, world, release):
    document, case, _ = release
    client.force_login(world.contractor)
    url = f"/documents/{document.pk}/download/"
    assert url not in client.get(f"/cases/{case.reference}/").content.decode()
    assert url not in client.get("/documents/").content.decode()


def test_the_service_refuses_too(world, release):
    from django.core.exceptions import PermissionDenied

    document, _, _ = release
    with tenant_scope(world.contractor), pytest.raises(PermissionDenied):
        services.document_download(
            document=Document.objects.get(pk=document.pk), by=world.contractor
        )


def test_city_staff_download_it_and_see_it_on_every_case_it_covers(client, world, release):
    document, case, older = release
    client.force_login(world.staff)
    url = f"/documents/{document.pk}/download/"
    assert client.get(url).status_code == 200
    for ref in (case.reference, older.reference):
        assert url in client.get(f"/cases/{ref}/").content.decode(), ref


def test_contractor_still_reads_a_release_over_its_own_cases_only(client, world, story):
    case, _, _ = story
    with tenant_scope(world.staff):
        document = services.document_issue(
            kind="press_release", by=world.staff, cases=[case], dated=date(2023, 3, 16)
        )
    client.force_login(world.contractor)
    url = f"/documents/{document.pk}/download/"
    assert url in client.get(f"/cases/{case.reference}/").content.decode()
    assert client.get(url).status_code == 200


def test_migration_records_the_cases_of_older_releases_from_their_data(world, release):
    document, case, older = release
    with scopes_disabled():
        document.cases.clear()  # as a release issued before the cases were recorded
        migration = importlib.import_module("remedies.migrations.0007_document_cases_filled")
        migration.fill_document_cases(apps, None)
        assert set(Document.objects.get(pk=document.pk).cases.values_list("pk", flat=True)) == {
            case.pk,
            older.pk,
        }
