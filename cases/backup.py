"""Backing up and restoring a Tadasu installation at the `manage.py` level: the database,
every stored file (documents, attachments, uploaded sheets, audit checkpoints) and a record
of which keys it needs — never the keys themselves.

    manage.py backup /backups/2026-12-02       # a new folder; refuses an existing one
    manage.py restore /backups/2026-12-02      # into a migrated, empty database

A backup folder holds:
- database.jsonl.fernet: every row as one JSON line (Django's Python serializer, natural
  keys for content types and permissions, times to the microsecond; sessions left out),
  each line encrypted on its own with the field key (cases/crypto.py) — a serializer writes
  encrypted fields in clear, so the dump as a whole must be encrypted — and read back one
  line at a time;
- files/<alias>/<name>: each stored file exactly as stored, still encrypted (Fernet);
- manifest.json: the format, when, the newest migration of each app, rows per model, the
  SHA-256 of every other file, and fingerprints of the keys the data needs.

The keys stay out on purpose: a backup beside its keys is personal data in clear. Keep the
field keys (TADASU_FIELD_KEYS), the audit keys (TADASU_AUDIT_KEYS) and the checkpoint keys in
the secret store they came from, and back that up separately. `restore` compares the keys it
is given with the fingerprints and refuses before changing anything when one is missing.

`restore` checks every file's SHA-256 first, refuses a database that already holds cases,
users or audit entries, then loads the rows in one transaction, puts the files back under
their names, and finally checks the audit trail (`verify_audit`) and the ledger totals.
A database snapshot (pg_dump) is quicker for a large installation; this procedure is the one
that carries the files with the rows and proves the result.
"""

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django_scopes import scopes_disabled

from . import crypto, storage
from .audit import audit_keys

FORMAT = "tadasu-backup-1"
DATABASE = "database.jsonl.fernet"
MANIFEST = "manifest.json"
# Rows a fresh `migrate` makes again, or that are worth nothing after a restore.
EXCLUDED = ("contenttypes", "auth.permission", "sessions", "admin.logentry")
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def fingerprint(key: str | bytes) -> str:
    data = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(b"tadasu-key-fingerprint:" + data).hexdigest()[:16]


def key_fingerprints() -> dict[str, list[str]]:
    return {
        "field_keys": [fingerprint(k) for k in settings.FIELD_ENCRYPTION_KEYS],
        "audit_keys": sorted(audit_keys()),  # already ids that tell nothing about the key
        "checkpoint_public_keys": [fingerprint(k) for k in settings.AUDIT_CHECKPOINT_PUBLIC_KEYS],
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    _private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _models_to_dump() -> list:
    excluded_apps = {e for e in EXCLUDED if "." not in e}
    excluded_models = {e for e in EXCLUDED if "." in e}
    return [
        model
        for model in serializers.sort_dependencies(
            [(config, None) for config in apps.get_app_configs()], allow_cycles=True
        )
        if model._meta.app_label not in excluded_apps
        and model._meta.label_lower not in excluded_models
        and not model._meta.proxy
        and model._meta.managed
    ]


def _stored_files() -> dict[str, set[str]]:
    """Alias → names of the files the rows point at, and every audit checkpoint."""
    names: dict[str, set[str]] = {}
    for model, field_name in storage.encrypted_file_fields():
        alias = storage.alias_of(model._meta.get_field(field_name).storage)
        values = model._base_manager.exclude(**{field_name: ""}).values_list(field_name, flat=True)
        names.setdefault(alias, set()).update(values)
    checkpoints = storages["audit_checkpoints"]
    try:
        _folders, files = checkpoints.listdir("")
    except FileNotFoundError:
        files = []
    names["audit_checkpoints"] = set(files)
    return names


class _EncryptedLines:
    """A text stream that writes each line it is given as one Fernet token and a newline."""

    def __init__(self, raw) -> None:
        self.raw, self.pending = raw, ""

    def write(self, text: str) -> None:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.raw.write(crypto.encrypt_bytes(line.encode()) + b"\n")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.pending:
            self.raw.write(crypto.encrypt_bytes(self.pending.encode()) + b"\n")
            self.pending = ""


class _ExactEncoder(DjangoJSONEncoder):
    """Times to the microsecond (DjangoJSONEncoder keeps milliseconds): an audit entry's MAC
    covers its time exactly."""

    def default(self, o):
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


def _dump(rows, out: "_EncryptedLines") -> int:
    """Write the rows as JSON lines (Django's Python serializer, one object a line); the
    queryset is read in chunks, never whole."""
    serializer = serializers.get_serializer("python")()
    count = 0
    chunk: list = []
    for obj in rows.iterator(chunk_size=2000):
        chunk.append(obj)
        if len(chunk) == 2000:
            count += _dump_chunk(serializer, chunk, out)
            chunk = []
    return count + (_dump_chunk(serializer, chunk, out) if chunk else 0)


def _dump_chunk(serializer, chunk: list, out: "_EncryptedLines") -> int:
    for item in serializer.serialize(chunk, use_natural_foreign_keys=True):
        out.write(json.dumps(item, cls=_ExactEncoder, ensure_ascii=False) + "\n")
    return len(chunk)


def _decrypted_objects(path: Path):
    with open(path, "rb") as handle:
        for token in handle:
            if token.strip():
                yield json.loads(crypto.decrypt_bytes(token.strip()))


def _read_stored(alias: str, name: str) -> bytes:
    store = storages[alias]
    if isinstance(store, storage.EncryptedStorageMixin):
        return store.read_stored(name)
    with store.open(name, "rb") as handle:
        return handle.read()


@dataclass
class Summary:
    rows: Counter = field(default_factory=Counter)
    files: Counter = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)


