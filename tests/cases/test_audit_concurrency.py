"""Nothing one municipality does makes another wait (PostgreSQL only): each municipality's
audit chain has a head of its own, so a long import in one city holds nothing that another
city's clerk needs."""

import json
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from cases import services
from cases.audit import audit_log
from cases.audit_verify import verify
from cases.models import AuditHead, Case, CaseKind, Municipality, Office, User
from cases.scoping import tenant_scope
from remedies.demo import _organisations, _users, demo_case_copies
from remedies.interchange import import_case_file

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite has one lock for every writer",
    ),
    pytest.mark.django_db(transaction=True),
]

IMPORTED = 300


def _case_file(tmp_path: Path, count: int) -> Path:
    """`count` copies of the demo's cases of 北九州市, each with seqs of its own."""
    head, copies = demo_case_copies(count)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({**head, "cases": list(copies)}, ensure_ascii=False))
    return path


def _head_is_locked(chain: int) -> bool:
    try:
        with transaction.atomic():
            AuditHead.objects.select_for_update(nowait=True).get(chain=chain)
    except DatabaseError:
        return True
    return False


def test_a_write_in_one_city_finishes_at_once_while_another_city_imports(tmp_path):
    with scopes_disabled():
        orgs = _organisations()
        users = _users(orgs)
    kitakyushu = Municipality.objects.get(code="401005")
    other_staff = User.objects.get(username="staff-other-city")
    # The city's chain exists before the import, as in any city that has worked a case.
    audit_log("tadasu.auth.login", by=users["staff"])
    path = _case_file(tmp_path, IMPORTED)
    outcome = {}

    def importer():
        try:
            with path.open("rb") as stream:
                outcome["imported"] = len(import_case_file(stream))
        except Exception as error:  # the outcome under test
            outcome["imported"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=importer)
    thread.start()
    deadline = time.monotonic() + 60
    while not _head_is_locked(kitakyushu.pk):
        assert time.monotonic() < deadline, "the import never took its city's audit head"
        time.sleep(0.05)

    started = time.monotonic()
    with tenant_scope(other_staff):
        opened = services.case_open(
            by=other_staff,
            office=Office.objects.get(municipality__code="990001"),
            kind=CaseKind.ACCOUNT_MISREGISTRATION,
            discovered_on=date(2023, 3, 1),
        )
    took = time.monotonic() - started
    import_still_running = thread.is_alive()
    thread.join(timeout=600)

    print(f"OTHER-CITY-WRITE took={took * 1000:.0f}ms during an import of {IMPORTED} cases")
    assert outcome == {"imported": IMPORTED}
    assert import_still_running, "the import finished first: the test proved nothing"
    assert took < 1.0, f"みなと市's clerk waited {took:.1f} s for 北九州市's import"
    with scopes_disabled():
        assert Case.objects.filter(municipality__code="990001").get() == opened
        assert Case.objects.filter(municipality=kitakyushu).count() == IMPORTED
    assert verify().intact
