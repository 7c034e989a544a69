"""The tamper suite: each attack on the audit trail that a security probe tried is refused by
the database or detected by `verify_audit` after an `audit_checkpoint` (on SQLite and, in
CI's second run, on PostgreSQL). The attacker here has the database (its owner, even: the
triggers are switched off first) but neither the audit key nor the checkpoint key."""

import base64
import hashlib
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django_scopes import scopes_disabled

from cases.audit import audit_log, entry_mac, key_id_of, reset_audit_keys
from cases.audit_verify import verify, write_checkpoint
from cases.models import AuditEntry, AuditHead, Municipality, User
from tests.conftest import point_file_storages

from .tamper import (
    as_owner,
    checkpoint_settings,
    detected,
    new_checkpoint_key,
    use_checkpoints,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def _demo_trail(django_db_setup, django_db_blocker, tmp_path_factory, files_dir):
    """The demo's trail (two municipalities' chains and the chain of no municipality) and a
    checkpoint of it, built once for this module: each test runs in a savepoint of this
    transaction and is rolled back to the trail as built, as Django's TestCase does with
    setUpTestData. Loading the demo for each test cost three seconds a test."""
    base = tmp_path_factory.mktemp("trail")
    pem = new_checkpoint_key(base / "checkpoint.pem")
    storages = SimpleNamespace(STORAGES=dict(django_settings.STORAGES))
    point_file_storages(storages, files_dir)
    with (
        django_db_blocker.unblock(),
        override_settings(
            DEBUG=True,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            **checkpoint_settings(storages.STORAGES, pem, base / "checkpoints"),
        ),
        transaction.atomic(),
    ):
        call_command("load_demo", stdout=io.StringIO())
        audit_log("tadasu.auth.login_failed", by=None, data={"username": "nobody"})
        audit_log("tadasu.auth.login", by=User.objects.get(username="staff-other-city"))
        call_command("audit_checkpoint", stdout=io.StringIO())
        assert verify().intact
        yield base
        transaction.set_rollback(True)


@pytest.fixture
def trail(_demo_trail, settings, tmp_path) -> Path:
    """The trail, with its key and a copy of its checkpoint folder of this test's own (the
    files are not rolled back with the database)."""
    shutil.copy(_demo_trail / "checkpoint.pem", tmp_path / "checkpoint.pem")
    shutil.copytree(_demo_trail / "checkpoints", tmp_path / "checkpoints")
    return use_checkpoints(settings, tmp_path / "checkpoint.pem", tmp_path / "checkpoints")


def _city_chain() -> list[AuditEntry]:
    city = Municipality.objects.get(code="401005")
    with scopes_disabled():
        return list(AuditEntry.objects.filter(chain=city.pk).order_by("seq"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- refused by the database ---------------------------------------------------------------


def _refused(sql: str, params=()) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_to_change_or_delete_entries_and_heads(trail):
    entry = _city_chain()[3]
    _refused("UPDATE cases_auditentry SET action = 'x' WHERE id = %s", [entry.pk])
    _refused("DELETE FROM cases_auditentry WHERE id = %s", [entry.pk])
    _refused("DELETE FROM cases_audithead WHERE chain = %s", [entry.chain])
    _refused("UPDATE cases_audithead SET seq = 1 WHERE chain = %s", [entry.chain])
    assert verify().intact


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's INSERT OR REPLACE")
def test_sqlite_refuses_insert_or_replace_over_an_entry_or_a_head(trail):
    """REPLACE deletes the old row without firing delete triggers: it is refused before."""
    entry = _city_chain()[3]
    _refused(
        "INSERT OR REPLACE INTO cases_auditentry (id, at, role, action, object_type, object_id,"
        " data, chain, seq, key_id, prev_mac, mac) SELECT id, at, role, 'x', object_type,"
        " object_id, data, chain, seq, key_id, prev_mac, mac FROM cases_auditentry WHERE id = %s",
        [entry.pk],
    )
    _refused(
        "INSERT OR REPLACE INTO cases_audithead (id, chain, seq, last_id, last_mac) "
        "VALUES (999, %s, 1, 1, 'x')",
        [entry.chain],
    )
    assert AuditEntry.objects.get(pk=entry.pk).action == entry.action
    assert verify().intact


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's TRUNCATE")
def test_postgresql_refuses_truncate_of_the_trail(trail):
    _refused("TRUNCATE cases_auditentry")
    _refused("TRUNCATE cases_audithead")
    assert verify().intact


# ---- detected by verify_audit --------------------------------------------------------------


def test_an_entry_edited_and_given_a_new_hash_is_detected(trail):
    victim = _city_chain()[5]
    forged = _sha("anything without the key")
    as_owner(
        "UPDATE cases_auditentry SET data = %s, mac = %s WHERE id = %s",
        params=['{"reason": "nothing happened"}', forged, victim.pk],
    )
    said = detected(f"entry {victim.pk}")
    assert "does not match its MAC" in said


def test_the_newest_ten_entries_deleted_and_the_head_moved_back_is_detected(trail):
    chain = _city_chain()
    keep = chain[-11]
    as_owner(
        f"DELETE FROM cases_auditentry WHERE chain = {keep.chain} AND seq > {keep.seq}",  # noqa: S608
        f"UPDATE cases_audithead SET seq = {keep.seq}, last_id = {keep.pk}, "  # noqa: S608
        f"last_mac = '{keep.mac}' WHERE chain = {keep.chain}",
    )
    said = detected(f"chain {keep.chain}: checkpoint")
    assert f"recorded {chain[-1].seq} entries, only {keep.seq} are left" in said


def test_the_head_row_deleted_is_detected(trail):
    chain = _city_chain()
    as_owner(f"DELETE FROM cases_audithead WHERE chain = {chain[0].chain}")  # noqa: S608
    detected(f"chain {chain[0].chain}: its head was removed")


def test_everything_deleted_is_detected(trail):
    as_owner("DELETE FROM cases_auditentry", "DELETE FROM cases_audithead")
    assert AuditEntry.objects.count() == 0
    said = detected("checkpoint")
    assert "only 0 are left" in said


def test_a_forged_entry_in_a_managers_name_is_detected(trail):
    chain = _city_chain()
    newest = chain[-1]
    manager = User.objects.get(username="manager")
    entry = AuditEntry(
        at=newest.at,
        user=manager,
        role="manager",
        action="tadasu.ledger.written_off",
        municipality_id=newest.chain,
        case_id=newest.case_id,
        data={"amount": 15000, "reason": "approved"},
        chain=newest.chain,
        seq=newest.seq + 1,
        key_id=newest.key_id,
        prev_mac=newest.mac,
    )
    # The attacker's best guess at a key: anything but the real one.
    entry.mac = entry_mac(entry, b"a key the attacker made up, 32 chars or more")
    with transaction.atomic():
        entry.save()
    as_owner(
        "UPDATE cases_audithead SET seq = %s, last_id = %s, last_mac = %s WHERE chain = %s",
        params=[entry.seq, entry.pk, entry.mac, entry.chain],
    )
    said = detected(f"entry {entry.pk}")
    assert "forged" in said


def test_a_trail_copied_back_without_one_entry_is_detected(trail):
    """TRUNCATE, then the old rows put back without a manager's write-off, and the chain
    stitched together again: without the key, the stitch cannot be sealed."""
    chain = _city_chain()
    gone = chain[len(chain) // 2]
    after = chain[len(chain) // 2 + 1]
    as_owner(
        "DELETE FROM cases_auditentry WHERE id = %s",
        params=[gone.pk],
    )
    said = detected(f"entry {after.pk}")
    assert "entries before it are missing" in said
    # Renumbered and re-linked as well: still no key to seal it with.
    as_owner(
        f"UPDATE cases_auditentry SET seq = seq - 1 WHERE chain = {gone.chain} "  # noqa: S608
        f"AND seq > {gone.seq}",
        f"UPDATE cases_auditentry SET prev_mac = '{gone.prev_mac}' WHERE id = {after.pk}",  # noqa: S608
    )
    said = detected(f"entry {after.pk}")
    assert "does not match its MAC" in said


def test_an_entry_moved_into_another_municipalitys_chain_is_detected(trail):
    chain = _city_chain()
    other = Municipality.objects.exclude(code="401005").first()
    as_owner(
        "UPDATE cases_auditentry SET municipality_id = %s WHERE id = %s",
        params=[other.pk, chain[2].pk],
    )
    detected(f"entry {chain[2].pk}")


def test_a_chain_sealed_again_with_the_attackers_own_key_is_detected(trail):
    chain = _city_chain()
    key = b"the attacker's own key, 32 characters or more"
    own_id = hashlib.sha256(b"tadasu-audit-key-id:" + key).hexdigest()[:12]
    victim = chain[1]
    victim.key_id = own_id
    victim.data = {"changed": True}
    as_owner(
        "UPDATE cases_auditentry SET key_id = %s, data = %s, mac = %s WHERE id = %s",
        params=[own_id, json.dumps(victim.data), entry_mac(victim, key), victim.pk],
    )
    detected(f"entry {victim.pk}")


def test_a_database_rolled_back_to_an_older_copy_is_detected(trail):
    """An older copy is intact in itself: only the checkpoint, kept elsewhere, shows it is
    older than the trail it had reached."""
    call_command("audit_checkpoint", stdout=io.StringIO())  # the newer checkpoint
    newest = _city_chain()[-1]
    as_owner(
        f"DELETE FROM cases_auditentry WHERE chain = {newest.chain} AND seq > 10",  # noqa: S608
    )
    tenth = _city_chain()[-1]
    as_owner(
        "UPDATE cases_audithead SET seq = 10, last_id = %s, last_mac = %s WHERE chain = %s",
        params=[tenth.pk, tenth.mac, tenth.chain],
    )
    detected("entries were removed or the database was rolled back")


def test_a_checkpoint_edited_or_forged_is_reported(trail):
    path = sorted(trail.iterdir())[-1]
    document = json.loads(path.read_text())
    document["body"]["chains"][-1]["count"] -= 5
    path.write_text(json.dumps(document))
    detected("does not match its signature")
    # One signed with a key of the attacker's own is not trusted.
    mallory = Ed25519PrivateKey.generate()
    body = {
        "format": "tadasu-audit-checkpoint/1",
        "created": "2099-01-01T00:00:00+00:00",
        "chains": [],
    }
    raw = mallory.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    forged = {
        "body": body,
        "public_key": base64.b64encode(raw).decode(),
        "signature": base64.b64encode(
            mallory.sign(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        ).decode(),
    }
    path.write_text(json.dumps(forged))
    detected("not trusted")


# ---- what an intact trail looks like -------------------------------------------------------


def test_each_municipality_has_a_chain_of_its_own(trail):
    with scopes_disabled():
        heads = {h.chain: h.seq for h in AuditHead.objects.all()}
        for chain, seq in heads.items():
            seqs = list(
                AuditEntry.objects.filter(chain=chain).order_by("id").values_list("seq", flat=True)
            )
            assert seqs == list(range(1, seq + 1))
        city = Municipality.objects.get(code="401005")
        assert set(
            AuditEntry.objects.filter(chain=city.pk).values_list("municipality_id", flat=True)
        ) == {city.pk}
    assert 0 in heads and len(heads) >= 3  # no municipality, 北九州市, みなと市


def test_verify_audit_says_what_it_checked(trail):
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    said = out.getvalue()
    assert "intact" in said and "checked against checkpoint" in said


def test_checkpoints_are_never_overwritten_and_only_their_owner_reads_them(trail):
    before = len(list(trail.iterdir()))
    first, _ = write_checkpoint()
    second, _ = write_checkpoint()
    assert len(list(trail.iterdir())) == before + 2 and first != second
    for path in trail.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert trail.stat().st_mode & 0o777 == 0o700


def test_audit_keys_rotate(settings, trail):
    """A new key put first signs new entries; the old one still verifies the old entries;
    dropping it before the entries it signed are gone is reported, not silently passed."""
    old = list(settings.AUDIT_KEYS)
    new_key = "a-new-audit-key-for-rotation-0123456789abcdef"
    settings.AUDIT_KEYS = [new_key, *old]
    reset_audit_keys()
    try:
        entry = audit_log("tadasu.auth.login_failed", by=None, data={"username": "y"})
        assert entry.key_id == key_id_of(new_key.encode())
        assert entry.mac == entry_mac(entry, new_key.encode())
        assert verify().intact
        settings.AUDIT_KEYS = [new_key]
        reset_audit_keys()
        detected("which is not configured")
    finally:
        settings.AUDIT_KEYS = old
        reset_audit_keys()


# ---- every protected column ----------------------------------------------------------------

CHANGES = {
    "at": "UPDATE cases_auditentry SET at = %s WHERE id = %s",
    "user_id": "UPDATE cases_auditentry SET user_id = %s WHERE id = %s",
    "role": "UPDATE cases_auditentry SET role = %s WHERE id = %s",
    "action": "UPDATE cases_auditentry SET action = %s WHERE id = %s",
    "case_id": "UPDATE cases_auditentry SET case_id = %s WHERE id = %s",
    "object_type": "UPDATE cases_auditentry SET object_type = %s WHERE id = %s",
    "object_id": "UPDATE cases_auditentry SET object_id = %s WHERE id = %s",
    "data": "UPDATE cases_auditentry SET data = %s WHERE id = %s",
    "client_address": "UPDATE cases_auditentry SET client_address = %s WHERE id = %s",
    "key_id": "UPDATE cases_auditentry SET key_id = %s WHERE id = %s",
    "prev_mac": "UPDATE cases_auditentry SET prev_mac = %s WHERE id = %s",
    "municipality_id": "UPDATE cases_auditentry SET municipality_id = %s WHERE id = %s",
    "seq": "UPDATE cases_auditentry SET seq = %s WHERE id = %s",
}


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_a_change_to_any_protected_column_is_detected(trail, column):
    chain = _city_chain()
    victim = next(e for e in chain[1:] if e.case_id and e.user_id)
    other_case = next(e.case_id for e in chain if e.case_id and e.case_id != victim.case_id)
    other_user = next(e.user_id for e in chain if e.user_id and e.user_id != victim.user_id)
    value = {
        "at": victim.at + timedelta(seconds=1),
        "user_id": other_user,
        "role": "manager" if victim.role != "manager" else "staff",
        "action": "tadasu.case.viewed",
        "case_id": other_case,
        "object_type": "cases.party",
        "object_id": "999999",
        "data": json.dumps({**victim.data, "amount": 1}),
        "client_address": "203.0.113.9",
        "key_id": "000000000000",
        "prev_mac": _sha("another predecessor"),
        "municipality_id": Municipality.objects.exclude(pk=victim.chain).first().pk,
        "seq": 1_000_000,
    }[column]
    as_owner(CHANGES[column], params=[value, victim.pk])
    # An entry renumbered leaves a gap where it stood: the entry after it is named.
    detected("entries before it are missing" if column == "seq" else f"entry {victim.pk}")


def test_the_mac_covers_the_data_not_the_order_its_keys_were_stored_in(trail):
    """A JSON object with its keys in another order is the same data: PostgreSQL's jsonb
    reorders keys itself, so the MAC must not depend on the order."""
    victim = next(e for e in _city_chain() if len(e.data) >= 2)
    reordered = json.dumps(dict(reversed(list(victim.data.items()))), ensure_ascii=False)
    as_owner("UPDATE cases_auditentry SET data = %s WHERE id = %s", params=[reordered, victim.pk])
    assert verify().intact


# ---- what an auditor relies on in the checkpoints ------------------------------------------


def _public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _signed_elsewhere(key: Ed25519PrivateKey, body: dict) -> dict:
    """A checkpoint as the documented format says one is signed (docs/SECURITY.md): Ed25519
    over the body as compact JSON with its keys sorted; written with its keys in any order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return {
        "signature": base64.b64encode(key.sign(canonical)).decode(),
        "public_key": _public(key),
        "body": body,
    }


def test_an_auditor_verifies_with_the_public_key_alone(trail, settings):
    """verify_audit needs only the public key: where the private key is not held, a
    checkpoint signed by a listed key is checked, and one signed by any other key is not
    trusted, even the key of the machine that runs it."""
    signer = Ed25519PrivateKey.generate()
    with scopes_disabled():
        heads = AuditHead.objects.filter(seq__gt=0).order_by("chain")
        chains = [
            {"last_mac": h.last_mac, "last_id": h.last_id, "count": h.seq, "chain": h.chain}
            for h in heads
        ]
    body = {"chains": chains, "format": "tadasu-audit-checkpoint/1"}
    body = {"created": "2099-01-01T00:00:00+00:00", **body}  # keys deliberately unsorted
    (trail / "20990101T000000000000Z.json").write_text(json.dumps(_signed_elsewhere(signer, body)))
    settings.AUDIT_CHECKPOINT_KEY = ""
    settings.AUDIT_CHECKPOINT_PUBLIC_KEYS = [_public(signer)]
    report = verify()
    assert report.intact, report.problems
    assert report.checkpoint.name == "20990101T000000000000Z.json"
    assert report.checkpoint.chains == {c["chain"]: c for c in chains}
    # The local signing key is present but an auditor's list of trusted keys is given: the
    # checkpoints that key wrote are not trusted.
    settings.AUDIT_CHECKPOINT_KEY = str(trail.parent / "checkpoint.pem")
    (trail / "20990101T000000000000Z.json").unlink()
    report = verify()
    assert report.checkpoint is None
    assert report.problems and all("not trusted" in p for p in report.problems)


def test_files_in_the_checkpoint_storage_that_are_not_checkpoints_are_reported(trail):
    """Someone wrote to the checkpoint storage: each newer file that is not a valid
    checkpoint is a problem, and the newest valid checkpoint is still the one checked;
    a file that is not a checkpoint's (.json) is no concern of verify."""
    valid = sorted(p.name for p in trail.iterdir())[-1]
    (trail / "29990101T000000000001Z.json").write_text("this is not JSON")
    (trail / "29990101T000000000002Z.json").write_text('{"body": {}}')  # no key, no signature
    (trail / "29990101T000000000003Z.json").write_text("[1, 2]")  # not an object
    (trail / "29990101T000000000004Z.json").symlink_to(trail / "gone.json")  # cannot be opened
    (trail / "29990101T000000000005Z.json").write_text(
        json.dumps({"body": {}, "public_key": "x", "signature": "not base64!"})
    )
    (trail / "README.txt").write_text("checkpoints of the audit trail")
    report = verify()
    assert report.checkpoint is not None and report.checkpoint.name == valid
    assert sorted(p.split()[1] for p in report.problems) == [
        f"29990101T00000000000{n}Z.json" for n in range(1, 6)
    ]
    assert all("cannot be read" in p for p in report.problems)
    assert not report.intact  # a trail with any problem is not called intact


def test_a_checkpoint_of_another_format_is_reported(trail, settings):
    signer = Ed25519PrivateKey.generate()
    settings.AUDIT_CHECKPOINT_PUBLIC_KEYS = [_public(signer)]
    body = {"format": "tadasu-audit-checkpoint/2", "created": "2099-01-01T00:00:00+00:00"}
    (trail / "20990101T000000000000Z.json").write_text(json.dumps(_signed_elsewhere(signer, body)))
    report = verify()
    assert report.checkpoint is None
    # The newest first; the trail's own checkpoints after it are signed by a key not listed.
    assert report.problems[0] == (
        "checkpoint 20990101T000000000000Z.json is not in a format this version reads"
    )


def test_a_trusted_key_that_is_not_a_key_makes_its_checkpoints_unverifiable(trail, settings):
    """A misconfigured list of trusted keys (a value that is not an Ed25519 public key)
    reports the checkpoint as unverified instead of failing with an error."""
    settings.AUDIT_CHECKPOINT_PUBLIC_KEYS = ["c2hvcnQ="]  # base64 of 5 bytes
    document = {"body": {}, "public_key": "c2hvcnQ=", "signature": "c2hvcnQ="}
    (trail / "20990101T000000000000Z.json").write_text(json.dumps(document))
    report = verify()
    assert report.problems[0] == (
        "checkpoint 20990101T000000000000Z.json does not match its signature"
    )


def test_the_newest_checkpoint_is_the_one_checked(trail):
    first, _ = write_checkpoint()
    audit_log("tadasu.auth.login_failed", by=None, data={"username": "later"})
    newest, body = write_checkpoint()
    assert first < newest
    report = verify()
    assert report.intact and report.checkpoint.name == newest
    assert report.checkpoint.chains[0]["count"] == next(
        c["count"] for c in body["chains"] if c["chain"] == 0
    )


def test_verify_counts_every_entry_and_every_chain(trail):
    with scopes_disabled():
        entries = AuditEntry.objects.count()
        chains = AuditEntry.objects.values("chain").distinct().count()
    report = verify()
    assert (report.count, report.chains) == (entries, chains)
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"The audit trail of {entries} entries in {chains} chain(s) is intact" in out.getvalue()


def test_a_rolled_back_trail_that_went_on_past_the_checkpoint_is_detected(trail):
    """The database rolled back to an older copy and then used for a while: the chain is
    longer than the checkpoint's again, and whole, but the entry at the checkpoint's place
    is not the one it recorded."""
    chain = _city_chain()
    keep = chain[-4]
    as_owner(
        f"DELETE FROM cases_auditentry WHERE chain = {keep.chain} AND seq > {keep.seq}",  # noqa: S608
        f"UPDATE cases_audithead SET seq = {keep.seq}, last_id = {keep.pk}, "  # noqa: S608
        f"last_mac = '{keep.mac}' WHERE chain = {keep.chain}",
    )
    city = Municipality.objects.get(pk=keep.chain)
    manager = User.objects.get(username="manager")
    for n in range(5):
        audit_log("tadasu.case.viewed", by=manager, municipality_id=city.pk, data={"n": n})
    replaced = _city_chain()[len(chain) - 1]
    said = detected(f"entry {replaced.pk} (chain {keep.chain}, #{chain[-1].seq})")
    assert "is not the entry that checkpoint" in said
    assert len(verify().problems) == 1  # the chain is named once, at its first problem
