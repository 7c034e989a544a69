"""Encryption at rest for account numbers, phone numbers and addresses.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with keys kept apart from the
Django secret: TADASU_FIELD_KEYS is a comma-separated list, the first key encrypts, every
key decrypts (MultiFernet), so keys can be rotated: put a new key first, run
`manage.py rotate_keys`, then drop the old one.
"""

import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured(
            "TADASU_FIELD_KEYS is not set: personal data cannot be encrypted. Generate a key "
            "with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        )
    return MultiFernet([Fernet(key) for key in keys])


def reset_keys() -> None:
    """Forget the cached keys (after the setting changed, e.g. in tests)."""
    _fernet.cache_clear()


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        # Never echo the token or a value: this may reach a log.
        raise ImproperlyConfigured("A stored value cannot be decrypted with any key.") from error


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


# Bytes kept outside the database (attachments, cases/storage.py) are Fernet tokens too: the
# same keys, the same rotation. A token starts with the version byte 0x80, which base64
# writes as "gA"; no file type Tadasu keeps (PDF, PNG, JPEG) starts so.
TOKEN_PREFIX = b"gAAAAA"


def encrypt_bytes(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken as error:
        raise ImproperlyConfigured("A stored file cannot be decrypted with any key.") from error


def rotate_bytes(token: bytes) -> bytes:
    return _fernet().rotate(token)


def is_encrypted(data: bytes) -> bool:
    return data.startswith(TOKEN_PREFIX)


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token. Empty stays empty (nothing to hide)."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)


def mask(value: str | None, *, keep: int = 4) -> str:
    """****1234: only the last characters, for numbers shown on screen."""
    if not value:
        return ""
    visible = value[-keep:] if len(value) > keep else ""
    return "****" + visible


def mask_address(value: str | None) -> str:
    """The first few characters (the city, usually) and nothing of the street."""
    if not value:
        return ""
    return value[:4] + "＊＊＊＊"


class EncryptedJSONField(EncryptedTextField):
    """A JSON document stored as one Fernet token (e.g. a document's frozen data)."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return json.loads(decrypt(value))

    def to_python(self, value):
        return value

    def value_to_string(self, obj):
        # The document itself, as Django's own JSONField does, so that a serialized row
        # (a backup, cases/backup.py) loads back as the same document and not as its text.
        return self.value_from_object(obj)


class EncryptedBinaryField(models.BinaryField):
    """Bytes stored encrypted (e.g. an issued PDF that names a person)."""

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        token = _fernet().encrypt(bytes(value))
        return super().get_db_prep_value(token, connection, prepared)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return _fernet().decrypt(bytes(value))
        except InvalidToken as error:
            raise ImproperlyConfigured("A stored file cannot be decrypted with any key.") from error
