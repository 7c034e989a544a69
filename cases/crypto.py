"""Encryption at rest for account numbers, phone numbers and addresses.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with keys kept apart from the
Django secret: TADASU_FIELD_KEYS is a comma-separated list, the first key encrypts, every
key decrypts (MultiFernet), so keys can be rotated: put a new key first, run
`manage.py rotate_keys`, then drop the old one.
"""

import json
import re
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


# Masks are drawn with the full-width asterisk, as Japanese forms write a hidden character,
# wherever something is hidden (numbers, names, addresses; cases/services.py, admin_audit.py).
MASK = "＊"


def mask(value: str | None, *, keep: int = 4) -> str:
    """＊＊＊＊1234: only the last characters, for numbers shown on screen."""
    if not value:
        return ""
    visible = value[-keep:] if len(value) > keep else ""
    return MASK * 4 + visible


_PREFECTURES = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]
# Municipalities whose name holds 市, 町, 村 or 区 before its end, where the first such
# character would cut the name short (四日市市, 十日町市, 東村山市, 玉村町…).
_INNER_SUFFIX_NAMES = sorted(
    [
        "四日市市",
        "廿日市市",
        "野々市市",
        "十日町市",
        "大町市",
        "大町町",
        "東村山市",
        "武蔵村山市",
        "羽村市",
        "大村市",
        "田村市",
        "玉村町",
        "上市町",
        "下市町",
        "余市町",
    ],
    key=len,
    reverse=True,
)
_DISTRICTS_WITH_INNER_SUFFIX = frozenset(["余市郡", "高市郡", "北村山郡", "西村山郡", "東村山郡"])
_POSTCODE = re.compile(r"^\s*(〒\s*)?\d{3}[-－‐ー]?\d{4}\s*")
_MUNICIPALITY_END = re.compile(r"[市区町村]")


def _municipality(rest: str) -> str:
    """The municipality at the start of `rest` (after the prefecture): 北九州市, 千代田区,
    遠賀郡みどり町; a designated city without its ward. '' when none is recognised."""
    district = ""
    gun = rest.find("郡", 1)  # 遠賀郡みどり町; 郡山市 starts with its 郡
    if 0 < gun <= 6 and (
        rest[: gun + 1] in _DISTRICTS_WITH_INNER_SUFFIX
        or not _MUNICIPALITY_END.search(rest, 1, gun)
    ):
        district, rest = rest[: gun + 1], rest[gun + 1 :]
    for name in _INNER_SUFFIX_NAMES:
        if rest.startswith(name):
            return district + name
    # A name is at least two characters: 市川市 is not 市; the first 市, 区, 町 or 村 ends it.
    found = _MUNICIPALITY_END.search(rest, 1)
    if found is None or found.end() > 10:
        return ""
    return district + rest[: found.end()]


def mask_address(value: str | None) -> str:
    """The prefecture and the municipality whole (福岡県北九州市＊＊＊＊), nothing of the ward,
    the street or the postcode. What it cannot read shows nothing."""
    if not value:
        return ""
    rest = _POSTCODE.sub("", value.strip())
    prefecture = next((p for p in _PREFECTURES if rest.startswith(p)), "")
    rest = rest[len(prefecture) :]
    return prefecture + _municipality(rest) + MASK * 4


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
