"""Files through STORAGES (cases/storage.py): encrypted whatever the backend, never served by
URL, re-encrypted without rewriting in place — also on a backend that is not a local folder
(Django's in-memory storage stands in for an object store: no path(), no rename)."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_scopes import scopes_disabled

from cases import crypto, storage
from remedies.models import Document

pytestmark = pytest.mark.django_db


class EncryptedMemoryStorage(storage.EncryptedStorageMixin, InMemoryStorage):
    pass


@pytest.fixture
def object_store(settings):
    stores = dict(settings.STORAGES)
    for alias in ("documents", "attachments", "uploads"):
        stores[alias] = {"BACKEND": "tests.remedies.test_file_storage.EncryptedMemoryStorage"}
    settings.STORAGES = stores
    return storages


def test_a_file_is_kept_encrypted_and_read_back_in_clear(object_store):
    store = storage.documents()
    name = store.save("letter.pdf", ContentFile(b"%PDF-1.7 Sato Hanako"))
    assert b"Sato Hanako" not in store.read_stored(name)
    assert crypto.is_encrypted(store.read_stored(name))
    with store.open(name) as handle:
        assert handle.read() == b"%PDF-1.7 Sato Hanako"


def test_no_stored_file_has_a_url(object_store):
    store = storage.attachments()
    name = store.save("scan.png", ContentFile(b"\x89PNG"))
    with pytest.raises(ValueError):
        store.url(name)


def test_a_model_field_follows_a_changed_storages_setting(object_store):
    field = Document._meta.get_field("file")
    assert isinstance(field.storage, EncryptedMemoryStorage)
    assert storage.alias_of(field.storage) == "documents"


def test_issued_letters_live_in_the_store_and_rotate_to_new_names(world, story, object_store):
    from cases.scoping import tenant_scope
    from remedies.documents import services

    case, _c, d = story
    with tenant_scope(world.staff):
        letter = services.document_issue(kind="apology", by=world.staff, case=case, party=d)
    store = storage.documents()
    old_name = letter.file.name
    assert store.exists(old_name) and letter.pdf.startswith(b"%PDF")
    drawn = letter.pdf
    call_command("rotate_keys", stdout=io.StringIO())
    with scopes_disabled():
        letter = Document.objects.get(pk=letter.pk)
    assert letter.file.name != old_name and not store.exists(old_name)
    assert letter.pdf == drawn and services.verify(letter)


def test_a_letter_whose_file_is_gone_says_so_instead_of_failing(world, story, object_store):
    from cases.scoping import tenant_scope
    from remedies.documents import services
    from remedies.errors import RemedyError

    case, _c, d = story
    with tenant_scope(world.staff):
        letter = services.document_issue(kind="apology", by=world.staff, case=case, party=d)
    storage.documents().delete(letter.file.name)
    with scopes_disabled():
        letter = Document.objects.get(pk=letter.pk)
    assert services.verify(letter) is False
    with (
        tenant_scope(world.staff),
        pytest.raises(RemedyError, match="保存ファイルが見つかりません"),
    ):
        services.document_download(document=letter, by=world.staff)


@pytest.mark.parametrize("alias", ["documents", "attachments", "uploads", "job_inputs"])
def test_every_file_that_holds_personal_details_is_encrypted_as_configured(alias, monkeypatch):
    """The settings as an installation gets them (no test override): a case file waiting for
    its import job holds names and accounts as much as a letter does."""
    import importlib

    import config.settings as configured

    for name in ("TADASU_FILES_BACKEND", "TADASU_JOB_INPUT_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    configured = importlib.reload(configured)
    backend = configured.STORAGES[alias]["BACKEND"]
    assert issubclass(import_string(backend), storage.EncryptedStorageMixin)
