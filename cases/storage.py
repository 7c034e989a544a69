"""Where attachment bytes are kept (cases.models.Attachment.file), encrypted.

A FileSystemStorage under settings.TADASU_ATTACHMENT_DIR, outside STATIC_ROOT and every URL
space. The location is read from settings on every use, not frozen at import, so a changed
setting (and a test's override) takes effect; `url()` refuses, because the only way out for
these files is the access-checked download view in cases/attachments.py.

The bytes are encrypted at rest as a document's PDF is (cases/crypto.py: Fernet with
TADASU_FIELD_KEYS, the first key encrypting, every key decrypting), files owner-only (0600)
in owner-only folders (0700). Fernet is not a stream cipher, so a file is encrypted and
decrypted whole in memory: attachments are bounded (TADASU_ATTACHMENT_MAX_MB).
`manage.py encrypt_attachments` encrypts files stored before this; `manage.py rotate_keys`
re-encrypts them with the newest key.
"""

import io
import os
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage

from . import crypto


class AttachmentStorage(FileSystemStorage):
    def __init__(self) -> None:
        # Owner-only: scans of receipts hold names, addresses and amounts.
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self) -> str:
        return str(settings.TADASU_ATTACHMENT_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> None:
        # FileSystemStorage.url() raises ValueError when there is no base URL.
        return None

    def _save(self, name: str, content) -> str:
        content.seek(0)
        return super()._save(name, ContentFile(crypto.encrypt_bytes(content.read())))

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            raise ValueError("attachments are opened for reading only")
        with super()._open(name, "rb") as stored:
            data = stored.read()
        if not crypto.is_encrypted(data):
            # Never hand out a file that escaped encryption as if all were well.
            raise ImproperlyConfigured(
                "An attachment is stored unencrypted: run `manage.py encrypt_attachments`."
            )
        return File(io.BytesIO(crypto.decrypt_bytes(data)), name=name)

    def rewrite(self, name: str, change) -> bool:
        """Replace the stored bytes of `name` with change(stored bytes), atomically (a new
        owner-only file moved over the old one); False if `change` returned them unchanged."""
        path = self.path(name)
        with open(path, "rb") as stored:
            data = stored.read()
        new = change(data)
        if new == data:
            return False
        temporary = f"{path}.tmp-{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(new)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return True


def encrypt_stored(names: Iterable[str]) -> tuple[int, int]:
    """Encrypt every file of `names` still stored in clear; (encrypted, missing)."""
    storage, encrypted, missing = AttachmentStorage(), 0, 0
    for name in names:
        if not storage.exists(name):
            missing += 1
            continue
        if storage.rewrite(
            name, lambda data: data if crypto.is_encrypted(data) else crypto.encrypt_bytes(data)
        ):
            encrypted += 1
    return encrypted, missing


def _rotated(data: bytes) -> bytes:
    return crypto.rotate_bytes(data) if crypto.is_encrypted(data) else crypto.encrypt_bytes(data)


def rotate_stored(names: Iterable[str]) -> tuple[int, int]:
    """Re-encrypt every file of `names` with the newest key; (rotated, missing)."""
    storage, rotated, missing = AttachmentStorage(), 0, 0
    for name in names:
        if not storage.exists(name):
            missing += 1
            continue
        # A file still in clear is encrypted on the way (encrypt_attachments not yet run).
        storage.rewrite(
            name,
            lambda data: (
                crypto.rotate_bytes(data)
                if crypto.is_encrypted(data)
                else crypto.encrypt_bytes(data)
            ),
        )
        rotated += 1
    return rotated, missing
