"""The documents issue page: the kind first, then only that kind's fields; preview and issue
are POSTs, so no CSRF token or choice about a person is put in a URL."""

import re
from datetime import date

import pytest
from django_scopes import scopes_disabled

from cases.scoping import tenant_scope
from remedies import ledger
from remedies.documents.forms import CASE_KINDS, KIND_FIELDS
from remedies.models import Document, DocumentKind, Method, Side

pytestmark = pytest.mark.django_db

# What each kind asks for, as the user sees the page (besides the hidden kind and the token).
EXPECTED = {
    "apology": {"party", "dated"},
    "receipt": {"entry", "dated"},
    "settlement": {"party", "dated"},
    "repayment_request": {"party", "dated"},
    "repayment_reminder": {"party", "dated"},
    "report": {"dated"},
    "press_release": {"dated"},
}


def _url(case) -> str:
    return f"/cases/{case.reference}/documents/new/"


def _form(body: str) -> str:
    match = re.search(r'<form method="post"[^>]*documents/new/.*?</form>', body, re.S)
    return match.group(0) if match else ""


def _names(form: str) -> set[str]:
    return set(re.findall(r'name="([^"]+)"', form)) - {"csrfmiddlewaretoken", "kind", "preview"}


def test_the_table_covers_every_kind_of_the_page():
    assert set(KIND_FIELDS) == set(CASE_KINDS) == set(EXPECTED)


def test_without_a_kind_the_page_asks_which_document(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    body = client.get(_url(case)).content.decode()
    assert _form(body) == ""  # no fields before the kind is chosen
    for kind in CASE_KINDS:
        assert f'href="{_url(case)}?kind={kind}"' in body, kind


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_kind_shows_exactly_its_fields(client, world, story, kind):
    case, _, _ = story
    client.force_login(world.staff)
    body = client.get(_url(case), {"kind": kind}).content.decode()
    form = _form(body)
    assert _names(form) == EXPECTED[kind], kind
    assert f'<input type="hidden" name="kind" value="{kind}"' in form
    assert 'aria-current="page"' in body


def test_fields_of_another_kind_are_ignored(client, world, story):
    """A report posted with a person and a payment is issued as a report, for nobody."""
    case, c, _ = story
    client.force_login(world.staff)
    response = client.post(
        _url(case), {"kind": "report", "party": c.pk, "entry": "999", "dated": "2023-03-16"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        document = Document.objects.get()
    assert (document.kind, document.party) == (DocumentKind.REPORT, None)


def test_a_kind_validates_its_own_fields(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    body = client.post(_url(case), {"kind": "receipt", "dated": "2023-03-16"}).content.decode()
    assert 'id="id_entry_error"' in body
    body = client.post(_url(case), {"kind": "settlement"}).content.decode()
    assert 'id="id_party_error"' in body
    with scopes_disabled():
        assert not Document.objects.exists()


def test_an_unknown_kind_asks_again(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    body = client.post(_url(case), {"kind": "checklist"}).content.decode()
    assert "作成する書類を選択してください。" in body
    assert _form(body) == ""


def test_a_preview_by_get_shows_the_form_and_no_pdf(client, world, story):
    case, c, _ = story
    client.force_login(world.staff)
    response = client.get(_url(case), {"kind": "apology", "party": c.pk, "preview": "1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert f'<option value="{c.pk}" selected>' in response.content.decode()


def test_a_preview_by_post_returns_the_pdf_and_stores_nothing(client, world, story):
    case, c, _ = story
    client.force_login(world.staff)
    response = client.post(
        _url(case), {"kind": "apology", "party": c.pk, "dated": "2023-03-16", "preview": "1"}
    )
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    with scopes_disabled():
        assert not Document.objects.exists()


def test_a_receipt_previews_for_its_payment(client, world, story):
    case, c, d = story
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 3, 7), by=world.staff
        )
        payment = ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=5000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=date(2023, 3, 10),
            by=world.staff,
        )
    client.force_login(world.staff)
    response = client.post(_url(case), {"kind": "receipt", "entry": payment.pk, "preview": "1"})
    assert response["Content-Type"] == "application/pdf"


def test_no_page_builds_a_url_with_the_token(client, world, story):
    """Every form of the documents pages posts; none is a GET that would carry the token."""
    case, _, _ = story
    client.force_login(world.staff)
    pages = [client.get("/documents/").content.decode()]
    pages += [client.get(_url(case), {"kind": k}).content.decode() for k in CASE_KINDS]
    for body in pages:
        assert 'formmethod="get"' not in body
        forms = re.findall(r"<form\b[^>]*>", body)
        assert forms and all('method="post"' in form for form in forms), forms
        assert "csrfmiddlewaretoken=" not in body  # in no link or action either


def test_municipal_documents_preview_by_post_only(client, world, story):
    case, _, _ = story
    client.force_login(world.staff)
    response = client.get("/documents/new/checklist/", {"preview": "1"})
    assert response.status_code == 302 and response["Location"] == "/documents/"
    response = client.post("/documents/new/checklist/", {"preview": "1"})
    assert response["Content-Type"] == "application/pdf"
    response = client.post("/documents/new/press_release/", {"cases": [case.pk], "preview": "1"})
    assert response["Content-Type"] == "application/pdf"
    with scopes_disabled():
        assert not Document.objects.exists()
