"""cases.bulk.insert writes what bulk_create writes: the same values read back (encrypted
fields encrypted and read back clear, JSON, dates, times, addresses, flags, foreign keys),
ids in the order given and past every id taken before, and the database's refusals as
Django's own errors."""

import uuid
from datetime import UTC, date, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django_scopes import scopes_disabled

from cases import bulk
from cases.models import AuditEntry, Case, Party, TimelineEvent
from tests.factories import CaseFactory, PartyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unscoped():
    with scopes_disabled():
        yield


SKIP = {"id", "case_id"}


def _parties(case: Case, n: int, tag: str) -> list[Party]:
    return [
        PartyFactory.build(
            case=case,
            case_id=case.pk,
            label=f"{tag}{i}氏",
            identified=i % 2 == 0,
            name=f"対象 {i}",
            phone=f"093-582-{i:04d}" if i % 3 else "",
            address="北九州市小倉北区城内1番1号",
            account_number="1234567",
            identified_on=date(2023, 3, i % 28 + 1) if i % 2 == 0 else None,
        )
        for i in range(n)
    ]


def _entries(n: int, tag: str, chains: int = 999_000) -> list[AuditEntry]:
    at = datetime(2023, 3, 16, 9, 30, tzinfo=UTC)
    return [
        AuditEntry(
            at=at,
            action=f"test.{tag}",
            object_type="case",
            object_id=str(i),
            data={"金額": i * 1000, "理由": "誤登録", "list": [1, None, True]},
            client_address="192.0.2.1" if i % 2 else None,
            chain=chains + i,
            seq=i + 1,
            key_id="k1",
            prev_mac="0" * 64,
            mac=f"{i:064d}",
        )
        for i in range(n)
    ]


def _read(model, ids):
    with scopes_disabled():
        rows = model.objects.filter(pk__in=ids).order_by("pk")
        return [
            {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}
            for row in rows
        ]


def _same(a: list[dict], b: list[dict], ignore: set[str]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if k not in ignore} == {
            k: v for k, v in y.items() if k not in ignore
        }


def test_parties_read_back_as_bulk_create_writes_them():
    case = CaseFactory()
    with transaction.atomic():
        by_django = Party.objects.bulk_create(_parties(case, 12, "D"))
        mine = _parties(case, 12, "M")
        bulk.insert(mine)
    ignore = SKIP | {"label"}
    _same(_read(Party, [p.pk for p in by_django]), _read(Party, [p.pk for p in mine]), ignore)
    assert [p.label for p in Party.objects.filter(pk__in=[p.pk for p in mine]).order_by("pk")] == [
        f"M{i}氏" for i in range(12)
    ]
    # Encrypted at rest, as the field writes it: no clear text in the column.
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, account_number FROM cases_party WHERE id = %s", [mine[1].pk])
        phone, account = cursor.fetchone()
    assert "093-582" not in phone and "1234567" not in account


def test_audit_entries_read_back_as_bulk_create_writes_them():
    with transaction.atomic():
        by_django = AuditEntry.objects.bulk_create(_entries(7, "x"))
        mine = _entries(7, "x", chains=998_000)
        bulk.insert(mine)
    _same(
        _read(AuditEntry, [e.pk for e in by_django]),
        _read(AuditEntry, [e.pk for e in mine]),
        SKIP | {"chain"},
    )
    assert AuditEntry.objects.get(pk=mine[3].pk).data == {
        "金額": 3000,
        "理由": "誤登録",
        "list": [1, None, True],
    }


def test_ids_ascend_in_the_order_given_past_every_id_taken_before():
    case = CaseFactory()
    with transaction.atomic():
        first = PartyFactory(case=case)
        rows = _parties(case, 5, "A")
        bulk.insert(rows)
        ids = [p.pk for p in rows]
        assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] > first.pk
        assert all(not p._state.adding for p in rows)
        after = PartyFactory(case=case)  # the database's own next id comes after them
        assert after.pk > ids[-1]


