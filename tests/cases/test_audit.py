"""The audit trail: one entry per write, hash-chained, append-only in the database."""

import hashlib
import importlib
import io
from datetime import UTC

import pytest
from django.contrib.auth import signals as auth_signals
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from cases.audit import (
    AuditRequestMiddleware,
    audit_keys,
    audit_log,
    municipality_version,
    reset_audit_keys,
)
from cases.audit_verify import verify_chain
from cases.models import (
    AuditEntry,
    Case,
    Misregistration,
    Party,
    TimelineEvent,
    User,
)
from remedies.models import (
    AgencyContact,
    ApologyLetter,
    CompensationAgreement,
    Document,
    LedgerEntry,
    Visit,
)

pytestmark = pytest.mark.django_db

TRIGGERS = {
    "sqlite": (
        ["DROP TRIGGER cases_auditentry_no_update", "DROP TRIGGER cases_auditentry_no_delete"]
    ),
    # Deferred foreign-key checks must fire first, or PostgreSQL refuses the ALTER.
    "postgresql": [
        "SET CONSTRAINTS ALL IMMEDIATE",
        "ALTER TABLE cases_auditentry DISABLE TRIGGER cases_auditentry_append_only",
    ],
}


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())


def _tamper(sql: str, params=()):
    """What an attacker with database access would do: switch the triggers off first.
    (Inside the test's transaction, so the triggers come back afterwards.)"""
    with connection.cursor() as cursor:
        for statement in TRIGGERS[connection.vendor]:
            cursor.execute(statement)
        cursor.execute(sql, params)


