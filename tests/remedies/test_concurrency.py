"""Two people pressing the same button at the same moment (PostgreSQL only).

Each request runs in its own thread with its own connection and its own tenant scope; a
barrier releases them together. The row lock on the case and the ledger head or stage that
each form carries must let exactly one of them through and tell the other to reload.
"""

import threading
import time
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection, transaction
from django_scopes import scopes_disabled

from cases import services
from cases.audit import audit_batch
from cases.models import (
    Agency,
    AuditEntry,
    Case,
    CaseKind,
    CauseCategory,
    DataKind,
    Stage,
    TimelineEvent,
    User,
)
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.errors import RemedyError
from remedies.models import (
    Channel,
    CityLedgerTotal,
    EntryKind,
    LedgerEntry,
    Method,
    Purpose,
    Side,
)
from remedies.workflow import case_transition

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every writer with one "
        "database lock, so the row-lock races under test cannot happen there",
    ),
    pytest.mark.django_db(transaction=True),
]

ON = date(2023, 3, 7)


def _at_once(*requests):
    """Run each (user, call) as a request of its own: its own thread, connection and tenant
    scope. Each loads the case as a view would, then all call the service together.
    Returns what each call returned or raised, in order."""
    barrier = threading.Barrier(len(requests))
    outcomes = [None] * len(requests)

    def run(index, user_pk, case_pk, call):
        try:
            user = User.objects.get(pk=user_pk)
            with tenant_scope(user):
                case = Case.objects.get(pk=case_pk)
                barrier.wait(timeout=10)
                outcomes[index] = call(user, case)
        except Exception as error:  # the outcome under test, success or refusal
            outcomes[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, user.pk, case.pk, call))
        for index, (user, case, call) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return outcomes


def _one_won(outcomes):
    """Exactly one request went through; the other was told the case changed under it."""
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1, f"expected exactly one success, got {outcomes!r}"
    assert isinstance(lost[0], RemedyError), repr(lost[0])
    assert lost[0].conflict
    return won[0]


