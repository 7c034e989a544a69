"""Cached page bodies are never stale, never another viewer's, never a way past the checks."""

import re

import pytest
from django.test import Client

from cases import services
from cases.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def _page(client, url: str) -> str:
    response = client.get(url, follow=True)  # a search moves its words into a token
    assert response.status_code == 200
    return response.content.decode()


def test_an_audited_change_shows_at_once(client, world, case):
    client.force_login(world.staff)
    url, search = f"/cases/{case.reference}/", "/cases/?q=人物"
    for _ in range(2):  # the second time from the cache
        assert "新しい 人物" not in _page(client, url)
        assert case.reference not in _page(client, search)
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="Z氏", name="新しい 人物")
    assert "新しい 人物" in _page(client, url)
    assert case.reference in _page(client, search)


def test_each_viewer_gets_their_own_body(world, case):
    staff, auditor = Client(), Client()
    staff.force_login(world.staff)
    auditor.force_login(world.auditor)
    url = f"/cases/{case.reference}/"
    edit = f"/cases/{case.reference}/edit/"
    assert edit in _page(staff, url)
    assert edit not in _page(auditor, url)  # same case, same version, another role
    assert "案件情報の編集" in _page(staff, url)
    world.staff.language = "en"
    world.staff.save()
    assert "Edit case details" in _page(staff, url)  # another language, another body


def test_a_cached_body_is_no_way_past_the_scope(world, case):
    ours, theirs = Client(), Client()
    ours.force_login(world.contractor)
    theirs.force_login(world.other_contractor)
    url = f"/cases/{case.reference}/"
    _page(ours, url)
    assert theirs.get(url).status_code == 404


def test_the_forms_of_a_cached_body_still_post(world, case):
    with tenant_scope(world.staff):
        party = services.party_add(
            case=case, by=world.staff, label="C氏", name="佐藤 花子", phone="0931234567"
        )
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.staff)
    url = f"/cases/{case.reference}/"
    _page(client, url)
    cached = _page(client, url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached).group(1)
    reveal = f"/cases/{case.reference}/parties/{party.pk}/reveal/"
    response = client.post(reveal, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "093-123-4567" in response.content.decode() or "0931234567" in response.content.decode()
