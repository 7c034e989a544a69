"""Checkpoints of small trails (no demo): what verify_audit says without one, with a chain of
a single entry, after a bulk job, and of chains whose ids are not their places. The tamper
suite on the demo's trail is tests/cases/test_audit_tamper.py."""

import io

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django_scopes import scopes_disabled

from cases.audit import audit_log
from cases.audit_verify import verify, write_checkpoint
from cases.models import AuditEntry

from .tamper import as_owner, detected, new_checkpoint_key, use_checkpoints

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoints(settings, tmp_path):
    """A checkpoint key and a checkpoint folder of this test's own."""
    pem = new_checkpoint_key(tmp_path / "checkpoint.pem")
    return use_checkpoints(settings, pem, tmp_path / "checkpoints")


def test_without_a_checkpoint_verify_says_truncation_cannot_be_seen(settings, checkpoints):
    audit_log("tadasu.auth.login_failed", by=None, data={"username": "x"})
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "No signed checkpoint was found" in out.getvalue()


def test_a_checkpoint_key_that_is_not_ed25519_is_refused(settings, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.core.exceptions import ImproperlyConfigured

    pem = tmp_path / "ec.pem"
    pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.AUDIT_CHECKPOINT_KEY = str(pem)
    with pytest.raises(ImproperlyConfigured, match="Ed25519"):
        write_checkpoint()


def test_a_chain_of_a_single_entry_is_in_the_checkpoint(checkpoints):
    entry = audit_log("tadasu.auth.login_failed", by=None, data={"username": "first"})
    _, body = write_checkpoint()
    assert body["chains"] == [{"chain": 0, "count": 1, "last_id": entry.pk, "last_mac": entry.mac}]
    as_owner("DELETE FROM cases_auditentry", "DELETE FROM cases_audithead")
    detected("recorded 1 entries, only 0 are left")


def test_the_newest_entries_deleted_without_moving_the_head_are_detected(world, checkpoints):
    """Without any checkpoint, the head still shows that the end of a chain was removed."""
    with scopes_disabled():  # another chain first: ids and places in the chain differ
        for n in range(4):
            audit_log("tadasu.test.city", by=world.staff, data={"n": n})
    for n in range(3):
        audit_log("tadasu.auth.login_failed", by=None, data={"username": f"u{n}"})
    with scopes_disabled():
        second = AuditEntry.objects.get(chain=0, seq=2)
    as_owner("DELETE FROM cases_auditentry WHERE chain = 0 AND seq = 3")
    report = verify()
    assert report.checkpoint is None
    assert report.problems == [
        f"chain 0: its head names entry #3 (id {second.pk + 1}), but the newest entry is "
        f"#2 (id {second.pk}): entries were removed"
    ]
    # Every entry of the chain gone, its head left: none is left, and the head says how many.
    as_owner("DELETE FROM cases_auditentry WHERE chain = 0")
    assert verify().problems == [
        f"chain 0: its head names entry #3 (id {second.pk + 1}), but the newest entry is "
        "#0 (id 0): entries were removed"
    ]


def test_after_a_bulk_job_a_checkpoint_is_written_where_the_key_is(settings, checkpoints):
    from cases.audit_verify import checkpoint_after_bulk_job

    audit_log("tadasu.auth.login_failed", by=None, data={"username": "bulk"})
    said = checkpoint_after_bulk_job()
    written = [p.name for p in checkpoints.iterdir()]
    assert len(written) == 1 and said == f"Audit checkpoint {written[0]} written."
    settings.AUDIT_CHECKPOINT_KEY = ""
    assert "No checkpoint key here" in checkpoint_after_bulk_job()
    assert len(list(checkpoints.iterdir())) == 1


def test_a_chain_cut_back_below_its_checkpoint_is_reported_by_its_count(world, checkpoints):
    """The report counts the entries left in the chain (not their ids): three recorded,
    two left, in a chain whose entries' ids are not their places."""
    with scopes_disabled():
        for n in range(4):
            audit_log("tadasu.test.city", by=world.staff, data={"n": n})
    for n in range(3):
        audit_log("tadasu.auth.login_failed", by=None, data={"username": f"u{n}"})
    write_checkpoint()
    with scopes_disabled():
        second = AuditEntry.objects.get(chain=0, seq=2)
    as_owner("DELETE FROM cases_auditentry WHERE chain = 0 AND seq = 3")
    as_owner(
        "UPDATE cases_audithead SET seq = 2, last_id = %s, last_mac = %s WHERE chain = 0",
        params=[second.pk, second.mac],
    )
    said = detected("chain 0: checkpoint")
    assert "recorded 3 entries, only 2 are left" in said
