"""The link form reads as one sentence, with a preview; the case page shows the same
sentence; the direction is stored as the sentence says (source = whose data, target = whose
record it went into)."""

import json
import re

import pytest
from django_scopes import scopes_disabled

from cases.models import CaseKind, DataKind, Misregistration

from ..factories import CaseFactory, PartyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cd(world, case):
    with scopes_disabled():
        c = PartyFactory(case=case, label="C氏", name="佐藤 花子")
        d = PartyFactory(case=case, label="D氏", name="鈴木 次郎")
    return c, d


def _url(case):
    return f"/cases/{case.reference}/links/new/"


def test_the_form_asks_in_the_order_of_the_sentence(client, world, case, cd):
    client.force_login(world.staff)
    body = client.get(_url(case)).content.decode()
    sentence = body[body.index('class="sentence"') : body.index('id="link-preview"')]
    # Whose data, which data, into whose record: the selects come in the sentence's order.
    positions = [sentence.index(f'id="id_{name}"') for name in ("source", "data_kind", "target")]
    assert positions == sorted(positions)
    for name in ("source", "data_kind", "target"):
        assert f'<label for="id_{name}">' in sentence
    assert "登録された" in sentence
    # A cashless case: its record is マイナポイント, and no 公金受取口座 is offered.
    assert "マイナポイント" in sentence
    assert 'value="bank_account"' not in sentence
    assert re.search(r'<option value="cashless_account"[^>]*selected', sentence)


def test_an_account_case_offers_the_bank_account_first(client, world):
    case = CaseFactory(
        office=world.office,
        contractor=world.contractor_co,
        created_by=world.staff,
        kind=CaseKind.ACCOUNT_MISREGISTRATION,
    )
    with scopes_disabled():
        PartyFactory(case=case, label="A氏")
        PartyFactory(case=case, label="B氏")
    client.force_login(world.staff)
    body = client.get(_url(case)).content.decode()
    assert re.search(r'<option value="bank_account"[^>]*selected', body)
    assert 'value="cashless_account"' not in body
    assert "マイナポータル" in body


def test_a_refused_post_shows_the_sentence_as_chosen(client, world, case, cd):
    """Without JS the preview comes from the server after each submission."""
    c, d = cd
    client.force_login(world.staff)
    r = client.post(
        _url(case),
        {"source": d.pk, "target": c.pk, "data_kind": "cashless_account", "registered_on": "x"},
    )
    assert r.status_code == 200
    body = r.content.decode()
    preview = body[body.index('id="link-preview"') :]
    preview = preview[: preview.index("</p>")]
    assert "D氏のキャッシュレス決済がC氏のマイナポイントに登録された。" in preview
    # The names stay off the preview's data (labels only).
    data = body[body.index('id="link-sentence-data"') :]
    data = json.loads(data[data.index(">") + 1 : data.index("</script>")])
    assert sorted(data["labels"].values()) == ["C氏", "D氏"]
    assert "鈴木" not in json.dumps(data, ensure_ascii=False)


def test_the_direction_is_stored_as_the_sentence_says(client, world, case, cd):
    c, d = cd
    client.force_login(world.staff)
    r = client.post(_url(case), {"source": d.pk, "data_kind": "cashless_account", "target": c.pk})
    assert r.status_code == 302
    with scopes_disabled():
        link = Misregistration.objects.get()
        # D's cashless account (D's data) went into C's マイナポイント (C's record).
        assert (link.source, link.target, link.data_kind) == (d, c, DataKind.CASHLESS_ACCOUNT)
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert "D氏のキャッシュレス決済がC氏のマイナポイントに登録された。" in body


def test_a_bank_account_kind_is_refused_on_a_cashless_case(client, world, case, cd):
    c, d = cd
    client.force_login(world.staff)
    r = client.post(_url(case), {"source": d.pk, "data_kind": "bank_account", "target": c.pk})
    assert r.status_code == 200
    assert 'id="id_data_kind_error"' in r.content.decode()
    with scopes_disabled():
        assert not Misregistration.objects.exists()
