"""Reads for the case page: bounded queries, whatever the number of rows."""

from django.db.models import Prefetch
from django.utils import timezone

from cases import permissions
from cases.deadlines import Deadlines
from cases.models import Agency, Case, Membership, User

from . import ledger
from .models import AgencyContact, ApologyLetter, CompensationAgreement, LedgerEntry, Visit
from .stage_history import bar, stage_spans
from .workflow import steps_for


def stage_panel(case: Case, user: User) -> dict:
    today = timezone.localdate()
    spans = stage_spans(case, today)
    return {
        "case": case,
        "options": steps_for(case, user),
        "deadline": Deadlines(case.municipality_id, today).for_case(case.stage, case.stage_since),
        "bars": bar(spans),
        "total_days": sum(s.days for s in spans),
    }


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
