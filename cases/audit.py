"""The audit trail: entries written by services inside their own transaction, hash-chained.

Also the request context (client address) that entries record, and the log-in/log-out
signals. Entries never hold personal data in clear: callers pass masked values.
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import signals as auth_signals
from django.db import models, transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .models import AuditEntry, AuditHead, Case, User
from .mynumber import mask_individual_numbers
from .scoping import membership_of

GENESIS = "0" * 64
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


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the predecessor's hash and this entry's content, canonically encoded."""
    content = {
        "prev": entry.prev_hash,
        "at": entry.at.isoformat(),
        "user": entry.user_id,
        "role": entry.role,
        "action": entry.action,
        "municipality": entry.municipality_id,
        "case": entry.case_id,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "data": entry.data,
        "client_address": entry.client_address,
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


_held_head: ContextVar[AuditHead | None] = ContextVar("held_audit_head", default=None)


def _lock_head() -> AuditHead:
    AuditHead.objects.get_or_create(pk=1)
    # Lock the head: appends are serialised, so the chain never forks.
    return AuditHead.objects.select_for_update().get(pk=1)


@contextmanager
def audit_batch() -> Iterator[None]:
    """Many entries in one transaction (documents issued in bulk): the head is locked once
    and written once, after the last entry, instead of for each. The chain is the same.
    Inside, nothing may roll back to a savepoint past an entry and carry on: the head held
    here would then point at an entry that is gone (an error must end the batch)."""
    with transaction.atomic():
        head = _lock_head()
        token = _held_head.set(head)
        try:
            yield
        finally:
            _held_head.reset(token)
        head.save(update_fields=["last_id", "last_hash"])


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
    held = _held_head.get()
    if held is not None:
        return _append(held, action, by=by, case=case, obj=obj, data=data, m_id=municipality_id)
    with transaction.atomic():
        head = _lock_head()
        entry = _append(head, action, by=by, case=case, obj=obj, data=data, m_id=municipality_id)
        head.save(update_fields=["last_id", "last_hash"])
    return entry


def _append(
    head: AuditHead,
    action: str,
    *,
    by: User | None,
    case: Case | None,
    obj: models.Model | None,
    data: dict | None,
    m_id: int | None,
) -> AuditEntry:
    """The entry after the locked head; the head now points at it (saved by the caller)."""
    membership = membership_of(by)
    entry = AuditEntry(
        at=timezone.now(),
        user=by if by is not None and by.is_authenticated else None,
        role=membership.role if membership else "",
        action=action,
        municipality_id=(
            case.municipality_id
            if case is not None
            else m_id or (membership.municipality_id if membership else None)
        ),
        case=case,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        # Round-trip through JSON so the hash is computed over what the database returns.
        data=json.loads(json.dumps(data or {}, ensure_ascii=False, default=str)),
        client_address=_client_address.get(),
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry)
    entry.save()
    head.last_id, head.last_hash = entry.pk, entry.hash
    return entry


def verify_chain() -> tuple[int, list[str]]:
    """Walk the chain; return the number of entries and the problems found."""
    problems: list[str] = []
    previous = GENESIS
    count = 0
    last_id = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if entry.prev_hash != previous:
            problems.append(
                f"entry {entry.pk}: does not follow its predecessor "
                "(an entry before it was removed or changed)"
            )
        if entry_hash(entry) != entry.hash:
            problems.append(f"entry {entry.pk}: its content was changed")
        previous, last_id = entry.hash, entry.pk
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.last_id, head.last_hash) != (last_id, previous):
        problems.append(f"the newest entries after {last_id} were removed")
    return count, problems


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
