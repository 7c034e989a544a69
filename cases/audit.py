"""The audit trail: entries written by services inside their own transaction, one keyed
chain per municipality (cases/audit_verify.py checks them).

Also the request context (client address) that entries record, and the log-in/log-out
signals. Entries never hold personal data in clear: callers pass masked values.
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from django.conf import settings
from django.contrib.auth import signals as auth_signals
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import audit_signer, bulk
from .models import AuditEntry, AuditHead, Case, Membership, User
from .mynumber import mask_individual_numbers
from .scoping import membership_of

GENESIS = "0" * 64
NO_MUNICIPALITY = 0  # the chain of events that belong to no municipality (failed log-ins)
_client_address: ContextVar[str | None] = ContextVar("client_address", default=None)


class AuditRequestMiddleware:
    """Remembers the client address of the request for the entries it writes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_address.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            _client_address.reset(token)


# ---- keys ----------------------------------------------------------------------------------


def key_id_of(key: bytes) -> str:
    """A short name for a key that tells nothing about it (which key signed an entry)."""
    return hashlib.sha256(b"tadasu-audit-key-id:" + key).hexdigest()[:12]


@cache
def audit_keys() -> dict[str, bytes]:
    """The MAC keys by id, the signing key first (TADASU_AUDIT_KEYS)."""
    keys = [key.encode() for key in settings.AUDIT_KEYS]
    if not keys:
        raise ImproperlyConfigured(
            "TADASU_AUDIT_KEYS is not set: audit entries cannot be signed. Generate a key "
            "with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    if any(len(key) < 32 for key in keys):
        raise ImproperlyConfigured("Each key in TADASU_AUDIT_KEYS needs 32 characters or more.")
    return {key_id_of(key): key for key in keys}


def reset_audit_keys() -> None:
    """Forget the cached keys (after the setting changed, e.g. in tests)."""
    audit_keys.cache_clear()


def entry_mac(entry: AuditEntry, key: bytes, data_text: str | None = None) -> str:
    """HMAC-SHA256 over the entry's place in its chain, its predecessor's MAC and its
    content, canonically encoded: nobody without the key can write or re-chain an entry.
    `data_text`: canonical_data(entry.data), if the caller has it already."""
    # hmac.digest: OpenSSL's one-shot HMAC, the same MAC as hmac.new(…).hexdigest().
    return hmac.digest(key, _canonical(entry, data_text).encode(), "sha256").hex()


# json.dumps with these options builds an encoder for each call: one, made once.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_data(data: object) -> str:
    """An entry's data as the MAC reads it: JSON, keys sorted, no spaces, text as it is
    (json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")))."""
    return _CANONICAL.encode(data)


def _canonical(entry: AuditEntry, data_text: str | None) -> str:
    # json.dumps({"chain": …, "seq": …, "prev": …, "at": …, "user": …, "role": …, "action": …,
    # "municipality": …, "case": …, "object_type": …, "object_id": …, "data": …,
    # "client_address": …}, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    # written out in its keys' sorted order around the data's own JSON, which audit_flush
    # encodes once for the MAC and for the column: an import chains a hundred thousand
    # entries, and the two cost 12 µs an entry where encoding the whole entry and then the
    # column's data cost 20 (timeit, a 経過 line's entry).
    # tests/cases/test_audit.py checks it against that json.dumps for any entry.
    return _canonical_of(
        entry.at.isoformat(),
        canonical_data(entry.data) if data_text is None else data_text,
        entry.prev_mac,
        entry.action,
        entry.case_id,
        entry.chain,
        entry.client_address,
        entry.municipality_id,
        entry.object_id,
        entry.object_type,
        entry.role,
        entry.seq,
        entry.user_id,
    )


def _canonical_of(
    at: str,
    data_text: str,
    prev_mac: str,
    action: str,
    case_id: int | None,
    chain: int,
    client_address: str | None,
    municipality_id: int | None,
    object_id: str,
    object_type: str,
    role: str,
    seq: int,
    user_id: int | None,
) -> str:
    """_canonical from the entry's values (`at` in ISO form, the data encoded): also what
    the process signing an import's entries calls (audit_signer.py)."""
    value = _json_value
    return "".join(
        (
            '{"action":',
            value(action),
            ',"at":',
            value(at),
            ',"case":',
            value(case_id),
            ',"chain":',
            value(chain),
            ',"client_address":',
            value(client_address),
            ',"data":',
            data_text,
            ',"municipality":',
            value(municipality_id),
            ',"object_id":',
            value(object_id),
            ',"object_type":',
            value(object_type),
            ',"prev":',
            value(prev_mac),
            ',"role":',
            value(role),
            ',"seq":',
            value(seq),
            ',"user":',
            value(user_id),
            "}",
        )
    )


def _json_value(value: object) -> str:
    """json.dumps(value, ensure_ascii=False) for the entry's own columns."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)  # what json.dumps writes for text, without its setup
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


# ---- appending -----------------------------------------------------------------------------

# The heads an audit_batch holds, by chain: locked at its first entry in that chain.
_held_heads: ContextVar[dict[int, AuditHead] | None] = ContextVar("held_heads", default=None)
# The entries an audit_batch has chained but not yet written, in order: written together,
# one INSERT for many (audit_flush), so a batch of thousands of entries costs few round
# trips. Nothing reads an entry back before its batch ends (or flushes); an entry held there
# has its place (`seq`) but not yet its `prev_mac` and MAC, given when it is written.
_unwritten: ContextVar[list[AuditEntry] | None] = ContextVar("unwritten", default=None)
_FLUSH_AT = 5000  # entries held before they are written: bounded memory, few statements
# What must be written before the entries an audit_batch holds (rows that the entries name
# and that are written in bulk too, e.g. the cases of a compiled import): called by
# audit_flush, in order, before it chains and writes the entries.
_before_flush: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "before_flush", default=None
)


def _lock_head(chain: int) -> AuditHead:
    AuditHead.objects.get_or_create(chain=chain)
    # Lock this chain's head: its appends are serialised, so it never forks. Other
    # municipalities' chains have heads of their own and never wait for this one.
    return AuditHead.objects.select_for_update().get(chain=chain)


@contextmanager
def audit_batch() -> Iterator[None]:
    """Many entries in one transaction (documents issued in bulk, an import): each chain's
    head is locked at its first entry and written once, after the last, instead of for each
    entry. The chains are the same. Only the chains written are held: another
    municipality's writes go on. Inside, nothing may roll back to a savepoint past an entry
    and carry on: a head held here would then point at an entry that is gone (an error must
    end the batch)."""
    with transaction.atomic():
        heads: dict[int, AuditHead] = {}
        token = _held_heads.set(heads)
        pending = _unwritten.set([])
        hooks = _before_flush.set([])
        try:
            yield
            audit_flush()
            signer = audit_signer.current()
            if signer is not None:  # each chain's last MAC, once every entry is signed
                bulk.settle()
                for chain, mac in signer.last_macs.items():
                    heads[chain].last_mac = mac
        finally:
            _before_flush.reset(hooks)
            _unwritten.reset(pending)
            _held_heads.reset(token)
        for head in heads.values():
            head.save(update_fields=["seq", "last_id", "last_mac"])


def audit_flush() -> None:
    """Write the entries the audit_batch around has chained so far (one INSERT run over
    them all, their ids taken first: cases/bulk.py), in the order they were chained, and
    point each held head at its chain's last. Call it before reading entries of this
    batch back; outside a batch it does nothing."""
    entries = _unwritten.get()
    # The entries' ids taken first, before the hooks' rows are sent: inside
    # bulk.overlapped(), a statement after them would wait until they are written.
    ids = bulk.reserve_ids({AuditEntry: len(entries)}).get(AuditEntry) if entries else None
    for hook in _before_flush.get() or ():
        hook()
    if not entries:
        return
    heads = _held_heads.get() or {}
    key_id, key = next(iter(audit_keys().items()))
    signer = audit_signer.current()
    if signer is not None:  # chained, signed and formatted in a process of their own
        for entry in entries:
            _name_written_rows(entry)
            entry.key_id = key_id
        bulk.insert_formatted(entries, ids, signer.data)
        signer.sign(entries, heads)
        bulk.send()
        for entry in entries:  # the last entry of each chain names its id
            heads[entry.chain].last_id = entry.pk
        entries.clear()
        return
    # PostgreSQL's jsonb reads the MAC's own encoding of the data as well as any other.
    postgresql = connection.vendor == "postgresql"
    for entry in entries:
        # Chained here, not when appended: an entry may name a row written in bulk just
        # before (a hook above), whose id was not known then. Same order, same chain.
        _name_written_rows(entry)
        head = heads[entry.chain]
        entry.key_id, entry.prev_mac = key_id, head.last_mac
        data_text = canonical_data(entry.data)
        entry.mac = entry_mac(entry, key, data_text)
        head.last_mac = entry.mac
        if postgresql:
            bulk.prepared(entry, "data", data_text)
    bulk.insert(entries, ids)
    bulk.send()  # inside bulk.overlapped(): written while the caller goes on
    for entry in entries:  # the last entry of each chain names its id
        heads[entry.chain].last_id = entry.pk
    entries.clear()


def _name_written_rows(entry: AuditEntry) -> None:
    """The ids of the object and the case an entry names, written in bulk since it was
    appended (a hook of audit_flush)."""
    obj = entry.__dict__.pop("_audit_obj", None)
    if obj is not None:
        entry.object_id = str(obj.pk)
    if entry.case_id is None and entry.case is not None:
        entry.case_id = entry.case.pk


def audit_before_flush(hook: Callable[[], object]) -> None:
    """Have the audit_batch around call `hook` before it writes the entries it holds (each
    time, and at its end): to write first, in bulk, the rows those entries name."""
    hooks = _before_flush.get()
    if hooks is None:
        raise RuntimeError("audit_before_flush outside an audit_batch")
    hooks.append(hook)


def audit_log(
    action: str,
    *,
    by: User | None,
    case: Case | None = None,
    obj: models.Model | None = None,
    data: dict | None = None,
    municipality_id: int | None = None,
) -> AuditEntry:
    """`municipality_id` names whose trail an entry without a case belongs to when the
    acting user's organisation does not say it (contractor staff act for a company)."""
    membership = membership_of(by)
    m_id = (
        case.municipality_id
        if case is not None
        else municipality_id or (membership.municipality_id if membership else None)
    )
    chain = m_id or NO_MUNICIPALITY
    held = _held_heads.get()
    if held is not None:
        if chain not in held:
            held[chain] = _lock_head(chain)
        return _append(
            held[chain],
            action,
            by=by,
            membership=membership,
            case=case,
            obj=obj,
            data=data,
            m_id=m_id,
        )
    with transaction.atomic():
        head = _lock_head(chain)
        entry = _append(
            head, action, by=by, membership=membership, case=case, obj=obj, data=data, m_id=m_id
        )
        head.save(update_fields=["seq", "last_id", "last_mac"])
    return entry


def _append(
    head: AuditHead,
    action: str,
    *,
    by: User | None,
    membership: Membership | None,
    case: Case | None,
    obj: models.Model | None,
    data: dict | None,
    m_id: int | None,
) -> AuditEntry:
    """The entry after the locked head; the head now points at it (saved by the caller)."""
    unwritten = _unwritten.get()
    key_id, key = next(iter(audit_keys().items()))
    entry = bulk.new(  # AuditEntry(…), without the constructor's cost (an import makes many)
        AuditEntry,
        at=timezone.now(),
        user=by if by is not None and by.is_authenticated else None,
        role=membership.role if membership else "",
        action=action,
        municipality_id=m_id,
        case=case,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        data=as_stored(data),
        client_address=_client_address.get(),
        chain=head.chain,
        seq=head.seq + 1,
        key_id=key_id,
        prev_mac=head.last_mac,
    )
    if unwritten is not None:  # in an audit_batch: chained and written later (audit_flush)
        head.seq = entry.seq
        if obj is not None and obj.pk is None:  # a row written in bulk before the entry
            entry.__dict__["_audit_obj"] = obj
        unwritten.append(entry)
        if len(unwritten) >= _FLUSH_AT:
            audit_flush()
        return entry
    entry.mac = entry_mac(entry, key)
    head.seq, head.last_mac = entry.seq, entry.mac
    entry.save()
    head.last_id = entry.pk
    return entry


_PLAIN_JSON = frozenset({str, int, bool, type(None)})


def as_stored(data: dict | None) -> dict:
    """The entry's data as the database gives it back (JSON), so that the MAC is computed
    over what a reader will see: through JSON and back, unless it is a flat dict of text,
    whole numbers, flags and nulls, which JSON gives back as they are (most entries)."""
    if not data:
        return {}
    if type(data) is dict and all(
        type(key) is str and type(value) in _PLAIN_JSON for key, value in data.items()
    ):
        return dict(data)
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


# ---- log-in, log-out, failed log-in ------------------------------------------------------


@receiver(auth_signals.user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    with _address_of(request):
        audit_log("tadasu.auth.login", by=user)


@receiver(auth_signals.user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        with _address_of(request):
            audit_log("tadasu.auth.logout", by=user)


@receiver(auth_signals.user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The user name tried is kept (it is how an attack shows); the password never is.
    with _address_of(request):
        audit_log(
            "tadasu.auth.login_failed",
            by=None,
            data={"username": mask_individual_numbers(str(credentials.get("username", ""))[:150])},
        )


class _address_of:
    """Use the request's address for an entry written outside the middleware's reach."""

    def __init__(self, request: HttpRequest | None):
        address = request.META.get("REMOTE_ADDR") if request is not None else None
        self.address = address or _client_address.get()

    def __enter__(self):
        self.token = _client_address.set(self.address)

    def __exit__(self, *exc):
        _client_address.reset(self.token)


def municipality_version(municipality_id: int) -> int:
    """The id of the municipality's newest audit entry. Every write to its cases and
    settings is audited in the same transaction, so this number moves after each committed
    change: a cache keyed by it can never serve figures older than the last change."""
    newest = (
        AuditEntry.objects.filter(municipality_id=municipality_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0