def test_a_created_time_is_set_as_on_save():
    before = datetime.now(UTC)
    other = CaseFactory()
    case = CaseFactory.build(office=other.office, created_by=other.created_by)
    with transaction.atomic():
        bulk.insert([case])
    saved = Case.objects.get(pk=case.pk)
    assert saved.created_at >= before and saved.updated_at >= before


def test_a_refused_row_raises_djangos_integrity_error_and_writes_nothing():
    case = CaseFactory()
    count = Party.objects.count()
    rows = _parties(case, 3, "X")
    rows[2].case_id = 2**40  # no such case: the foreign key refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(rows)
        connection.check_constraints()  # SQLite checks foreign keys at the commit
    assert Party.objects.count() == count


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses():
    with pytest.raises(RuntimeError):
        bulk.insert(_entries(1, "y"))


def test_nothing_to_insert_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk.insert([])


def test_the_id_of_a_deleted_last_row_is_not_given_again():
    case = CaseFactory()
    with transaction.atomic():
        gone = PartyFactory(case=case)
        gone_id = gone.pk
        gone.delete()
        rows = _parties(case, 2, "R")
        bulk.insert(rows)
    assert min(p.pk for p in rows) > gone_id


def _ledger_rows(case: Case, n: int, tag: str) -> list:
    from remedies.models import LedgerEntry

    party = PartyFactory(case=case, label=f"{tag}氏")
    group = uuid.UUID(int=0x1234_5678_9ABC)
    return [
        LedgerEntry(
            case=case,
            party=party,
            kind="misallocation",
            delta=(-1) ** i * 1000 * (i + 1),
            on=date(2023, 3, i + 1),
            note=f"{tag}{i}",
            group=group if i % 2 else None,
            created_by=case.created_by,
        )
        for i in range(n)
    ]


def test_dates_times_and_uuids_read_back_as_bulk_create_writes_them():
    # On PostgreSQL these go to COPY unconverted (psycopg writes them); on SQLite the ORM
    # converts them. Either way, what is read back is what bulk_create leaves.
    from remedies.models import LedgerEntry

    case = CaseFactory()
    with transaction.atomic():
        by_django = LedgerEntry.objects.bulk_create(_ledger_rows(case, 4, "D"))
        mine = _ledger_rows(case, 4, "M")
        bulk.insert(mine)
    ignore = SKIP | {"party_id", "note", "created_at"}
    _same(
        _read(LedgerEntry, [e.pk for e in by_django]),
        _read(LedgerEntry, [e.pk for e in mine]),
        ignore,
    )
    read = LedgerEntry.objects.get(pk=mine[1].pk)
    assert read.group == uuid.UUID(int=0x1234_5678_9ABC) and read.on == date(2023, 3, 2)
    assert read.created_at.tzinfo is not None


def test_a_naive_time_is_made_aware_as_the_orm_makes_it():
    entries = _entries(1, "naive", chains=997_000)
    entries[0].at = datetime(2023, 3, 16, 9, 30)  # naive on purpose
    by_django = _entries(1, "naive", chains=996_000)
    by_django[0].at = datetime(2023, 3, 16, 9, 30)
    with pytest.warns(RuntimeWarning), transaction.atomic():
        AuditEntry.objects.bulk_create(by_django)
        bulk.insert(entries)
    assert (
        AuditEntry.objects.get(pk=entries[0].pk).at == AuditEntry.objects.get(pk=by_django[0].pk).at
    )


def test_a_row_keyed_by_its_case_is_written_with_that_key():
    # A case's ledger totals: its primary key is the case (one to one), not an id taken.
    from remedies.models import LedgerTotal

    cases = [CaseFactory(), CaseFactory()]
    rows = [LedgerTotal(case=case, owed=100 * (i + 1)) for i, case in enumerate(cases)]
    with transaction.atomic():
        bulk.insert(rows)
    assert [(t.case_id, t.owed) for t in LedgerTotal.objects.order_by("owed")] == [
        (cases[0].pk, 100),
        (cases[1].pk, 200),
    ]
    with pytest.raises(ValueError), transaction.atomic():
        bulk.insert([LedgerTotal(owed=1)])