def backup(folder: Path) -> Summary:
    """Write a backup into `folder`, which must not exist yet."""
    folder = Path(folder)
    if folder.exists():
        raise BackupError(f"{folder} already exists: a backup is written into a new folder.")
    _private_folder(folder)
    summary = Summary()
    manifest_files: dict[str, str] = {}
    # One read transaction: rows and file names as of one moment (on PostgreSQL a
    # repeatable-read snapshot would need its own connection; documents and attachments
    # are never changed once written, so a file named by a row is the file of that row).
    with scopes_disabled(), transaction.atomic():
        fd = os.open(folder / DATABASE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            out = _EncryptedLines(raw)
            for model in _models_to_dump():
                rows = model._base_manager.order_by(model._meta.pk.name)
                summary.rows[model._meta.label] = _dump(rows, out)
            out.close()
        manifest_files[DATABASE] = _sha256(folder / DATABASE)
        for alias, names in _stored_files().items():
            for name in sorted(names):
                try:
                    data = _read_stored(alias, name)
                except FileNotFoundError:
                    summary.missing.append(f"{alias}/{name}")
                    continue
                relative = f"files/{alias}/{name}"
                _write_private(folder / relative, data)
                manifest_files[relative] = hashlib.sha256(data).hexdigest()
                summary.files[alias] += 1
        recorder = MigrationRecorder(connection)
        migrations: dict[str, str] = {}
        for app, name in recorder.applied_migrations():
            migrations[app] = max(name, migrations.get(app, ""))
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "migrations": dict(sorted(migrations.items())),
        "rows": dict(sorted(summary.rows.items())),
        "files": manifest_files,
        "missing_files": summary.missing,
        "keys": key_fingerprints(),
    }
    _write_private(
        folder / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode() + b"\n"
    )
    return summary


def _load_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: it is not a Tadasu backup.") from None
    except ValueError as error:
        raise BackupError(f"{MANIFEST} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST} is not a {FORMAT} manifest.")
    return manifest


