"""Where files are kept: documents (issued PDFs), attachments and uploaded reception sheets,
each through its own alias of Django's STORAGES (config/settings.py), encrypted.

The default backend is EncryptedFileSystemStorage: a folder per alias under the var folder,
outside STATIC_ROOT and every URL space, files owner-only (0600) in owner-only folders
(0700). Several machines share files by pointing the aliases at object storage instead:
EncryptedS3Storage (cases/storage_s3.py, django-storages' S3Storage with the same
encryption) on any S3-compatible store (README, "Running on several machines").

Whatever the backend, the bytes are encrypted before they leave the process, as the
database's personal details are (cases/crypto.py: Fernet with TADASU_FIELD_KEYS, the first
key encrypting, every key decrypting), so the store never holds a readable letter or scan.
`url()` refuses: the only ways out are the access-checked download views. Fernet is not a
stream cipher, so a file is encrypted and decrypted whole in memory: every kind is bounded
(TADASU_ATTACHMENT_MAX_MB, the reception-sheet limits, a letter's few pages).

Files are never rewritten in place (an object store cannot): re-encryption writes the new
bytes under a fresh name, points the row at it, and only then deletes the old file, so an
interrupted run leaves every row pointing at a complete file.
"""

import io
import secrets
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty

from . import crypto

ATTACHMENTS = "attachments"
DOCUMENTS = "documents"
UPLOADS = "uploads"


class EncryptedStorageMixin:
    """Encrypt on save, decrypt on open, never serve a URL; for any Django storage."""

    def _save(self, name: str, content) -> str:
        content.seek(0)
        return super()._save(name, ContentFile(crypto.encrypt_bytes(content.read())))

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            raise ValueError("encrypted files are opened for reading only")
        data = self.read_stored(name)
        if not crypto.is_encrypted(data):
            # Never hand out a file that escaped encryption as if all were well.
            raise ImproperlyConfigured(
                f"A file in storage is not encrypted ({name}): run `manage.py encrypt_attachments`."
            )
        return File(io.BytesIO(crypto.decrypt_bytes(data)), name=name)

    def url(self, name: str) -> str:
        raise ValueError("stored files are served only by the access-checked views")

    def read_stored(self, name: str) -> bytes:
        """The bytes as stored (a Fernet token), for backups and re-encryption."""
        with super()._open(name, "rb") as stored:
            return stored.read()

    def save_stored(self, name: str, data: bytes) -> str:
        """Keep bytes that are already a Fernet token as they are (restoring a backup,
        re-encrypting); returns the name actually used."""
        if not crypto.is_encrypted(data):
            raise ValueError("save_stored takes encrypted bytes only")
        name = self.get_available_name(name)
        return super()._save(name, ContentFile(data))


class EncryptedFileSystemStorage(EncryptedStorageMixin, FileSystemStorage):
    """A local (or shared network) folder, owner-only: the default for every alias."""

    def __init__(self, **options) -> None:
        # Owner-only: letters and scans hold names, addresses and amounts.
        options.setdefault("file_permissions_mode", 0o600)
        options.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**options)


class _AliasStorage(LazyObject):
    """storages[alias], looked up on first use and again after STORAGES changes. A model's
    FileField evaluates its storage once, at import; this keeps it following the setting
    (a test's override, as Django's default_storage does)."""

    def __init__(self, alias: str) -> None:
        self.__dict__["alias"] = alias
        super().__init__()

    def _setup(self) -> None:
        self._wrapped = storages[self.__dict__["alias"]]


_ALIASES = {alias: _AliasStorage(alias) for alias in (ATTACHMENTS, DOCUMENTS, UPLOADS)}


@receiver(setting_changed)
def _storages_changed(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        for lazy in _ALIASES.values():
            lazy._wrapped = empty


def alias_of(store) -> str:
    """The STORAGES alias of a model field's storage (one of the lazy ones above)."""
    return store.__dict__["alias"]


def attachments() -> Storage:
    """The storage of Attachment.file (the field's storage callable)."""
    return _ALIASES[ATTACHMENTS]


def documents() -> Storage:
    """The storage of Document.file."""
    return _ALIASES[DOCUMENTS]


def uploads() -> Storage:
    """The storage of PendingUpload.file (a reception sheet between preview and import)."""
    return _ALIASES[UPLOADS]


def random_name(suffix: str = "") -> str:
    # Random: nothing that names a person reaches the store, a bucket listing or a URL.
    return secrets.token_hex(16) + suffix


def rewrite_files(
    queryset: models.QuerySet, field: str, change: Callable[[bytes], bytes]
) -> tuple[int, int]:
    """Apply `change` to the stored bytes of `field` of every row; (changed, missing).

    A changed file is written under a fresh name, the row updated to it, the old file then
    deleted: never overwritten in place, so no moment exists when a row names a half-written
    file. Rows are updated with .update(): documents are immutable to save()."""
    changed = missing = 0
    for pk, name in queryset.values_list("pk", field).iterator():
        if not name:
            continue
        store = queryset.model._meta.get_field(field).storage
        if not store.exists(name):
            missing += 1
            continue
        data = store.read_stored(name)
        new = change(data)
        if new == data:
            continue
        new_name = store.save_stored(random_name(_suffix(name)), new)
        queryset.model._base_manager.filter(pk=pk).update(**{field: new_name})
        store.delete(name)
        changed += 1
    return changed, missing


def encrypted_file_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) whose files are kept in an encrypted storage."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField) and isinstance(field.storage, EncryptedStorageMixin)
    ]


def _suffix(name: str) -> str:
    tail = name.rsplit("/", 1)[-1]
    return "." + tail.rsplit(".", 1)[1] if "." in tail else ""


def _encrypted(data: bytes) -> bytes:
    return data if crypto.is_encrypted(data) else crypto.encrypt_bytes(data)


def _rotated(data: bytes) -> bytes:
    # A file still in clear is encrypted on the way (encrypt_attachments not yet run).
    return crypto.rotate_bytes(data) if crypto.is_encrypted(data) else crypto.encrypt_bytes(data)


def encrypt_stored(queryset: models.QuerySet, field: str = "file") -> tuple[int, int]:
    """Encrypt every file of `field` still stored in clear; (encrypted, missing)."""
    return rewrite_files(queryset, field, _encrypted)


def rotate_stored(queryset: models.QuerySet, field: str = "file") -> tuple[int, int]:
    """Re-encrypt every file of `field` with the newest key; (rotated, missing)."""
    return rewrite_files(queryset, field, _rotated)
