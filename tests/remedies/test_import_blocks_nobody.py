"""A case-file import holds nothing another municipality needs (PostgreSQL only).

The import runs in one transaction in its own thread and connection; it is stopped halfway
(its first cases replayed, the city's audit head, case numbers and money rows locked) while
staff of another municipality work a case of their own in another thread: they must not
wait for the import to end. Afterwards both are committed and the audit chains and the
ledger totals check.
"""

import threading
import time
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from cases import services
from cases.audit import audit_log
from cases.audit_verify import verify_chain
from cases.models import (
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    Contractor,
    DataKind,
    Office,
    User,
)
from cases.scoping import tenant_scope
from remedies import interchange, ledger
from remedies import services as remedies
from remedies.demo import OTHER_CITY, OTHER_CONTRACTOR, demo_case_copies
from remedies.interchange import replay
from remedies.models import Channel
from remedies.workflow import case_transition

from .test_import_stream import write
from .test_interchange import demo_reference_data

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite has one lock for the whole "
        "database, so any writer waits for an import there",
    ),
    pytest.mark.django_db(transaction=True),
]

ON = date(2023, 3, 7)
WAIT = 5  # seconds the other city's work may take at most (it takes well under one)


def _other_city_works_a_case() -> None:
    """みなと市's staff open a case at a desk of the contractor both cities share, and take
    it to a posting in the ledger: a case number, 経過 lines, audit entries in their own
    chain, the city's money row for that contractor."""
    with scopes_disabled():
        staff = User.objects.get(username="staff-other-city")
        office = Office.objects.get(municipality__name=OTHER_CITY)
        shared = Contractor.objects.get(name=OTHER_CONTRACTOR)
        agency = Agency.objects.get(name="マイナポイント緊急窓口")
    with tenant_scope(staff):
        case = services.case_open(
            by=staff,
            office=office,
            contractor=shared,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="ログアウト漏れ",
            prevention="一人の対応を終える度に必ずログアウトする。",
        )
        c = services.party_add(case=case, by=staff, label="C氏", name="佐藤 花子")
        d = services.party_add(case=case, by=staff, label="D氏", name="鈴木 次郎")
        services.misregistration_add(
            case=case,
            by=staff,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            corrected_on=date(2023, 2, 7),
        )
        remedies.contact_add(
            case=case,
            by=staff,
            agencies=[agency],
            contacted_on=date(2023, 2, 7),
            channel=Channel.PHONE,
            request="対応できるか確認。",
            answered_on=date(2023, 2, 7),
            answer="対応できる旨の回答。",
        )
        case_transition(case=case, step="refer", by=staff)
        ledger.ledger_post_misallocation(case=case, owed=c, holder=d, amount=5_000, on=ON, by=staff)
    # An entry of no municipality (a failed log-in) meanwhile: its chain is not held either.
    audit_log("tadasu.auth.login_failed", by=None, data={"username": "someone"})


def test_another_municipality_works_while_an_import_is_halfway(tmp_path, monkeypatch):
    demo_reference_data()
    head, copies = demo_case_copies(8)
    path = write(tmp_path, {**head, "cases": list(copies)})
    halfway, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def stop_halfway(done: int, total: int) -> None:
        if done == 4:  # cases 1–4 read, the first of them replayed and checked
            halfway.set()
            go_on.wait(timeout=3 * WAIT)

    monkeypatch.setattr(replay, "PROGRESS_EVERY", 1)

    def importer():
        try:
            with path.open("rb") as stream:
                outcomes["import"] = interchange.import_file(stream, progress=stop_halfway)
        except Exception as error:  # the outcome under test
            outcomes["import"] = error
        finally:
            connection.close()

    def other_city():
        try:
            assert halfway.wait(timeout=60), "the import never got halfway"
            started = time.monotonic()
            _other_city_works_a_case()
            outcomes["other"] = time.monotonic() - started
            outcomes["import still open"] = not go_on.is_set()
        except Exception as error:  # the outcome under test
            outcomes["other"] = error
        finally:
            go_on.set()
            connection.close()

    threads = [threading.Thread(target=importer), threading.Thread(target=other_city)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert isinstance(outcomes["other"], float), outcomes["other"]
    assert outcomes["other"] < WAIT, f"the other city waited {outcomes['other']:.1f} s"
    assert outcomes["import still open"]
    assert len(outcomes["import"].cases) == 8, outcomes["import"]
    with scopes_disabled():
        assert Case.objects.filter(municipality__code="401005").count() == 8
        assert Case.objects.filter(municipality__name=OTHER_CITY).count() == 1
        _, problems = verify_chain()
    assert problems == []
    call_command("ledger_totals", "--check")
