"""Four identical payment POSTs at once against a file-based SQLite database.

Run by tests/remedies/test_sqlite_concurrency.py in a fresh process (the suite's in-memory
database cannot show SQLite's file locking): `python tests/remedies/sqlite_race.py DIR`
migrates a database in DIR, makes one case with a misallocation, then four threads post the
same payment form (same ledger head) through the test client, each on its own connection,
and prints the status codes as JSON on the last line.
"""

import json
import os
import sys
import threading
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4


def main(workdir: Path) -> None:
    import faulthandler

    faulthandler.dump_traceback_later(240, exit=True)  # a hang shows where, then ends
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'race.sqlite3'}"
    os.environ["TADASU_VAR_DIR"] = str(workdir / "var")
    os.environ["DJANGO_DEBUG"] = "1"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))

    import logging

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_scopes import scopes_disabled

    from cases.models import Role
    from cases.scoping import tenant_scope
    from cases.services import case_open, party_add
    from remedies import ledger
    from tests.factories import ContractorFactory, MunicipalityFactory, OfficeFactory, member

    call_command("migrate", verbosity=0)
    logging.getLogger("axes").setLevel(logging.WARNING)
    city = MunicipalityFactory(name="北九州市", code="401005")
    office = OfficeFactory(municipality=city)
    ContractorFactory(serves=[city])
    staff = member(Role.STAFF, municipality=city, username="staff")
    with tenant_scope(staff):
        case = case_open(by=staff, office=office, kind="cashless", discovered_on=date(2023, 2, 7))
        c = party_add(case=case, by=staff, label="C氏", name="佐藤 花子")
        d = party_add(case=case, by=staff, label="D氏", name="鈴木 次郎")
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=30000, on=date(2023, 2, 10), by=staff
        )
    with scopes_disabled():
        head = ledger.ledger_head(case)
    form = {
        "party": c.pk,
        "amount": "10000",
        "side": "municipality",
        "method": "cash",
        "on": "2023-03-01",
        "note": "",
        "expected_head": head,
    }
    url = f"/cases/{case.reference}/ledger/payment/new/"
    connection.close()

    start = threading.Barrier(WRITERS, timeout=60)
    statuses: list[int] = []

    def post() -> None:
        client = Client(raise_request_exception=False)
        client.force_login(staff)
        start.wait()
        statuses.append(client.post(url, form).status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with scopes_disabled():
        payments = ledger.LedgerEntry.objects.filter(case=case, kind="payment").count()
    print(json.dumps({"statuses": sorted(statuses), "payments": payments}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