def _made(row) -> tuple[dict, dict, bool, object]:
    values = {k: v for k, v in row.__dict__.items() if k != "_state"}
    return values, dict(row._state.fields_cache), row._state.adding, row._state.db


@pytest.mark.parametrize("with_objects", [True, False])
def test_new_makes_the_row_the_constructor_makes(with_objects):
    from remedies.models import ApologyLetter, LedgerEntry, LedgerTotal, Visit

    case = CaseFactory()
    party = PartyFactory(case=case)
    user = case.created_by
    related = (
        {"case": case, "party": party, "created_by": user}
        if with_objects
        else {"case_id": case.pk, "party_id": party.pk, "created_by_id": user.pk}
    )
    shapes = [
        (
            TimelineEvent,
            {
                **({"case": case, "created_by": user} if with_objects else {"case_id": case.pk}),
                "occurred_on": date(2023, 3, 1),
                "actor": "北九州市",
                "text": "謝罪した。",
                "action": "visit.recorded",
                "public": False,
            },
        ),
        (
            AuditEntry,
            {
                "at": datetime(2023, 3, 16, tzinfo=UTC),
                "action": "tadasu.case.opened",
                **({"case": case, "user": None} if with_objects else {"case_id": case.pk}),
                "data": {"reference": "401005-2022-001"},
                "chain": 1,
                "seq": 2,
            },
        ),
        (LedgerEntry, {**related, "kind": "payment", "delta": -5000, "on": date(2023, 3, 2)}),
        (Party, {"case": case, "label": "E氏", "phone": "093-582-0000", "identified": True}),
        (Visit, {**related, "visited_on": date(2023, 3, 3), "place": "自宅", "apologised": True}),
        (ApologyLetter, {**related, "sent_on": date(2023, 3, 4), "note": "郵送"}),
        (LedgerTotal, {"case": case, "owed": 5000, "held": 0}),
        # A default to call (data: dict) when no value is given for it.
        (AuditEntry, {"at": datetime(2023, 3, 16, tzinfo=UTC), "action": "x", "seq": 1}),
    ]
    for model, values in shapes:
        assert _made(bulk.new(model, **values)) == _made(model(**values)), model


def test_new_leaves_a_field_with_a_descriptor_of_its_own_to_the_constructor():
    # A file field wraps its value (FieldFile) when set: only its constructor does that.
    from remedies.models import Document

    assert bulk._plan(Document) is bulk._CONSTRUCTOR
    assert bulk._plan(TimelineEvent) is not bulk._CONSTRUCTOR


def test_new_leaves_a_name_it_does_not_know_to_the_constructor():
    # A property, a misspelt field: Django's own constructor answers (here, a TypeError).
    with pytest.raises(TypeError):
        bulk.new(TimelineEvent, no_such_field=1)
    case = Case.objects.none().model(summary="x")
    assert bulk.new(Case, summary="x").summary == case.summary  # Case has init receivers


def test_ids_reserved_together_are_each_tables_own_and_written_as_given():
    case = CaseFactory()
    with transaction.atomic():
        ids = bulk.reserve_ids({Party: 3, TimelineEvent: 2, AuditEntry: 0})
        if connection.vendor != "postgresql":
            assert ids == {}  # SQLite: insert() takes them as it writes
        else:
            assert set(ids) == {Party, TimelineEvent}
            assert len(set(ids[Party])) == 3 and ids[Party] == sorted(ids[Party])
        parties = _parties(case, 3, "R")
        bulk.insert(parties, ids.get(Party))
        if ids:
            assert [p.pk for p in parties] == ids[Party]
        after = PartyFactory(case=case)  # the sequence's next comes after them
        assert after.pk > max(p.pk for p in parties)
        with pytest.raises(ValueError):
            bulk.insert(_parties(case, 2, "W"), [1])
    assert Party.objects.filter(label__startswith="R").count() == 3


# ---- overlapped(): the COPYs sent from a thread (PostgreSQL) ----------------------------


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("bulk.overlapped sends COPYs from a thread on PostgreSQL only")


