"""A dump of the whole database holds no account number, phone number or address in clear."""

import json

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db

DEMO = json.load(open("remedies/demo_cases.json", encoding="utf-8"))  # noqa: SIM115
SECRETS = sorted(
    {
        party[field]
        for case in DEMO["cases"]
        for party in case["parties"]
        for field in ("account_number", "payment_account", "phone", "address")
        if party.get(field)
    }
)


def _dump() -> str:
    """Every value of every table, as a backup would hold it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    chunks.append(str(value))
    return "\n".join(chunks)


def test_demo_personal_details_are_not_in_a_dump(settings, client):
    settings.DEBUG = True
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # Issue documents and reveal once, so that every path that touches the details ran.
    from cases.models import Case, User
    from cases.scoping import tenant_scope
    from remedies.documents.services import document_issue
    from remedies.models import EntryKind, LedgerEntry

    staff = User.objects.get(username="staff")
    with tenant_scope(staff):
        case = Case.objects.get(reference="401005-2022-003")
        payment = LedgerEntry.objects.get(case=case, kind=EntryKind.PAYMENT)
        document_issue(kind="receipt", by=staff, case=case, entry=payment)
        document_issue(kind="apology", by=staff, case=case, party=payment.party)
    client.force_login(staff)
    client.post(f"/cases/{case.reference}/parties/{payment.party.pk}/reveal/")

    dump = _dump()
    found = [secret for secret in SECRETS if secret in dump]
    print(f"PLAINTEXT-DUMP secrets={len(SECRETS)} found={len(found)}")
    assert len(SECRETS) >= 10
    assert found == []