def check(folder: Path) -> dict:
    """Everything restore checks before it changes anything; returns the manifest."""
    folder = Path(folder)
    manifest = _load_manifest(folder)
    files = manifest.get("files") or {}
    if DATABASE not in files:
        raise BackupError(f"The manifest lists no {DATABASE}.")
    for relative, expected in files.items():
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()):
            raise BackupError(f"The manifest names a file outside the backup: {relative}")
        if not path.is_file():
            raise BackupError(f"{relative} is listed in the manifest but missing.")
        if _sha256(path) != expected:
            raise BackupError(f"{relative} does not match its SHA-256 in the manifest.")
    present = key_fingerprints()
    needed = manifest.get("keys") or {}
    for kind, setting in (
        ("field_keys", "TADASU_FIELD_KEYS"),
        ("audit_keys", "TADASU_AUDIT_KEYS"),
    ):
        missing = sorted(set(needed.get(kind, [])) - set(present[kind]))
        if missing:
            raise BackupError(
                f"{setting} lacks keys this backup needs (fingerprints {', '.join(missing)}). "
                "Restore the keys from the secret store first."
            )
    with connection.cursor():
        recorder = MigrationRecorder(connection)
        applied: dict[str, str] = {}
        for app, name in recorder.applied_migrations():
            applied[app] = max(name, applied.get(app, ""))
    behind = sorted(
        app
        for app, name in (manifest.get("migrations") or {}).items()
        if applied.get(app, "") < name
    )
    if behind:
        raise BackupError(
            f"This database is older than the backup ({', '.join(behind)}): run "
            "`manage.py migrate` with the release that made the backup, or a newer one."
        )
    return manifest


def _refuse_unless_empty() -> None:
    from django.contrib.auth import get_user_model

    from .models import AuditEntry, Case

    with scopes_disabled():
        held = [
            label
            for label, model in (
                ("cases", Case),
                ("users", get_user_model()),
                ("audit entries", AuditEntry),
            )
            if model._base_manager.exists()
        ]
    if held:
        raise BackupError(
            f"This database already holds {', '.join(held)}: restore only into a new, "
            "migrated database (nothing was changed)."
        )


def _put_back(folder: Path, manifest: dict) -> Counter:
    counts: Counter = Counter()
    for relative in manifest["files"]:
        parts = relative.split("/", 2)
        if parts[0] != "files" or len(parts) != 3:
            continue
        alias, name = parts[1], parts[2]
        data = (folder / relative).read_bytes()
        store = storages[alias]
        if store.exists(name):
            if _read_stored(alias, name) == data:
                counts[alias] += 1
                continue
            raise BackupError(f"{alias}/{name} already exists with other content.")
        if isinstance(store, storage.EncryptedStorageMixin):
            saved = store.save_stored(name, data)
        else:
            from django.core.files.base import ContentFile

            saved = store.save(name, ContentFile(data))
        if saved != name:
            raise BackupError(f"{alias}/{name} could not be written under its own name.")
        counts[alias] += 1
    return counts


def restore(folder: Path) -> Summary:
    folder = Path(folder)
    manifest = check(folder)
    _refuse_unless_empty()
    summary = Summary()
    # The files first: rows that fail to load leave unreferenced encrypted files, never rows
    # pointing at files that are not there.
    summary.files = _put_back(folder, manifest)
    with scopes_disabled(), transaction.atomic():
        # Rows a fresh `migrate` made (reference data such as agencies) give way to the
        # backup's own, which carry the same meaning under the ids the other rows point at.
        for model in reversed(_models_to_dump()):
            if model._meta.label_lower.startswith("auth.") or model._meta.app_label == "axes":
                continue
            model._base_manager.all().delete()
        deferred = []
        objects = serializers.deserialize(
            "python", _decrypted_objects(folder / DATABASE), handle_forward_references=True
        )
        for obj in objects:
            obj.save(using=DEFAULT_DB_ALIAS)
            summary.rows[obj.object._meta.label] += 1
            if obj.deferred_fields:
                deferred.append(obj)
        for obj in deferred:
            obj.save_deferred_fields(using=DEFAULT_DB_ALIAS)
        # Primary-key sequences after explicit ids (PostgreSQL); a no-op on SQLite.
        statements = connection.ops.sequence_reset_sql(no_style(), _models_to_dump())
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        expected = manifest.get("rows") or {}
        wrong = {
            label: (count, summary.rows.get(label, 0))
            for label, count in expected.items()
            if summary.rows.get(label, 0) != count
        }
        if wrong:
            raise BackupError(f"Rows loaded differ from the manifest: {wrong}")
    return summary


def prove(stdout) -> None:
    """The audit trail and the ledger totals after a restore; raises if either is wrong."""
    call_command("verify_audit", stdout=stdout)
    call_command("ledger_totals", "--check", stdout=stdout)
