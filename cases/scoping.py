"""The one tenant scope.

Case, Party, Misregistration and TimelineEvent use django-scopes' ScopedManager on two
dimensions, municipality and contractor. A query with no active scope raises ScopeError,
so a forgotten scope fails loudly instead of leaking another city's cases.

- City staff, managers and auditors: their municipality, any contractor.
- Contractor staff: the municipalities their company serves, and only their company's cases.

TenantScopeMiddleware opens the scope for each request; management commands and tests
open it with `tenant_scope(user)` or, for cross-tenant maintenance, `scopes_disabled()`.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django_scopes import scope

from .models import Membership, Role, User


def membership_of(user: User | None) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def scope_for(membership: Membership, *, only_municipality: int | None = None) -> dict:
    """`only_municipality` narrows a contractor's scope to one of the cities it serves (an
    API token made by that city's manager, api/tokens.py)."""
    if membership.role == Role.CONTRACTOR:
        served = list(membership.contractor.municipalities.values_list("id", flat=True))
        if only_municipality is not None:
            served = [m for m in served if m == only_municipality]
        return {"municipality": served, "contractor": membership.contractor_id}
    if only_municipality is not None and only_municipality != membership.municipality_id:
        return {"municipality": [], "contractor": None}
    return {"municipality": membership.municipality_id, "contractor": None}


@contextmanager
def tenant_scope(user: User) -> Iterator[Membership]:
    membership = membership_of(user)
    if membership is None:
        raise PermissionError("This user acts for no organisation.")
    with scope(**scope_for(membership)):
        yield membership
