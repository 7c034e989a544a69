"""What each role may see in clear of a person's details (issue 17: contractor staff could
reveal a citizen's bank account number, also on closed cases). The rule is cases/reveal.py."""

import pytest
from django.core.exceptions import PermissionDenied
from django_scopes import scopes_disabled

from cases import reveal
from cases.errors import CaseError
from cases.models import AuditEntry, Case, Stage
from cases.scoping import tenant_scope
from cases.services import party_add, party_reveal

pytestmark = pytest.mark.django_db

ACCOUNT = "7654321"
PAYMENT_ID = "MP-9999-0001"
PHONE = "093-111-2222"
ADDRESS = "北九州市八幡東区中央1-1-1"


@pytest.fixture
def person(world, case):
    with tenant_scope(world.staff):
        return party_add(
            case=case,
            by=world.staff,
            label="A氏",
            name="山田 太郎",
            phone=PHONE,
            address=ADDRESS,
            bank_name="みほん銀行 八幡支店",
            account_number=ACCOUNT,
            payment_account=PAYMENT_ID,
        )


def _close(case, stage=Stage.CLOSED):
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(stage=stage)


def _url(case, person):
    return f"/cases/{case.reference}/parties/{person.pk}/reveal/"


def _reveals():
    return list(AuditEntry.objects.filter(action="tadasu.party.revealed"))


def test_contractor_sees_name_address_and_phone_never_an_account(client, world, case, person):
    client.force_login(world.contractor)
    response = client.post(_url(case, person))
    body = response.content.decode()
    assert response.status_code == 200
    assert PHONE in body and ADDRESS in body and "山田 太郎" in body
    assert ACCOUNT not in body and PAYMENT_ID not in body and "みほん銀行" not in body
    assert "口座番号" in body and "委託事業者" in body  # says why the rest is not offered
    (entry,) = _reveals()
    assert entry.data["fields"] == list(reveal.CONTACT)


def test_contractor_service_call_returns_contact_fields_only(world, case, person):
    with tenant_scope(world.contractor):
        fields = party_reveal(party=person, by=world.contractor)
    assert "account_number" not in fields and "payment_account" not in fields
    assert {"name", "phone", "address"} <= set(fields)


@pytest.mark.parametrize("stage", [Stage.CLOSED, Stage.WITHDRAWN])
@pytest.mark.parametrize("role", ["contractor", "staff"])
def test_on_a_closed_case_staff_and_contractors_see_nothing(
    client, world, case, person, role, stage
):
    _close(case, stage)
    client.force_login(getattr(world, role))
    response = client.post(_url(case, person), {"reason": "確認"})
    assert response.status_code == 403
    assert ACCOUNT not in response.content.decode()
    assert _reveals() == []
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert _url(case, person) not in page
    assert "管理職または監査" in page  # the page says why nothing is offered


@pytest.mark.parametrize("role", ["manager", "auditor"])
def test_on_a_closed_case_managers_and_auditors_give_a_reason(client, world, case, person, role):
    _close(case)
    client.force_login(getattr(world, role))
    url = _url(case, person)
    assert url in client.get(f"/cases/{case.reference}/").content.decode()
    # The button asks for the reason first; nothing is shown or recorded yet.
    first = client.post(url)
    assert first.status_code == 200
    assert ACCOUNT not in first.content.decode() and 'name="reason"' in first.content.decode()
    empty = client.post(url, {"reason": "  "})
    assert 'id="id_reason_error"' in empty.content.decode()
    assert ACCOUNT not in empty.content.decode()
    assert _reveals() == []
    shown = client.post(url, {"reason": "住民からの再照会に回答するため"})
    assert ACCOUNT in shown.content.decode() and PAYMENT_ID in shown.content.decode()
    (entry,) = _reveals()
    assert entry.data["reason"] == "住民からの再照会に回答するため"
    assert entry.user == getattr(world, role)


def test_the_service_refuses_a_closed_case_without_reason(world, case, person):
    _close(case)
    with tenant_scope(world.manager), pytest.raises(CaseError) as error:
        party_reveal(party=person, by=world.manager)
    assert error.value.field == "reason"
    with tenant_scope(world.contractor), pytest.raises(PermissionDenied):
        party_reveal(party=person, by=world.contractor, reason="訪問のため")
    assert _reveals() == []


def test_contractor_is_not_offered_show_for_a_person_with_only_an_account(client, world, case):
    with tenant_scope(world.staff):
        only_account = party_add(
            case=case, by=world.staff, label="B氏", name="鈴木 次郎", account_number=ACCOUNT
        )
    client.force_login(world.contractor)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert _url(case, only_account) not in page
    client.force_login(world.staff)
    assert _url(case, only_account) in client.get(f"/cases/{case.reference}/").content.decode()


def test_contractor_case_page_shows_no_digits_of_accounts(client, world, case, person):
    client.force_login(world.contractor)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "＊＊＊＊4321" not in page and "＊＊＊＊0001" not in page
    assert "＊＊＊＊2222" in page  # the phone, masked, as for everyone
    client.force_login(world.staff)
    assert "＊＊＊＊4321" in client.get(f"/cases/{case.reference}/").content.decode()
