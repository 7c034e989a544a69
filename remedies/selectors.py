"""Reads for the case page: bounded queries, whatever the number of rows."""

from django.db.models import Prefetch

from cases import permissions
from cases.models import Agency, Case, Membership, User

from . import ledger
from .models import AgencyContact, ApologyLetter, CompensationAgreement, LedgerEntry, Visit
from .workflow import steps_for


def stage_panel(case: Case, user: User) -> dict:
    return {"case": case, "options": steps_for(case, user)}


def remedies_overview(case: Case, membership: Membership | None) -> dict:
    contacts = list(
        AgencyContact.objects.filter(case=case).prefetch_related(
            Prefetch("agencies", queryset=Agency.objects.order_by("name"))
        )
    )
    balances = ledger.balances(case)
    return {
        "case": case,
        "contacts": contacts,
        "agreements": list(CompensationAgreement.objects.filter(case=case).select_related("party")),
        "visits": list(Visit.objects.filter(case=case).select_related("party")),
        "letters": list(ApologyLetter.objects.filter(case=case).select_related("party")),
        "balances": balances,
        "costs": ledger.costs(case),
        "entries": list(
            LedgerEntry.objects.filter(case=case)
            .select_related("party", "reversed_by")
            .order_by("on", "id")
        ),
        "head": ledger.ledger_head(case),
        "can_edit": permissions.can_edit_case(membership, case),
        "can_visit": permissions.can_record_visit(membership, case),
        "is_manager": permissions.is_manager_of(membership, case),
        "any_balance": any(b.amount for b in balances),
    }
