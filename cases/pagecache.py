"""Rendered page bodies kept in the cache until anything they show may have changed.

The case list and the case page are read far more often than cases change. Their bodies are
cached per viewer and keyed by everything they depend on:

- the data version: the id of the newest audit entry of the viewer's municipality (every
  write is audited in the same transaction, tests/cases/test_audit.py checks the coverage),
  or of the whole trail for contractor staff, who see several municipalities;
- the viewer: user, role and organisation (buttons and columns depend on them), language,
  and the CSRF secret the body's forms were rendered with;
- the day (deadlines move with it) and the request's query string (filters, searches).

So a body is never served after a change it does not show: the next request after any
audited write, in any process, misses and renders afresh. The view still runs its scoped
lookup and permission checks on every request; only the rendering is saved.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from .audit import municipality_version
from .models import AuditHead, Membership, Role

SECONDS = 600


def data_version(membership: Membership) -> int:
    if membership.role == Role.CONTRACTOR or membership.municipality_id is None:
        # Contractor staff read several municipalities' cases: the newest entry of any chain.
        return AuditHead.objects.aggregate(newest=Max("last_id"))["newest"] or 0
    return municipality_version(membership.municipality_id)


def cached_body(request: HttpRequest, name: str, render: Callable[[], str]) -> SafeString:
    """The body `render()` gives, from the cache when nothing it depends on has changed."""
    membership: Membership = request.membership
    # The forms in a cached body carry a token of this secret; get_token() also keeps the
    # CSRF cookie in place when the body comes from the cache.
    csrf = get_token(request) and request.META.get("CSRF_COOKIE", "")
    parts = [
        name,
        str(data_version(membership)),
        str(request.user.pk),
        f"{membership.pk}:{membership.role}:{membership.municipality_id}:{membership.contractor_id}",
        get_language() or settings.LANGUAGE_CODE,
        timezone.localdate().isoformat(),
        request.get_full_path(),
        csrf,
    ]
    key = "page:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    body = cache.get(key)
    if body is None:
        body = str(render())
        cache.set(key, body, SECONDS)
    # Our own template's output, stored as text by the cache backend.
    return mark_safe(body)  # noqa: S308  # nosec B308 B703
