"""Audit entries, written by services inside their own transaction."""

from django.db import models

from .models import AuditEntry, Case, User
from .scoping import membership_of


def audit_log(
    action: str,
    *,
    by: User | None,
    case: Case | None = None,
    obj: models.Model | None = None,
    data: dict | None = None,
) -> AuditEntry:
    membership = membership_of(by)
    return AuditEntry.objects.create(
        user=by if by is not None and by.is_authenticated else None,
        role=membership.role if membership else "",
        action=action,
        case=case,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )
