"""Proving the audit trail: signed checkpoints written outside the database, and the check
that every entry's MAC is right and every chain still reaches its newest checkpoint.

A MAC (cases/audit.py) shows that an entry was written by someone holding the audit key and
has not changed since. It cannot show that the newest entries are still there, or that the
database was not rolled back to an older copy: a checkpoint can. `write_checkpoint` records
each chain's head (its count, last id and last MAC, and the time) signed with an Ed25519
key the database never holds, into the "audit_checkpoints" storage, never overwriting one.
`verify` then finds any entry missing from before the newest checkpoint. The threat model
is in docs/SECURITY.md.
"""

import base64
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from django_scopes import scopes_disabled

from .audit import GENESIS, audit_keys, entry_mac
from .models import AuditEntry, AuditHead

CHECKPOINT_FORMAT = "tadasu-audit-checkpoint/1"


class CheckpointError(Exception):
    """A checkpoint cannot be written (no key) or read."""


# ---- keys ----------------------------------------------------------------------------------


def _signing_key() -> Ed25519PrivateKey | None:
    path = settings.AUDIT_CHECKPOINT_KEY
    if not path:
        return None
    with open(path, "rb") as file:
        key = serialization.load_pem_private_key(file.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("TADASU_AUDIT_CHECKPOINT_KEY must be an Ed25519 private key.")
    return key


def _raw(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def accepted_public_keys() -> set[str]:
    """The public keys whose checkpoints `verify` trusts (base64 of the raw key)."""
    keys = set(settings.AUDIT_CHECKPOINT_PUBLIC_KEYS)
    if not keys:
        private = _signing_key()
        if private is not None:
            keys.add(_raw(private.public_key()))
    return keys


def can_checkpoint() -> bool:
    return bool(settings.AUDIT_CHECKPOINT_KEY)


# ---- checkpoints ---------------------------------------------------------------------------


def _canonical(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def chain_heads() -> list[dict]:
    """Each chain's newest entry, as the database says it now."""
    with scopes_disabled():
        return [
            {"chain": chain, "count": seq, "last_id": last_id, "last_mac": last_mac}
            for chain, seq, last_id, last_mac in AuditHead.objects.filter(seq__gt=0)
            .order_by("chain")
            .values_list("chain", "seq", "last_id", "last_mac")
        ]


def write_checkpoint() -> tuple[str, dict]:
    """Sign every chain's head and store the checkpoint under a new name. Returns the name
    and the body. Read the heads at one instant: each head row is only ever written in the
    transaction that appends its entries, so a committed head always names a committed
    entry."""
    key = _signing_key()
    if key is None:
        raise CheckpointError(
            "No checkpoint key is configured (TADASU_AUDIT_CHECKPOINT_KEY): run "
            "audit_checkpoint where the key is."
        )
    now = timezone.now()
    body = {
        "format": CHECKPOINT_FORMAT,
        "created": now.isoformat(),
        "chains": chain_heads(),
    }
    document = {
        "body": body,
        "public_key": _raw(key.public_key()),
        "signature": base64.b64encode(key.sign(_canonical(body))).decode(),
    }
    storage = storages["audit_checkpoints"]
    # Sortable by time; the storage adds a suffix rather than overwrite an existing name.
    name = storage.save(f"{now:%Y%m%dT%H%M%S%fZ}.json", ContentFile(_canonical(document) + b"\n"))
    return name, body


@dataclass
class Checkpoint:
    name: str
    created: datetime
    chains: dict[int, dict]


def _read_checkpoint(storage, name: str, accepted: set[str]) -> Checkpoint:
    """The checkpoint stored under `name`; CheckpointError when it is not one that a
    trusted key signed."""
    try:
        with storage.open(name, "rb") as file:
            document = json.loads(file.read(1_000_000_000))
        body, public_key = document["body"], document["public_key"]
        signature = base64.b64decode(document["signature"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint {name} cannot be read ({error})") from None
    if public_key not in accepted:
        raise CheckpointError(f"checkpoint {name} is signed by a key that is not trusted")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(
            signature, _canonical(body)
        )
    except (InvalidSignature, ValueError):
        raise CheckpointError(f"checkpoint {name} does not match its signature") from None
    if body.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {name} is not in a format this version reads")
    return Checkpoint(
        name=name,
        created=datetime.fromisoformat(body["created"]),
        chains={int(c["chain"]): c for c in body["chains"]},
    )


def newest_checkpoint(problems: list[str]) -> Checkpoint | None:
    """The newest checkpoint signed by a trusted key. Names begin with their time, so the
    storage is read from the newest name back, up to the first valid checkpoint (a year of
    checkpoints every ten minutes is 50,000 files). A file met on the way that is not a
    valid checkpoint is itself a problem: someone wrote to the storage."""
    storage = storages["audit_checkpoints"]
    try:
        _, names = storage.listdir("")
    except FileNotFoundError:
        return None
    accepted = accepted_public_keys()
    for name in sorted((n for n in names if n.endswith(".json")), reverse=True):
        try:
            return _read_checkpoint(storage, name, accepted)
        except CheckpointError as error:
            problems.append(str(error))
    return None


# ---- verification --------------------------------------------------------------------------


@dataclass
class Report:
    count: int = 0
    chains: int = 0
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _entries() -> Iterable[AuditEntry]:
    return AuditEntry.objects.order_by("chain", "seq").iterator(chunk_size=2000)


def verify() -> Report:
    """Check every entry's MAC and place in its chain, each head, and each chain against
    the newest checkpoint. Problems name the first bad entry of each chain."""
    report = Report()
    keys = audit_keys()
    with scopes_disabled():
        heads = {h.chain: h for h in AuditHead.objects.all()}
        report.checkpoint = newest_checkpoint(report.problems)
        marks = report.checkpoint.chains if report.checkpoint else {}
        seen: dict[int, tuple[int, int, str]] = {}  # chain → (seq, id, mac) of its newest
        broken: set[int] = set()
        chain, previous, expected = None, GENESIS, 1
        for entry in _entries():
            report.count += 1
            if entry.chain != chain:
                chain, previous, expected = entry.chain, GENESIS, 1
                report.chains += 1
            problem = _entry_problem(entry, previous, expected, keys)
            if problem and chain not in broken:
                broken.add(chain)
                report.problems.append(f"entry {entry.pk} (chain {chain}, #{entry.seq}): {problem}")
            mark = marks.get(chain)
            if (
                mark
                and entry.seq == mark["count"]
                and chain not in broken
                and (entry.pk, entry.mac) != (mark["last_id"], mark["last_mac"])
            ):
                broken.add(chain)
                report.problems.append(
                    f"entry {entry.pk} (chain {chain}, #{entry.seq}): is not the entry "
                    f"that checkpoint {report.checkpoint.name} recorded at this place"
                )
            previous, expected = entry.mac, entry.seq + 1
            seen[chain] = (entry.seq, entry.pk, entry.mac)
    for chain_id, head in sorted(heads.items()):
        newest = seen.get(chain_id, (0, 0, GENESIS))
        if (head.seq, head.last_id, head.last_mac) != newest and chain_id not in broken:
            report.problems.append(
                f"chain {chain_id}: its head names entry #{head.seq} (id {head.last_id}), but "
                f"the newest entry is #{newest[0]} (id {newest[1]}): entries were removed"
            )
    for chain_id in sorted(set(seen) - set(heads)):
        report.problems.append(f"chain {chain_id}: its head was removed")
    for chain_id, mark in sorted(marks.items()):
        have = seen.get(chain_id, (0, 0, GENESIS))[0]
        if have < mark["count"] and chain_id not in broken:
            report.problems.append(
                f"chain {chain_id}: checkpoint {report.checkpoint.name} of "
                f"{report.checkpoint.created:%Y-%m-%d %H:%M:%S} recorded {mark['count']} "
                f"entries, only {have} are left: entries were removed or the database was "
                "rolled back"
            )
    return report


def _entry_problem(entry: AuditEntry, previous: str, expected: int, keys: dict) -> str:
    if entry.seq != expected:
        return f"entries before it are missing (expected #{expected})"
    if entry.chain != (entry.municipality_id or 0):
        return "it was moved from another municipality's chain"
    if entry.prev_mac != previous:
        return "does not follow its predecessor (an entry before it was changed)"
    key = keys.get(entry.key_id)
    if key is None:
        return f"it is signed with key {entry.key_id!r}, which is not configured"
    if not _same(entry_mac(entry, key), entry.mac):
        return "its content does not match its MAC (it was changed or forged)"
    return ""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify_chain() -> tuple[int, list[str]]:
    """The number of entries and the problems found (`verify` in short)."""
    report = verify()
    return report.count, report.problems


def checkpoint_after_bulk_job() -> str:
    """After an import or a bulk run has committed: a checkpoint, where this machine holds
    the checkpoint key, so the many entries it wrote are covered at once. Returns what to
    tell the administrator."""
    if not can_checkpoint():
        return (
            "No checkpoint key here: run `manage.py audit_checkpoint` where it is, so that "
            "the entries just written are covered."
        )
    name, _ = write_checkpoint()
    return f"Audit checkpoint {name} written."
