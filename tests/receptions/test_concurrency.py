"""Two clerks pressing the same button at once (PostgreSQL only, like tests/remedies)."""

import threading
import time
from datetime import date

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.models import CaseKind, Party
from cases.scoping import tenant_scope
from receptions import services
from receptions.errors import ReceptionError, SheetRefused
from receptions.models import Counterpart, Reception, ReceptionSheet

from ..remedies.test_concurrency import _at_once
from .conftest import MAPPING
from .sheets import reception_csv

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every writer",
    ),
    pytest.mark.django_db(transaction=True),
]


def _rows(world):
    return [
        (world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "途中退席"),
        (world.office.name, "2", "2023-02-07 10:30", "10:55", "佐藤 花子", "完了", "済", "済"),
    ]


def test_two_clerks_adding_the_same_counterpart_add_it_once(world, import_rows):
    sheet = import_rows(_rows(world))
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
        )
        case_services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
    with scopes_disabled():
        c = sheet.receptions.get(citizen_name="佐藤 花子")
        d = sheet.receptions.get(citizen_name="鈴木 次郎")

    def add(user, case):
        affected = Reception.objects.get(pk=c.pk)
        candidate = Reception.objects.get(pk=d.pk)
        return services.counterpart_add(case=case, affected=affected, candidate=candidate, by=user)

    outcomes = _at_once((world.staff, case, add), (world.manager, case, add))
    assert sum(isinstance(o, Counterpart) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ReceptionError) for o in outcomes) == 1, outcomes
    with scopes_disabled():
        assert Party.objects.filter(case=case, name="鈴木 次郎").count() == 1


def test_the_same_sheet_confirmed_twice_at_once_is_imported_once(world):
    data = reception_csv(_rows(world))
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
        )

    def confirm(user, case):
        return services.sheet_import(data=data, file_name="x.csv", mapping=MAPPING, by=user)

    outcomes = _at_once((world.staff, case, confirm), (world.manager, case, confirm))
    assert sum(isinstance(o, ReceptionSheet) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, SheetRefused) for o in outcomes) == 1, outcomes
    with scopes_disabled():
        assert Reception.objects.count() == 2


def test_a_sheet_import_halfway_keeps_no_other_municipality_waiting(world):
    """The rows of a large sheet are being written in one transaction (stopped after its
    first batch) while みなと市's staff open a case and record its 経過: they must not wait
    for the sheet."""
    rows = [
        (
            world.office.name,
            "1",
            f"2023-02-07 {9 + i % 8:02d}:{i % 60:02d}",
            "",
            "佐藤 花子",
            "完了",
        )
        for i in range(services.BATCH * 2 + 1)
    ]
    data = reception_csv(rows)
    halfway, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def stop_halfway(done: int, total: int) -> None:
        if done == services.BATCH:
            halfway.set()
            go_on.wait(timeout=15)

    def importer():
        try:
            with tenant_scope(world.staff):
                outcomes["sheet"] = services.sheet_import(
                    data=data,
                    file_name="uketsuke.csv",
                    mapping=MAPPING,
                    contractor=world.contractor_co,
                    by=world.staff,
                    progress=stop_halfway,
                )
        except Exception as error:  # the outcome under test
            outcomes["sheet"] = error
        finally:
            connection.close()

    def other_city():
        try:
            assert halfway.wait(timeout=60), "the sheet import never got halfway"
            started = time.monotonic()
            staff = world.staff_other_city
            with tenant_scope(staff):
                case = case_services.case_open(
                    by=staff,
                    office=world.other_city_office,
                    kind=CaseKind.OTHER,
                    discovered_on=date(2023, 2, 7),
                )
                case_services.timeline_add(
                    case=case,
                    by=staff,
                    occurred_on=date(2023, 2, 8),
                    actor="みなと市",
                    text="本人に連絡。",
                )
            outcomes["other"] = time.monotonic() - started
            outcomes["sheet still open"] = not go_on.is_set()
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
    assert outcomes["other"] < 5, f"the other city waited {outcomes['other']:.1f} s"
    assert outcomes["sheet still open"]
    assert isinstance(outcomes["sheet"], ReceptionSheet), outcomes["sheet"]
    with scopes_disabled():
        assert Reception.objects.filter(sheet=outcomes["sheet"]).count() == len(rows)
