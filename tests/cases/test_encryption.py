"""Personal details are encrypted at rest, masked on screen, shown only on an audited request."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from cases import crypto
from cases.models import AuditEntry, Party
from cases.scoping import tenant_scope
from cases.services import party_add

pytestmark = pytest.mark.django_db

SECRET_ACCOUNT = "7654321"


@pytest.fixture
def person(world, case):
    with tenant_scope(world.staff):
        return party_add(
            case=case,
            by=world.staff,
            label="A氏",
            name="山田 太郎",
            phone="093-111-2222",
            address="北九州市八幡東区中央1-1-1",
            bank_name="みほん銀行 八幡支店",
            account_number=SECRET_ACCOUNT,
            payment_account="MP-9999-0001",
        )


def _raw(column: str, pk: int):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM cases_party WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_stored_values_are_tokens_not_plaintext(person):
    for column, value in [
        ("phone", "093-111-2222"),
        ("address", "北九州市八幡東区中央1-1-1"),
        ("account_number", SECRET_ACCOUNT),
        ("payment_account", "MP-9999-0001"),
    ]:
        stored = _raw(column, person.pk)
        assert value not in stored and stored.startswith("gAAAA"), column
    with scopes_disabled():
        assert Party.objects.get(pk=person.pk).account_number == SECRET_ACCOUNT


def test_rotate_keys_re_encrypts_with_the_newest_key(person, settings):
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    crypto.reset_keys()
    try:
        call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
        token = _raw("account_number", person.pk)
        assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == SECRET_ACCOUNT
        settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old keys can now be dropped
        crypto.reset_keys()
        with scopes_disabled():
            assert Party.objects.get(pk=person.pk).account_number == SECRET_ACCOUNT
    finally:
        crypto.reset_keys()


def test_case_page_shows_details_masked(client, world, case, person):
    client.force_login(world.staff)
    body = client.get(f"/cases/{case.reference}/").content.decode()
    assert SECRET_ACCOUNT not in body and "093-111-2222" not in body
    assert "＊＊＊＊4321" in body and "＊＊＊＊2222" in body and "北九州市＊＊＊＊" in body


def test_show_is_audited_and_needs_post(client, world, case, person):
    url = f"/cases/{case.reference}/parties/{person.pk}/reveal/"
    client.force_login(world.staff)
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200
    assert SECRET_ACCOUNT in response.content.decode()
    entry = AuditEntry.objects.get(action="tadasu.party.revealed")
    assert entry.user == world.staff and SECRET_ACCOUNT not in str(entry.data)
    client.force_login(world.other_contractor)
    assert client.post(url).status_code == 404


def test_changes_are_audited_masked(world, person):
    from cases.services import party_update

    with tenant_scope(world.staff):
        party_update(party=person, by=world.staff, account_number="1112223")
    entry = AuditEntry.objects.get(action="tadasu.party.changed")
    assert entry.data["changes"]["account_number"] == ["＊＊＊＊4321", "＊＊＊＊2223"]
    assert "1112223" not in str(entry.data)


def test_mask_keeps_only_the_last_four():
    assert crypto.mask("1234567") == "＊＊＊＊4567"
    assert crypto.mask("123") == "＊＊＊＊"
    assert crypto.mask("") == ""