def _case(world, *, stage: str = Stage.INQUIRY, owed: int = 0):
    """C and D identified, D's cashless account linked into C's record, cause and
    prevention recorded; walked through the services to `stage`."""
    staff = world.staff
    with tenant_scope(staff):
        case = services.case_open(
            by=staff,
            office=world.office,
            contractor=world.contractor_co,
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
        if stage == Stage.INQUIRY:
            return case, c, d
        agency, _ = Agency.objects.get_or_create(
            name="マイナポイント緊急窓口", defaults={"kind": Agency.Kind.HELPDESK}
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
        if owed:
            ledger.ledger_post_misallocation(
                case=case, owed=c, holder=d, amount=owed, on=ON, by=staff
            )
        if stage == Stage.AGENCY_CONTACT:
            return case, c, d
        assert stage == Stage.SETTLEMENT and not owed
        case_transition(case=case, step="plan_visits", by=staff)
        for party in (c, d):
            remedies.visit_record(
                case=case,
                by=staff,
                party=party,
                visited_on=ON,
                place="宅",
                purpose=Purpose.APOLOGY,
            )
        case_transition(case=case, step="settle", by=staff)
    return case, c, d


def _balances(case) -> dict[str, int]:
    with scopes_disabled():
        return {b.party.label: b.amount for b in ledger.balances(case)}


def _stage_events(case) -> list[str]:
    with scopes_disabled():
        return list(
            TimelineEvent.objects.filter(case=case, action__startswith="stage.")
            .order_by("id")
            .values_list("action", flat=True)
        )


def test_two_identical_payments_at_once_post_only_one(world):
    case, c, _ = _case(world, stage=Stage.AGENCY_CONTACT, owed=10_000)
    with scopes_disabled():
        head = ledger.ledger_head(case)  # what both payment forms carry

    def pay(by, case):
        # 4,000 of 10,000 owed: only the stale head, not the balance, can refuse the second.
        return ledger.ledger_post_payment(
            case=case,
            party=c,
            amount=4_000,
            side=Side.CONTRACTOR,
            method=Method.CASH,
            on=ON,
            by=by,
            expected_head=head,
        )

    _one_won(_at_once((world.staff, case, pay), (world.manager, case, pay)))
    with scopes_disabled():
        assert LedgerEntry.objects.filter(case=case, kind=EntryKind.PAYMENT).count() == 1
        assert TimelineEvent.objects.filter(case=case, action="ledger.payment").count() == 1
    assert _balances(case) == {"C氏": 6_000, "D氏": -10_000}


def test_the_same_step_pressed_twice_at_once_moves_the_case_once(world):
    case, _, _ = _case(world)

    def refer(by, case):
        return case_transition(case=case, step="refer", by=by, expected_stage=Stage.INQUIRY)

    moved = _one_won(_at_once((world.staff, case, refer), (world.manager, case, refer)))
    assert moved.stage == Stage.AGENCY_CONTACT
    with scopes_disabled():
        assert Case.objects.get(pk=case.pk).stage == Stage.AGENCY_CONTACT
        assert AuditEntry.objects.filter(case=case, action="tadasu.case.stage.refer").count() == 1
    assert _stage_events(case) == ["stage.refer"]


def test_two_different_steps_from_one_stage_at_once_only_one_is_taken(world):
    case, _, _ = _case(world, stage=Stage.AGENCY_CONTACT, owed=5_000)

    def negotiate(by, case):
        return case_transition(
            case=case, step="negotiate", by=by, expected_stage=Stage.AGENCY_CONTACT
        )

    def withdraw(by, case):
        return case_transition(
            case=case,
            step="withdraw",
            by=by,
            expected_stage=Stage.AGENCY_CONTACT,
            note="重複登録のため",
        )

    moved = _one_won(_at_once((world.staff, case, negotiate), (world.manager, case, withdraw)))
    assert moved.stage in (Stage.NEGOTIATION, Stage.WITHDRAWN)
    with scopes_disabled():
        assert Case.objects.get(pk=case.pk).stage == moved.stage
    step = "negotiate" if moved.stage == Stage.NEGOTIATION else "withdraw"
    assert _stage_events(case) == ["stage.refer", f"stage.{step}"]


def _wait_until_waiting_for_a_lock(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return True
            time.sleep(0.02)
    return False


def test_a_posting_racing_the_close_cannot_leave_a_closed_case_owing(world):
    """The clerk's page was loaded while the case was in settlement; the manager's close
    commits while the clerk's posting waits for the row lock. The posting must be refused
    on the row it locked, not let through on the stage its page showed."""
    case, c, d = _case(world, stage=Stage.SETTLEMENT)
    closed_uncommitted = threading.Event()
    clerk_pid: list[int] = []
    clerk_waited: list[bool] = []

    def close(by, case):
        with transaction.atomic():
            moved = case_transition(case=case, step="close", by=by, expected_stage=Stage.SETTLEMENT)
            closed_uncommitted.set()
            assert closed_uncommitted.wait(10)
            while not clerk_pid:
                time.sleep(0.01)
            clerk_waited.append(_wait_until_waiting_for_a_lock(clerk_pid[0]))
        return moved

    def post(by, case):
        assert closed_uncommitted.wait(10)
        page = Case.objects.get(pk=case.pk)  # sees settlement: the close is not committed
        assert page.stage == Stage.SETTLEMENT
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            clerk_pid.append(cursor.fetchone()[0])
        return ledger.ledger_post_misallocation(
            case=page, owed=c, holder=d, amount=5_000, on=ON, by=by
        )

    closed, posted = _at_once((world.manager, case, close), (world.staff, case, post))
    assert clerk_waited == [True], "the posting never waited for the close's row lock"
    assert not isinstance(closed, Exception), repr(closed)
    assert isinstance(posted, PermissionDenied), repr(posted)
    with scopes_disabled():
        assert Case.objects.get(pk=case.pk).stage == Stage.CLOSED
        assert not LedgerEntry.objects.filter(case=case).exists()
    assert _balances(case) == {"C氏": 0, "D氏": 0}


def test_two_cases_handed_between_two_contractors_at_once_both_go_through(world):
    """The city's money totals are kept per contractor; two cases handed in opposite
    directions at once lock the same two rows, in one order, so neither waits forever (a
    deadlock would fail one of them) and the totals follow both cases."""
    first, _, _ = _case(world, stage=Stage.AGENCY_CONTACT, owed=3_000)
    second, _, _ = _case(world, stage=Stage.AGENCY_CONTACT, owed=5_000)
    with tenant_scope(world.staff):
        services.case_update(case=second, by=world.staff, contractor=world.other_co)

    def hand_to(contractor):
        def call(by, case):
            return services.case_update(case=case, by=by, contractor=contractor)

        return call

    for _round in range(5):
        outcomes = _at_once(
            (world.staff, first, hand_to(world.other_co)),
            (world.manager, second, hand_to(world.contractor_co)),
        )
        assert not any(isinstance(o, Exception) for o in outcomes), outcomes
        first, second = second, first
    with scopes_disabled():
        totals = {
            row.contractor_id: (row.owed, row.held)
            for row in CityLedgerTotal.objects.filter(municipality=world.city)
        }
    # After an odd number of swaps, each case sits with the other's former contractor.
    assert totals == {world.contractor_co.pk: (5_000, 5_000), world.other_co.pk: (3_000, 3_000)}
    call_command("ledger_totals", "--check")


def test_a_posting_while_an_import_holds_the_audit_head_waits_and_both_go_through(world):
    """An import holds the audit head for its whole run and posts to the city's money row
    of a contractor. A clerk's posting meanwhile, to another case of the same city and
    contractor, must wait for the head before it takes that row: if it took the row first,
    each would wait for the other (PostgreSQL would end one of them as a deadlock)."""
    first, c1, d1 = _case(world, stage=Stage.AGENCY_CONTACT)
    second, c2, d2 = _case(world, stage=Stage.AGENCY_CONTACT)
    head_held = threading.Event()
    outcomes = {}

    def importer():
        try:
            with tenant_scope(world.staff), audit_batch():
                head_held.set()
                time.sleep(0.5)  # the clerk's posting starts meanwhile
                ledger.ledger_post_misallocation(
                    case=first, owed=c1, holder=d1, amount=3_000, on=ON, by=world.staff
                )
            outcomes["import"] = "ok"
        except Exception as error:  # the outcome under test
            outcomes["import"] = error
        finally:
            connection.close()

    def clerk():
        try:
            head_held.wait(timeout=10)
            with tenant_scope(world.manager):
                ledger.ledger_post_misallocation(
                    case=second, owed=c2, holder=d2, amount=5_000, on=ON, by=world.manager
                )
            outcomes["clerk"] = "ok"
        except Exception as error:  # the outcome under test
            outcomes["clerk"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=importer), threading.Thread(target=clerk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == {"import": "ok", "clerk": "ok"}
    with scopes_disabled():
        row = CityLedgerTotal.objects.get(municipality=world.city, contractor=world.contractor_co)
    assert (row.owed, row.held) == (8_000, 8_000)
    call_command("ledger_totals", "--check")
