"""Who may do what with reception sheets. Seeing them is the tenant scope's business.

City staff and managers import sheets, record checklists and name the counterpart of a
case; auditors read. Contractor staff ran the desks: they see and record the checklists of
their own company's receptions (scoped by contractor), but do not import sheets, which are
the city's records.
"""

from cases.models import Membership, Role

from .models import Reception


def can_import(membership: Membership | None) -> bool:
    return membership is not None and membership.role in (Role.STAFF, Role.MANAGER)


def can_record_checklist(membership: Membership | None, reception: Reception) -> bool:
    if membership is None:
        return False
    if membership.role in (Role.STAFF, Role.MANAGER):
        return membership.municipality_id == reception.municipality_id
    return (
        membership.role == Role.CONTRACTOR
        and reception.contractor_id is not None
        and membership.contractor_id == reception.contractor_id
    )
