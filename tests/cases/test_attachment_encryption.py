"""Attachments are encrypted at rest like documents, owner-only on disk, and rotate with the
field keys (issue 17: attachments were stored unencrypted)."""

import importlib
import io
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from cases import crypto
from cases.models import Attachment
from tests.conftest import point_file_storages

pytestmark = pytest.mark.django_db

PDF = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Name (Sato Hanako) >> endobj\ntrailer <<>>\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path) -> Path:
    point_file_storages(settings, tmp_path)
    return tmp_path / "attachments"


@pytest.fixture
def stored(client, world, case, attachment_dir) -> tuple[Attachment, Path]:
    client.force_login(world.staff)
    response = client.post(
        reverse("cases:attachment_new", kwargs={"ref": case.reference}),
        {"file": SimpleUploadedFile("receipt.pdf", PDF), "description": ""},
    )
    assert response.status_code == 302
    with scopes_disabled():
        attachment = Attachment.objects.get()
    [path] = [p for p in attachment_dir.rglob("*") if p.is_file()]
    return attachment, path


def _download(client, case, attachment) -> bytes:
    url = reverse(
        "cases:attachment_download",
        kwargs={"ref": case.reference, "attachment_id": attachment.pk},
    )
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_stored_file_is_encrypted_and_the_download_is_not(client, case, stored):
    attachment, path = stored
    raw = path.read_bytes()
    assert b"Sato Hanako" not in raw and not raw.startswith(b"%PDF")
    assert crypto.decrypt_bytes(raw) == PDF
    assert _download(client, case, attachment) == PDF


def test_files_and_folders_are_owner_only(stored, attachment_dir):
    _attachment, path = stored
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    folder = path.parent
    while True:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        if folder == attachment_dir:
            break
        folder = folder.parent


def test_rotate_keys_re_encrypts_attachment_files(client, case, stored, settings):
    attachment, path = stored
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    crypto.reset_keys()
    try:
        call_command("rotate_keys", stdout=io.StringIO())
        # Written anew under a fresh name (never rewritten in place), the old file gone.
        attachment.refresh_from_db()
        rotated = Path(attachment.file.path)
        assert rotated != path and not path.exists()
        assert Fernet(new_key.encode()).decrypt(rotated.read_bytes()) == PDF
        assert stat.S_IMODE(rotated.stat().st_mode) == 0o600
        settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old keys can now be dropped
        crypto.reset_keys()
        assert _download(client, case, attachment) == PDF
    finally:
        crypto.reset_keys()


@pytest.mark.parametrize("how", ["command", "migration"])
def test_files_stored_in_clear_before_are_encrypted(client, case, stored, how):
    attachment, path = stored
    path.write_bytes(PDF)  # as uploaded before attachments were encrypted
    if how == "command":
        call_command("encrypt_attachments", stdout=io.StringIO())
    else:
        importlib.import_module("cases.migrations.0014_encrypt_attachments").encrypt_existing(
            apps, None
        )
    attachment.refresh_from_db()
    path = Path(attachment.file.path)
    assert crypto.decrypt_bytes(path.read_bytes()) == PDF
    assert _download(client, case, attachment) == PDF
    # Run again: nothing is encrypted twice, and the file stays where it is.
    call_command("encrypt_attachments", stdout=io.StringIO())
    attachment.refresh_from_db()
    assert Path(attachment.file.path) == path
    assert crypto.decrypt_bytes(path.read_bytes()) == PDF


def test_a_file_left_in_clear_is_not_served_as_if_encrypted(client, case, stored):
    attachment, path = stored
    path.write_bytes(PDF)
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        _download(client, case, attachment)