def test_the_database_refuses_to_change_or_delete_entries(demo):
    entry = AuditEntry.objects.first()
    for sql in (
        "UPDATE cases_auditentry SET action = 'x' WHERE id = %s",
        "DELETE FROM cases_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


def test_the_demo_trail_verifies(demo):
    count, problems = verify_chain()
    assert count > 40 and problems == []
    call_command("verify_audit", stdout=io.StringIO())


@pytest.mark.parametrize("how", ["change", "remove_middle", "remove_newest"])
def test_tampering_is_detected(demo, how):
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    if how == "change":
        _tamper(
            "UPDATE cases_auditentry SET data = %s WHERE id = %s",
            ['{"amount": 1}', ids[len(ids) // 2]],
        )
    elif how == "remove_middle":
        _tamper("DELETE FROM cases_auditentry WHERE id = %s", [ids[len(ids) // 2]])
    else:
        _tamper("DELETE FROM cases_auditentry WHERE id = %s", [ids[-1]])
    _, problems = verify_chain()
    assert problems
    with pytest.raises(CommandError):
        call_command(
            "verify_audit",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_every_write_of_the_demo_has_its_audit_entry(demo):
    """The figure for docs/SECURITY.md: rows written by services with an audit entry."""
    with scopes_disabled():
        models = [
            Case,
            Party,
            Misregistration,
            AgencyContact,
            CompensationAgreement,
            Visit,
            ApologyLetter,
            LedgerEntry,
            Document,
        ]
        audited = set(AuditEntry.objects.values_list("object_type", "object_id"))
        total = covered = 0
        for model in models:
            for pk in model.objects.values_list("pk", flat=True):
                total += 1
                covered += (model._meta.label_lower, str(pk)) in audited
        hand_lines = TimelineEvent.objects.filter(action="").count()
        hand_audited = AuditEntry.objects.filter(action="tadasu.timeline.added").count()
    print(f"AUDIT-COVERAGE rows={total + hand_lines} audited={covered + hand_audited}")
    assert total >= 30 and covered == total and hand_audited == hand_lines


def test_log_in_log_out_and_failed_log_in_are_audited(client, world):
    client.post(
        "/accounts/login/", {"username": "staff", "password": "wrong"}, REMOTE_ADDR="192.0.2.10"
    )
    client.post(
        "/accounts/login/",
        {"username": "staff", "password": "pw-for-tests-1"},
        REMOTE_ADDR="192.0.2.10",
    )
    client.post("/accounts/logout/", REMOTE_ADDR="192.0.2.10")
    entries = list(
        AuditEntry.objects.filter(action__startswith="tadasu.auth.").values_list(
            "action", "client_address"
        )
    )
    assert entries == [
        ("tadasu.auth.login_failed", "192.0.2.10"),
        ("tadasu.auth.login", "192.0.2.10"),
        ("tadasu.auth.logout", "192.0.2.10"),
    ]
    failed = AuditEntry.objects.get(action="tadasu.auth.login_failed")
    assert failed.data == {"username": "staff"} and "wrong" not in str(failed.data)


def test_auditors_read_and_export_their_citys_trail(client, world, demo):
    client.force_login(world.auditor)
    assert client.get("/audit/").status_code == 200
    response = client.get("/audit/export/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff日時,案件,利用者,操作,内容,端末")
    client.force_login(world.staff)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export/").status_code == 403


def test_auditors_see_only_their_municipality(client, settings, demo):
    from cases.models import User

    client.force_login(User.objects.get(username="auditor"))
    body = client.get("/audit/?action=tadasu.case.opened").content.decode()
    assert body.count('<td data-label="操作">案件の登録</td>') >= 3
    client.force_login(User.objects.get(username="staff-other-city"))
    assert client.get("/audit/").status_code == 403


def test_the_trail_names_to_whom_a_document_was_issued(client, demo, django_assert_max_num_queries):
    """The entry holds the document's kind and number; the page looks up its recipient for
    the whole page at once, the CSV for each chunk."""
    from cases.models import User

    client.force_login(User.objects.get(username="auditor"))
    client.get("/audit/")
    with django_assert_max_num_queries(10):  # the page's nine, and one for the recipients
        body = client.get("/audit/?action=tadasu.document.issued").content.decode()
    assert "F氏への返還請求書（デ推第1号）を発行" in body
    response = client.get("/audit/export/?action=tadasu.document.issued")
    assert "F氏への返還請求書（デ推第1号）を発行" in b"".join(response).decode()


def test_the_audit_export_keeps_a_user_name_from_becoming_a_formula(client, world):
    """Django user names may start with @, + or -: a spreadsheet would run them."""
    from cases.audit import audit_log
    from cases.models import User

    evil = User.objects.create(username="@SUM(1+1)")
    audit_log("tadasu.auth.login", by=evil, municipality_id=world.city.pk)
    client.force_login(world.auditor)
    text = b"".join(client.get("/audit/export/").streaming_content).decode("utf-8")
    assert "'@SUM(1+1)" in text and ",@SUM(1+1)" not in text


def test_a_log_in_signalled_outside_the_middleware_records_the_requests_address(world):
    """django-axes and management commands may send the log-in signals with a request the
    audit middleware never saw: the entry still takes that request's address."""
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.20")
    auth_signals.user_logged_out.send(sender=User, request=request, user=world.staff)
    assert list(
        AuditEntry.objects.filter(action="tadasu.auth.logout").values_list("client_address")
    ) == [("192.0.2.20",)]


def test_a_keys_id_stays_what_entries_already_signed_call_it(world, settings):
    """Every entry names the key that signed it by an id stored with it, and migration 0013
    gave every older entry that id (the first 12 hex digits of SHA-256 over
    "tadasu-audit-key-id:" and the key). If the id of a key changed, every entry signed
    before would name a key the verifier no longer knows."""
    with scopes_disabled():
        entry = audit_log("tadasu.test.key_id", by=world.staff)
    key = settings.AUDIT_KEYS[0].encode()
    assert entry.key_id == hashlib.sha256(b"tadasu-audit-key-id:" + key).hexdigest()[:12]


def test_an_entry_written_while_serving_a_request_records_the_clients_address(world):
    def view(request):
        with scopes_disabled():
            audit_log("tadasu.test.request", by=world.staff)
        return HttpResponse()

    AuditRequestMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR="192.0.2.30"))
    with scopes_disabled():
        audit_log("tadasu.test.after_request", by=world.staff)
    assert dict(
        AuditEntry.objects.filter(action__startswith="tadasu.test.").values_list(
            "action", "client_address"
        )
    ) == {"tadasu.test.request": "192.0.2.30", "tadasu.test.after_request": None}


@pytest.mark.parametrize(("length", "accepted"), [(31, False), (32, True)])
def test_an_audit_key_needs_32_characters(settings, length, accepted):
    """README: each key in TADASU_AUDIT_KEYS needs 32 characters or more."""
    settings.AUDIT_KEYS = ["k" * length]
    reset_audit_keys()
    try:
        if accepted:
            assert len(audit_keys()) == 1
        else:
            with pytest.raises(ImproperlyConfigured, match="32 characters"):
                audit_keys()
    finally:
        reset_audit_keys()


def test_a_failed_log_in_keeps_at_most_150_characters_of_the_name_tried(world):
    """The name tried is kept (it is how an attack shows), cut at Django's 150 characters."""
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.40")
    auth_signals.user_login_failed.send(
        sender=User, credentials={"username": "a" * 200}, request=request
    )
    entry = AuditEntry.objects.get(action="tadasu.auth.login_failed")
    assert entry.data == {"username": "a" * 150}


def test_a_municipalitys_version_is_its_newest_audit_entry(world):
    """Cached pages are keyed by it: 0 before anything happened, then the newest entry's id,
    moving with every write."""
    assert municipality_version(world.city.pk) == 0
    with scopes_disabled():
        first = audit_log("tadasu.test.first", by=world.staff)
        assert municipality_version(world.city.pk) == first.pk
        second = audit_log("tadasu.test.second", by=world.staff)
        assert municipality_version(world.city.pk) == second.pk > first.pk


def test_an_entry_is_signed_as_migration_0013_signed_the_entries_before_it(world, settings):
    """Migration 0013 signed every entry already written, with its own copy of the MAC's
    canonical encoding; the verifier checks both kinds with `entry_mac`. The two must agree
    byte for byte, Japanese text included, or every older entry would fail verification."""
    sealed = importlib.import_module("cases.migrations.0013_audit_keyed_chains")
    with scopes_disabled():
        entry = audit_log("tadasu.test.mac", by=world.staff, data={"party": "佐藤 花子"})
    entry.refresh_from_db()
    assert sealed._mac(entry, settings.AUDIT_KEYS[0].encode()) == entry.mac


def test_a_batch_of_entries_makes_the_same_chains_in_a_few_statements(
    world, django_assert_max_num_queries
):
    """An import writes its entries in one batch: the chains come out as if each entry had
    been written alone (each municipality's in order, its head at its last entry, the
    whole trail verifying), entries read back after a flush are there, and 1,200 entries
    cost a few dozen statements, not one each (SQLite splits a bulk INSERT at its limit of
    bound parameters: about 70 entries a statement)."""
    from cases.audit import audit_batch, audit_flush
    from cases.audit_verify import verify
    from cases.models import AuditHead

    with scopes_disabled():
        audit_log("tadasu.test.before", by=world.staff)  # the city's chain already begun
        with django_assert_max_num_queries(60), audit_batch():
            for n in range(1200):
                by = world.staff if n % 3 else world.staff_other_city
                audit_log("tadasu.test.batch", by=by, data={"n": n})
                if n == 10:
                    audit_flush()
                    assert AuditEntry.objects.filter(action="tadasu.test.batch").count() == 11
        audit_flush()  # outside a batch: nothing to do
        for city, count in ((world.city, 1 + 800), (world.other_city, 400)):
            entries = list(AuditEntry.objects.filter(chain=city.pk).order_by("seq"))
            assert [e.seq for e in entries] == list(range(1, count + 1))
            assert [e.data["n"] for e in entries if e.data] == sorted(
                e.data["n"] for e in entries if e.data
            )
            head = AuditHead.objects.get(chain=city.pk)
            assert (head.seq, head.last_id, head.last_mac) == (
                count,
                entries[-1].pk,
                entries[-1].mac,
            )
    report = verify()
    assert report.intact, report.problems
    assert report.count == 1201


def test_an_empty_batch_writes_nothing(world):
    from cases.audit import audit_batch
    from cases.models import AuditHead

    with scopes_disabled(), audit_batch():
        pass
    assert not AuditEntry.objects.exists() and not AuditHead.objects.exists()


def test_entries_of_a_batch_name_rows_written_in_bulk_just_before_them(world):
    """What the case-file import's compiled path relies on: inside a batch, an entry may
    name a case and a person not written yet; a hook writes them in bulk just before the
    entries (every time the batch flushes), and each entry names their ids and is chained
    and verified like any other."""
    from cases.audit import audit_batch, audit_before_flush, audit_flush
    from cases.audit_verify import verify

    from ..factories import CaseFactory

    written = []
    with scopes_disabled():
        with audit_batch():
            case = CaseFactory.build(
                office=world.office, municipality=world.city, created_by=world.staff
            )
            party = Party(case=case, label="A氏", name="対象 一")

            def write():
                if case.pk is None:
                    Case.objects.bulk_create([case])
                    party.case_id = case.pk
                    Party.objects.bulk_create([party])
                written.append(case.pk)

            audit_before_flush(write)
            audit_log("tadasu.case.opened", by=world.staff, case=case, obj=case)
            audit_log("tadasu.party.added", by=world.staff, case=case, obj=party)
            audit_flush()
            audit_log("tadasu.timeline.added", by=world.staff, case=case)
        opened, added, line = AuditEntry.objects.filter(case=case).order_by("seq")
    assert written == [case.pk, case.pk]  # at the flush and at the batch's end
    assert (opened.case_id, opened.object_id) == (case.pk, str(case.pk))
    assert (added.case_id, added.object_id, added.object_type) == (
        case.pk,
        str(party.pk),
        "cases.party",
    )
    assert line.case_id == case.pk and line.object_id == ""
    report = verify()
    assert report.intact, report.problems


def _json_mac(entry: AuditEntry, key: bytes) -> str:
    """The MAC as entry_mac wrote it before it wrote the encoding out field by field."""
    import hmac
    import json

    content = {
        "chain": entry.chain,
        "seq": entry.seq,
        "prev": entry.prev_mac,
        "at": entry.at.isoformat(),
        "user": entry.user_id,
        "role": entry.role,
        "action": entry.action,
        "municipality": entry.municipality_id,
        "case": entry.case_id,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "data": entry.data,
        "client_address": entry.client_address,
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_IDS = st.none() | st.integers(min_value=1, max_value=2**62)
_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@given(
    chain=st.integers(min_value=0, max_value=2**62),
    seq=st.integers(min_value=1, max_value=2**62),
    at=st.datetimes(timezones=st.just(UTC)),
    ids=st.tuples(_IDS, _IDS, _IDS),
    texts=st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT),
    address=st.none() | st.ip_addresses().map(str),
    data=st.dictionaries(_TEXT, _DATA, max_size=4),
)
def test_the_mac_written_out_field_by_field_is_the_mac_of_the_whole_entry_as_json(
    chain, seq, at, ids, texts, address, data
):
    from cases.audit import canonical_data, entry_mac

    user_id, municipality_id, case_id = ids
    role, action, object_type, object_id, prev_mac = texts
    entry = AuditEntry(
        chain=chain, seq=seq, at=at, user_id=user_id, municipality_id=municipality_id,
        case_id=case_id, role=role, action=action, object_type=object_type,
        object_id=object_id, prev_mac=prev_mac, data=data, client_address=address,
    )  # fmt: skip
    key = b"a key of thirty-two characters or more"
    assert entry_mac(entry, key) == _json_mac(entry, key)
    assert entry_mac(entry, key, canonical_data(data)) == _json_mac(entry, key)


@pytest.mark.django_db
def test_an_entry_written_in_a_batch_reads_back_with_its_data_and_verifies(world):
    """In a batch on PostgreSQL the data column is written from the MAC's own encoding of
    it: read back, it is the data that was logged (and the chain verifies)."""
    from cases.audit import audit_batch
    from cases.audit_verify import verify

    data = {"b": [1, 2.5, None, True], "a": {"名前": "佐藤 花子", "\\": '"\n'}, "z": ""}
    with scopes_disabled(), audit_batch():
        entry = audit_log("tadasu.test.batch", by=world.staff, data=data)
    with scopes_disabled():
        assert AuditEntry.objects.get(pk=entry.pk).data == data
    assert verify().intact


@given(
    data=st.none()
    | st.dictionaries(
        st.text(max_size=5) | st.integers(-3, 3),
        st.none()
        | st.booleans()
        | st.integers()
        | _TEXT
        | st.floats()
        | st.dates()
        | st.lists(st.integers(), max_size=2),
        max_size=5,
    )
)
def test_data_is_kept_as_json_gives_it_back(data):
    import json

    from cases.audit import as_stored

    expected = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    kept = as_stored(data)
    # NaN is not equal to itself: compared as JSON text.
    assert json.dumps(kept, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    assert [type(key) for key in kept] == [type(key) for key in expected]
    assert [type(value) for value in kept.values()] == [type(v) for v in expected.values()]
    assert kept is not data


@pytest.mark.django_db
def test_the_trail_keeps_no_index_that_nothing_reads():
    # Every entry keeps up each index of the table: only those queries read are kept
    # (migration 0022 dropped the municipality's own and, on PostgreSQL, a stale pattern
    # index on the MAC).
    with connection.cursor() as cursor:
        indexed = {
            tuple(column.name for column in info["columns_objects"])
            if "columns_objects" in info
            else tuple(info["columns"])
            for info in connection.introspection.get_constraints(
                cursor, AuditEntry._meta.db_table
            ).values()
            if (info["index"] or info["unique"]) and not info["primary_key"]
        }
    assert indexed == {
        ("chain", "seq"),
        ("municipality_id", "at"),
        ("municipality_id", "id"),
        ("case_id",),
        ("user_id",),
    }