def test_overlapped_rows_are_written_before_the_callers_next_statement(postgresql):
    case = CaseFactory()
    with transaction.atomic():
        plain = _parties(case, 40, "P")
        bulk.insert(plain)
        sent = bulk.copies_sent()
        with bulk.overlapped():
            rows = _parties(case, 40, "O")
            bulk.insert(rows)
            assert bulk.copies_sent() == sent  # formatted, not sent yet
            bulk.send()
            # The next statement of the caller waits for them.
            assert Party.objects.filter(label__startswith="O").count() == 40
            assert bulk.copies_sent() == sent + 1
            later = _parties(case, 3, "L")
            bulk.insert(later)  # sent by the block's end, without send()
        assert Party.objects.filter(label__startswith="L").count() == 3
    _same(_read(Party, [p.pk for p in plain]), _read(Party, [p.pk for p in rows]), SKIP | {"label"})


def test_send_returns_while_the_rows_are_still_being_written(postgresql):
    """The caller goes on while the thread's COPY waits: here on a lock another connection
    holds on the table. Were send() to wait for the COPY, the lock timeout would fail it."""
    import psycopg

    case = CaseFactory()
    other = psycopg.connect(**connection.get_connection_params())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            with bulk.overlapped():
                other.execute("LOCK TABLE cases_party IN SHARE MODE")
                bulk.insert(_parties(case, 5, "W"))
                bulk.send()
                sender = bulk._sender[connection.alias]
                assert not sender.idle.wait(0.3)  # still writing, and the caller is here
                other.rollback()  # the lock let go: the COPY goes on
                assert Party.objects.filter(label__startswith="W").count() == 5
    finally:
        other.close()


def test_a_refusal_in_the_thread_is_djangos_error_at_the_callers_next_statement(postgresql):
    case = CaseFactory()
    count = Party.objects.count()
    rows = _parties(case, 3, "X")
    rows[1].case_id = 2**40  # no such case: the foreign key refuses it, in the thread
    reached = []
    with pytest.raises(IntegrityError), transaction.atomic(), bulk.overlapped():
        bulk.insert(rows)
        bulk.send()
        reached.append("sent")
        Party.objects.count()  # raises what the thread met (the foreign key, not at commit)
        reached.append("read")
    assert reached == ["sent"]
    assert Party.objects.count() == count
    assert bulk._sender == {}


def test_overlapped_does_nothing_outside_postgresql_or_a_transaction():
    case = CaseFactory()
    with transaction.atomic():
        with bulk.overlapped():
            rows = _parties(case, 2, "S")
            bulk.insert(rows)
            if connection.vendor != "postgresql":
                assert bulk._sender == {}  # written at once, as without it
                assert Party.objects.filter(label__startswith="S").count() == 2
        assert Party.objects.filter(label__startswith="S").count() == 2


def test_a_value_psycopg_will_not_write_is_djangos_error_in_overlapped_too(postgresql):
    from django.db import DataError

    case = CaseFactory()
    rows = _parties(case, 2, "N")
    rows[1].label = "N\x00"  # PostgreSQL's text holds no NUL: psycopg refuses to write it
    with pytest.raises(DataError), transaction.atomic(), bulk.overlapped():
        bulk.insert(rows)


def test_ids_reserved_apart_come_back_each_one(postgresql):
    """Ids that do not follow one another (here a sequence stepping by 3; in production,
    another transaction taking some meanwhile) are each given, not a range."""
    case = CaseFactory()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER SEQUENCE cases_party_id_seq INCREMENT BY 3")
        ids = bulk.reserve_ids({Party: 4, TimelineEvent: 3})
        assert all(b - a == 3 for a, b in zip(ids[Party], ids[Party][1:], strict=False))
        assert len(ids[Party]) == 4
        events = ids[TimelineEvent]
        assert events == list(range(events[0], events[0] + 3))  # its own sequence: a range
        parties = _parties(case, 4, "G")
        bulk.insert(parties, ids[Party])
        assert [p.pk for p in Party.objects.filter(label__startswith="G").order_by("pk")] == ids[
            Party
        ]
        with connection.cursor() as cursor:
            cursor.execute("ALTER SEQUENCE cases_party_id_seq INCREMENT BY 1")


