"""Backup and restore (cases/backup.py): the demo with a letter and a scan, backed up, the
database and the files lost, restored on a "new machine", and everything reads back — the
audit trail intact, the ledger totals right, the same PDF and scan downloaded."""

import hashlib
import io
import json
import stat
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from cases import crypto
from cases.attachments.services import attachment_add
from cases.models import Attachment, AuditEntry, Case, Party, User
from cases.scoping import tenant_scope
from remedies.documents import services as documents
from remedies.models import Document, LedgerEntry
from tests.conftest import empty_audit_tables, point_file_storages

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"Sato Hanako" + b"\x00" * 64


def _quiet():
    return io.StringIO()


@pytest.fixture
def installation(settings, tmp_path):
    """The demo, a letter issued through the service and a scan attached to a case."""
    settings.DEBUG = True
    point_file_storages(settings, tmp_path / "machine-1")
    call_command("load_demo", stdout=_quiet())
    with scopes_disabled():
        case = Case.objects.order_by("id").first()
        staff = User.objects.get(username="staff")
        party = Party.objects.filter(case=case).order_by("id").first()
    with tenant_scope(staff):
        letter = documents.document_issue(kind="apology", by=staff, case=case, party=party)
        scan = attachment_add(
            case=case, by=staff, upload=SimpleUploadedFile("receipt.png", PNG), description=""
        )
    return case, letter, scan


def _snapshot() -> dict:
    with scopes_disabled():
        return {
            "cases": sorted(Case.objects.values_list("reference", "stage")),
            "parties": sorted(Party.objects.values_list("id", "name")),
            "ledger": sorted(LedgerEntry.objects.values_list("id", "kind", "delta")),
            "audit": list(AuditEntry.objects.order_by("id").values_list("id", "mac")),
            "documents": {d.pk: d.pdf for d in Document.objects.exclude(file="")},
            "attachments": {a.pk: a.file.open("rb").read() for a in Attachment.objects.all()},
        }


def _lose_everything(settings, tmp_path) -> None:
    """A new machine: an empty, migrated database and empty file stores."""
    empty_audit_tables()
    call_command("flush", interactive=False, verbosity=0)
    point_file_storages(settings, tmp_path / "machine-2")


def test_a_backup_restored_on_a_new_machine_reads_back_the_same(
    installation, settings, tmp_path, client
):
    case, letter, scan = installation
    before = _snapshot()
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=_quiet())

    # Owner-only, and no personal detail readable anywhere in it.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            raw = path.read_bytes()
            for _id, name in before["parties"]:
                assert not name or name.encode() not in raw, (path, name)
            assert b"Sato Hanako" not in raw
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"]["cases.Case"] == len(before["cases"])
    assert set(manifest["keys"]) == {"field_keys", "audit_keys", "checkpoint_public_keys"}
    assert not any(key in json.dumps(manifest) for key in settings.FIELD_ENCRYPTION_KEYS)

    _lose_everything(settings, tmp_path)
    with scopes_disabled():
        assert not Case.objects.exists() and not Document.objects.exists()

    out = io.StringIO()
    call_command("restore", str(folder), stdout=out)
    assert "is intact" in out.getvalue()  # verify_audit ran on the restored trail
    assert _snapshot() == before

    # The letter and the scan download as they were, through the pages.
    client.force_login(User.objects.get(username="staff"))
    response = client.get(reverse("documents:download", kwargs={"document_id": letter.pk}))
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == letter.sha256
    url = reverse(
        "cases:attachment_download", kwargs={"ref": case.reference, "attachment_id": scan.pk}
    )
    assert b"".join(client.get(url).streaming_content) == PNG
    # New rows continue after the restored ids (sequences moved on).
    with scopes_disabled():
        assert Case.objects.order_by("-id").first().pk == max(
            Case.objects.values_list("pk", flat=True)
        )


def test_restore_refuses_a_database_in_use_and_changes_nothing(installation, tmp_path):
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=_quiet())
    before = _snapshot()
    with pytest.raises(CommandError, match="already holds cases, users, audit entries"):
        call_command("restore", str(folder), stdout=_quiet())
    assert _snapshot() == before


def test_restore_refuses_a_tampered_backup_before_changing_anything(
    installation, settings, tmp_path
):
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=_quiet())
    [stored] = list((folder / "files" / "attachments").iterdir())
    stored.write_bytes(stored.read_bytes()[:-1] + b"A")
    _lose_everything(settings, tmp_path)
    with pytest.raises(CommandError, match="does not match its SHA-256"):
        call_command("restore", str(folder), stdout=_quiet())
    with scopes_disabled():
        assert not Case.objects.exists()
    assert not (tmp_path / "machine-2" / "attachments").exists()


def test_restore_refuses_without_the_keys_the_backup_needs(installation, settings, tmp_path):
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=_quiet())
    _lose_everything(settings, tmp_path)
    settings.FIELD_ENCRYPTION_KEYS = [crypto_key()]
    crypto.reset_keys()
    try:
        with pytest.raises(CommandError, match="TADASU_FIELD_KEYS lacks keys"):
            call_command("restore", "--check", str(folder), stdout=_quiet())
    finally:
        crypto.reset_keys()


def test_a_backup_is_never_written_over_an_existing_folder(installation, tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(folder), stdout=_quiet())
    assert list(folder.iterdir()) == []


def crypto_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def test_restore_check_names_what_is_not_a_backup(tmp_path):
    with pytest.raises(CommandError, match="not a Tadasu backup"):
        call_command("restore", "--check", str(tmp_path), stdout=_quiet())
    assert Path(tmp_path).exists()
