"""Which jobs a member may see: their municipality's (city staff, managers, auditors), and
the ones they asked for themselves. Never another city's, never the installation's own."""

from django.db.models import Q, QuerySet

from cases.models import Membership, Role

from .models import Job


def visible_jobs(membership: Membership) -> QuerySet[Job]:
    mine = Q(requested_by_id=membership.user_id)
    if membership.role in (Role.STAFF, Role.MANAGER, Role.AUDITOR) and membership.municipality_id:
        mine |= Q(municipality_id=membership.municipality_id)
    return Job.objects.filter(mine).select_related("requested_by")
