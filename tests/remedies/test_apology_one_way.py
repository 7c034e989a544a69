"""One way to an apology letter from the case page: issue the お詫び状 under Documents, then
record its sending. The hand-entry page is gone; letters recorded by hand in an imported
case file still count and still show."""

import re
from datetime import date

import pytest
from django.urls import NoReverseMatch, reverse
from django_scopes import scopes_disabled

from cases.scoping import tenant_scope
from remedies import services as remedies
from remedies.documents.services import document_issue
from remedies.models import ApologyLetter, DocumentKind

from ..factories import PartyFactory

pytestmark = pytest.mark.django_db


def _letters_part(client, case) -> str:
    body = client.get(f"/cases/{case.reference}/").content.decode()
    start = body.index('id="apology-letters"')
    return body[start : body.index("</section>", start)]


def _item(part: str, party) -> str:
    match = re.search(rf'<li id="apology-{party.pk}">(.*?)</li>', part, re.S)
    assert match, part
    return match.group(1)


def test_the_hand_entry_page_is_gone(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    with pytest.raises(NoReverseMatch):
        reverse("remedies:letter_new", kwargs={"ref": case.reference})
    assert client.get(f"/cases/{case.reference}/letters/new/").status_code == 404
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "お詫び状の記録" not in body
    assert "/letters/new/" not in body


def test_each_person_without_a_letter_gets_the_link_to_issue_it(client, world, story):
    case, c, d = story
    with scopes_disabled():
        b = PartyFactory(case=case, label="B氏", identified=False, name="")
    client.force_login(world.staff)
    part = _letters_part(client, case)
    for party in (c, d):
        item = _item(part, party)
        assert "お詫び状は未発行です" in item
        href = f"/cases/{case.reference}/documents/new/?kind=apology&amp;party={party.pk}"
        assert f'<a href="{href}">お詫び状を発行する' in item
        # The link opens the issue form on the apology letter for that person.
        page = client.get(href.replace("&amp;", "&")).content.decode()
        assert f'<option value="{party.pk}" selected>' in page
    assert "身元未判明のため、まだ宛先がありません" in _item(part, b)
    assert "お詫び状を発行する" not in _item(part, b)


def test_an_issued_letter_links_to_recording_its_sending(client, world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        document_issue(
            kind=DocumentKind.APOLOGY, by=world.staff, case=case, party=c, dated=date(2023, 3, 1)
        )
    with scopes_disabled():
        letter = ApologyLetter.objects.get(party=c)
    client.force_login(world.staff)
    item = _item(_letters_part(client, case), c)
    assert "発行済み" in item and "送付の記録はまだありません" in item
    sent = f"/cases/{case.reference}/letters/{letter.pk}/sent/"
    assert f'<a href="{sent}">送付を記録する' in item
    assert "お詫び状を発行する" not in item
    response = client.post(sent, {"delivery": "post", "sent_on": "2023-03-02"})
    assert response.status_code == 302
    item = _item(_letters_part(client, case), c)
    assert "令和5年3月2日" in item and "送付の記録を変更" in item
    # D still has none.
    assert "お詫び状を発行する" in _item(_letters_part(client, case), d)


def test_a_letter_recorded_by_hand_before_still_shows(client, world, story):
    """Imported case files carry letters made outside Tadasu (remedies/interchange)."""
    case, c, _ = story
    with tenant_scope(world.staff):
        remedies.letter_record(case=case, by=world.staff, party=c, sent_on=date(2023, 2, 21))
    client.force_login(world.staff)
    item = _item(_letters_part(client, case), c)
    assert "Tadasu外で作成したお詫び状を送付" in item
    assert "お詫び状を発行する" not in item


def test_readers_see_the_state_without_the_links(client, world, story):
    case, c, _ = story
    for role in ("auditor", "contractor"):
        client.force_login(getattr(world, role))
        item = _item(_letters_part(client, case), c)
        assert "お詫び状は未発行です" in item
        assert "<a " not in item, role
