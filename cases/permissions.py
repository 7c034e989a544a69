"""Who may do what to a case file. Scoping (who may *see* a case) is in scoping.py."""

from .models import Case, Membership, Municipality, Role


def can_open_case(membership: Membership | None) -> bool:
    return membership is not None and membership.role in (
        Role.STAFF,
        Role.MANAGER,
        Role.CONTRACTOR,
    )


def can_open_case_in(membership: Membership | None, municipality: Municipality) -> bool:
    if not can_open_case(membership):
        return False
    if membership.role == Role.CONTRACTOR:
        return membership.contractor.municipalities.filter(pk=municipality.pk).exists()
    return membership.municipality_id == municipality.pk


def can_edit_case(membership: Membership | None, case: Case) -> bool:
    """City staff and managers work the case file of their own municipality."""
    return (
        membership is not None
        and membership.role in (Role.STAFF, Role.MANAGER)
        and membership.municipality_id == case.municipality_id
    )
