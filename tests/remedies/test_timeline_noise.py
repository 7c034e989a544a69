"""The 経過 tells what happened to people, not what the system did: downloads stay in the
audit trail; a letter's line and its row under 訪問・謝罪 name whom it went to."""

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from cases.attachments.services import attachment_add
from cases.models import AuditEntry, TimelineEvent
from cases.scoping import tenant_scope
from remedies.documents import services

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def issued(world, story):
    world.city.document_symbol = "デ推"
    world.city.save()
    case, c, _d = story
    with tenant_scope(world.staff):
        document = services.document_issue(
            kind="apology", by=world.staff, case=case, party=c, dated=date(2023, 3, 16)
        )
    return case, document


def _timeline(case) -> list[str]:
    with scopes_disabled():
        return list(TimelineEvent.objects.filter(case=case).values_list("text", flat=True))


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section class="card"[^>]*id="{anchor}".*?</section>', page, re.S)
    assert match, anchor
    return match.group(0)


def test_downloading_a_document_or_an_attachment_writes_no_timeline_line(client, world, issued):
    case, document = issued
    with tenant_scope(world.staff):
        attachment = attachment_add(
            case=case,
            by=world.staff,
            upload=SimpleUploadedFile("memo.pdf", PDF, content_type="application/pdf"),
            description="",
        )
    before = _timeline(case)
    for role in ("staff", "contractor", "auditor"):
        client.force_login(getattr(world, role))
        assert client.get(f"/documents/{document.pk}/download/").status_code == 200
        url = f"/cases/{case.reference}/attachments/{attachment.pk}/"
        assert client.get(url).status_code == 200, url
    assert _timeline(case) == before
    assert not any("ダウンロード" in line for line in before)
    # The audit trail holds every download.
    with scopes_disabled():
        actions = list(AuditEntry.objects.filter(case=case).values_list("action", flat=True))
    assert actions.count("tadasu.document.downloaded") == 3
    assert actions.count("tadasu.attachment.downloaded") == 3
    # And the case page's 経過 shows none of it.
    client.force_login(world.staff)
    timeline = _section(client.get(f"/cases/{case.reference}/").content.decode(), "timeline")
    assert "ダウンロード" not in timeline and "を発行" not in timeline


def test_an_issued_letter_names_its_recipient_in_the_timeline_and_under_visits(
    client, world, issued
):
    case, document = issued
    assert "C氏にお詫び状を送付。" in _timeline(case)
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "C氏にお詫び状を送付。" in _section(page, "timeline")
    # The row under 訪問・謝罪 says which letter went to whom.
    number = document.data["number_text"]
    assert f"C氏にお詫び状（{number}）を発行" in _section(page, "visits")
    assert "佐藤" not in _section(page, "timeline")  # the label, never the name
