"""Who may do what to a case file. Scoping (who may *see* a case) is in scoping.py."""

from .models import Case, Membership, Municipality, Role, Stage

CLOSED_STAGES = (Stage.CLOSED, Stage.WITHDRAWN)


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


def can_read_case(membership: Membership | None, case: Case) -> bool:
    """The same rule as the tenant scope (scoping.py), for one case already in hand: city
    roles read their municipality's cases; contractor staff the cases of their own desks in
    the municipalities their company serves."""
    if membership is None:
        return False
    if membership.role == Role.CONTRACTOR:
        return (
            case.contractor_id is not None
            and case.contractor_id == membership.contractor_id
            and membership.contractor.municipalities.filter(pk=case.municipality_id).exists()
        )
    return membership.municipality_id == case.municipality_id


def can_edit_case(membership: Membership | None, case: Case) -> bool:
    """City staff and managers work the case file of their own municipality, while the case
    is open; a closed or withdrawn case is changed only by reopening it."""
    return (
        membership is not None
        and case.stage not in CLOSED_STAGES
        and membership.role in (Role.STAFF, Role.MANAGER)
        and membership.municipality_id == case.municipality_id
    )


def is_manager_of(membership: Membership | None, case: Case) -> bool:
    """Managers (課長・係長) approve write-offs and close, withdraw or reopen cases."""
    return (
        membership is not None
        and membership.role == Role.MANAGER
        and membership.municipality_id == case.municipality_id
    )


def can_record_visit(membership: Membership | None, case: Case) -> bool:
    """City staff, or staff of the contractor that ran the desk of this case."""
    if can_edit_case(membership, case):
        return True
    return (
        membership is not None
        and case.stage not in CLOSED_STAGES
        and membership.role == Role.CONTRACTOR
        and case.contractor_id is not None
        and membership.contractor_id == case.contractor_id
    )