def test_a_value_of_another_type_is_converted_as_the_orm_converts_it():
    """Rows are read in one call and their plain fields' types checked in one: a value that
    is not plain text, a whole number or a flag (a lazy translation, a number in a text
    field) still goes through the field's own conversion."""
    from django.utils.translation import gettext_lazy

    case = CaseFactory()
    rows = _parties(case, 3, "T")
    rows[0].label = gettext_lazy("Cases")
    rows[1].identification_note = 12345
    with transaction.atomic():
        bulk.insert(rows)
    saved = {p.pk: p for p in Party.objects.filter(pk__in=[r.pk for r in rows])}
    assert saved[rows[0].pk].label == str(gettext_lazy("Cases"))
    assert saved[rows[1].pk].identification_note == "12345"
    assert saved[rows[2].pk].label == "T2氏"


def test_overlapped_shortens_the_switch_interval_while_it_runs_and_restores_it(postgresql):
    """The sender's thread gets the GIL back soon after each wait on the server; the
    interpreter's own interval again once the last block of the process ends, even one
    that ended in an error."""
    import sys

    before = sys.getswitchinterval()
    with transaction.atomic():
        with bulk.overlapped():
            assert sys.getswitchinterval() == bulk._SWITCH_INTERVAL < before
        assert sys.getswitchinterval() == before
    with pytest.raises(ZeroDivisionError), transaction.atomic(), bulk.overlapped():
        assert sys.getswitchinterval() == bulk._SWITCH_INTERVAL
        1 / 0  # noqa: B018
    assert sys.getswitchinterval() == before


def test_the_next_batchs_ids_are_taken_ahead_by_the_thread_and_ascend(postgresql):
    """After a batch is sent, its thread takes the next batch's ids (as many as this one
    took, and a quarter more): the caller's next reserve_ids gets them without a statement
    of its own, and past them what it asks beyond; they ascend across batches."""
    case = CaseFactory()
    with transaction.atomic(), bulk.overlapped():
        sender = bulk._sender[connection.alias]
        first = bulk.reserve_ids({Party: 4})[Party]
        bulk.insert(_parties(case, 4, "A"), first)
        bulk.send()
        sender.wait()
        ahead = list(sender.ahead[Party])
        assert len(ahead) == 6 and ahead[0] > first[-1]  # int(4 * 1.25) + 1
        second = bulk.reserve_ids({Party: 3})[Party]
        assert second == ahead[:3]
        third = bulk.reserve_ids({Party: 5})[Party]  # three left ahead, two taken now
        assert third[:3] == ahead[3:] and third == sorted(set(third)) and len(third) == 5
        bulk.insert(_parties(case, 8, "B"), second + third)
    assert [p.pk for p in Party.objects.filter(label__regex=r"^[AB]").order_by("pk")] == (
        first + second + third
    )


def test_a_statement_between_batches_sets_aside_the_ids_taken_ahead(postgresql):
    """A row inserted by any other statement takes the sequence's next id, past those the
    thread took ahead; the next batch's rows then take ids past it, so that a table's ids
    still ascend in the order its rows were made (cases by the order they were opened)."""
    case = CaseFactory()
    with transaction.atomic(), bulk.overlapped():
        sender = bulk._sender[connection.alias]
        bulk.insert(_parties(case, 2, "C"), bulk.reserve_ids({Party: 2})[Party])
        bulk.send()
        sender.wait()
        assert sender.ahead[Party]
        between = PartyFactory(case=case, label="D")  # as a replayed case's service would
        later = bulk.reserve_ids({Party: 2})[Party]
        assert later[0] > between.pk
        bulk.insert(_parties(case, 2, "E"), later)
    labels = Party.objects.filter(label__regex=r"^[CDE]").order_by("pk")
    assert [p.label[0] for p in labels] == ["C", "C", "D", "E", "E"]
