"""Citizens' names stay out of URLs (issue 17: `GET /cases/?q=…` put them into access logs):
the case list's search and the reception search on the case page post, and the pages they
lead to carry a token for the words. Pagination, filters, exports and the page cache work
with the token as they did with the words."""

from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import Stage
from cases.scoping import tenant_scope
from cases.views import PAGE_SIZE

from ..factories import CaseFactory

pytestmark = pytest.mark.django_db
URL = "/cases/"
NAME = "佐藤"


def _no_name_in(response, *names) -> None:
    """No URL the client went through, nor the one it ended at, carries a name."""
    urls = [url for url, _status in response.redirect_chain]
    urls.append(response.request["PATH_INFO"] + "?" + response.request.get("QUERY_STRING", ""))
    for url in urls:
        for name in names:
            assert name not in url and quote(name) not in url, url


def _case_with(world, name: str, **fields):
    case = CaseFactory(
        office=world.office, contractor=world.contractor_co, created_by=world.staff, **fields
    )
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="C氏", name=name)
    return case


@pytest.fixture
def staff(client, world):
    client.force_login(world.staff)
    return client


def test_the_search_posts_and_the_list_url_carries_a_token(staff, world):
    sato, suzuki = _case_with(world, "佐藤 花子"), _case_with(world, "鈴木 次郎")
    response = staff.post(URL, {"q": NAME})
    assert response.status_code == 303
    location = response["Location"]
    assert "s=" in location and NAME not in location and quote(NAME) not in location
    page = staff.get(location)
    body = page.content.decode()
    assert f">{sato.reference}<" in body and f">{suzuki.reference}<" not in body
    assert f'value="{NAME}"' in body  # the search box still shows what was typed
    assert 'method="post"' in body and "csrfmiddlewaretoken" in body


def test_an_old_link_with_the_name_moves_it_into_a_token(staff, world):
    sato = _case_with(world, "佐藤 花子")
    response = staff.get(URL, {"q": NAME, "stage": Stage.INQUIRY}, follow=True)
    assert response.redirect_chain[0][1] == 303
    _no_name_in(response, NAME)
    assert f">{sato.reference}<" in response.content.decode()
    assert f"stage={Stage.INQUIRY}" in response.request["QUERY_STRING"]


def test_pagination_filters_and_exports_keep_the_search_without_the_name(staff, world):
    matching = [_case_with(world, f"佐藤 {i}") for i in range(PAGE_SIZE + 2)]
    _case_with(world, "鈴木 次郎")
    first = staff.post(URL, {"q": NAME, "sort": "reference"}, follow=True)
    _no_name_in(first, NAME)
    body = first.content.decode()
    assert "page=2" in body
    next_link = body.split('href="?')[-1].split('"')[0].replace("&amp;", "&")
    assert "s=" in next_link and "sort=reference" in next_link and NAME not in next_link
    second = staff.get(f"{URL}?{next_link}").content.decode()
    shown = {c.reference for c in matching if f">{c.reference}<" in body + second}
    assert shown == {c.reference for c in matching}
    export = staff.get(f"{URL}?{first.request['QUERY_STRING']}&format=csv")
    rows = export.content.decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + len(matching)


def test_a_token_is_worth_nothing_in_another_session(staff, world):
    _case_with(world, "佐藤 花子")
    suzuki = _case_with(world, "鈴木 次郎")
    location = staff.post(URL, {"q": NAME})["Location"]
    other = Client()
    other.force_login(world.staff)  # the same user, another session
    body = other.get(location).content.decode()
    assert "検索の有効期限" in body  # "that search has expired"
    assert f">{suzuki.reference}<" in body  # the list unfiltered, not someone's search


def test_the_page_cache_is_keyed_by_what_the_token_stands_for(staff, world):
    sato, suzuki = _case_with(world, "佐藤 花子"), _case_with(world, "鈴木 次郎")
    sato_url = staff.post(URL, {"q": NAME})["Location"]
    suzuki_url = staff.post(URL, {"q": "鈴木"})["Location"]
    for _ in range(2):  # the second time from the cache
        sato_body = staff.get(sato_url).content.decode()
        suzuki_body = staff.get(suzuki_url).content.decode()
        assert f">{sato.reference}<" in sato_body and f">{suzuki.reference}<" not in sato_body
        assert f">{suzuki.reference}<" in suzuki_body and f">{sato.reference}<" not in suzuki_body
    # The same words again: the same token, so the cached body serves.
    assert staff.post(URL, {"q": NAME})["Location"] == sato_url


def test_the_reception_search_posts_and_the_case_page_carries_a_token(client, world):
    from ..receptions.conftest import MAPPING
    from ..receptions.sheets import reception_csv

    case = _case_with(world, "山田 太郎")
    with tenant_scope(world.staff):
        from receptions import services as reception_services

        reception_services.sheet_import(
            data=reception_csv(
                [
                    (world.office.name, "1", "2023-02-09 10:00", "", "佐藤 はなこ", "完了"),
                    (world.office.name, "2", "2023-02-09 11:00", "", "鈴木 次郎", "完了"),
                ]
            ),
            file_name="s.csv",
            mapping=MAPPING,
            contractor=None,
            by=world.staff,
        )
    client.force_login(world.staff)
    response = client.post(
        reverse("receptions:search", kwargs={"ref": case.reference}),
        {"rq": "はなこ", "ron": "2023-02-09", "roffice": world.office.pk},
        follow=True,
    )
    _no_name_in(response, "はなこ", "佐藤")
    body = response.content.decode()
    assert "佐藤 はなこ" in body and "鈴木 次郎" not in body
    assert "ron=2023-02-09" in response.request["QUERY_STRING"]
    # The links that choose the affected person carry the token too, never the name.
    assert "affected=" in body and "rq=" not in body
