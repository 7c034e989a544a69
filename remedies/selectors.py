"""Reads for the case page: bounded queries, whatever the number of rows."""

from django.db.models import Prefetch
from django.utils import timezone

from cases import permissions
from cases.deadlines import Deadlines
from cases.links import links_to_correct
from cases.models import Agency, Case, Membership, Party, Stage, User
from cases.scoping import membership_of

from . import ledger, plans, services
from .models import (
    AgencyContact,
    ApologyLetter,
    CompensationAgreement,
    EntryKind,
    LedgerEntry,
    Visit,
)
from .stage_history import bar, stage_spans
from .workflow import CaseFile, next_by_others, steps_for

# The stages a case closes from: the case page points to the links still to correct.
CLOSABLE = (Stage.VISIT, Stage.SETTLEMENT)


def stage_panel(case: Case, user: User) -> dict:
    today = timezone.localdate()
    spans = stage_spans(case, today)
    case_file = CaseFile.objects.get(pk=case.pk)  # the stage machine's view of the case
    return {
        "case": case,
        "options": steps_for(case_file, user),
        "next_by_others": next_by_others(case_file, user),
        "is_manager": permissions.is_manager_of(membership_of(user), case),
        "deadline": Deadlines(case.municipality_id, today).for_case(case),
        "bars": bar(spans),
        "links_to_correct": len(links_to_correct(case)) if case.stage in CLOSABLE else 0,
        "total_days": sum(s.days for s in spans),
    }


def _entries(case: Case) -> list[LedgerEntry]:
    """The case's ledger, each entry marked `.is_reversed`. Reversals are looked up by the
    case's own rows rather than joined on `reverses`: that join, nearly all NULL, lets a
    planner with fresh statistics scan the whole ledger."""
    entries = list(
        LedgerEntry.objects.filter(case=case).select_related("party").order_by("on", "id")
    )
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    for entry in entries:
        entry.is_reversed = entry.pk in reversed_ids
    return entries


def _letters(case: Case) -> list[ApologyLetter]:
    """The apology letters, each issued one with its document number (`.number`)."""
    letters = list(ApologyLetter.objects.filter(case=case).select_related("party", "document"))
    for letter in letters:
        letter.number = services.document_number(letter.document) if letter.document else ""
    return letters


def _apologies(parties: list[Party], letters: list[ApologyLetter]) -> list[dict]:
    """Per person, the one way to a letter: not yet issued (issue it under Documents), or
    issued (record when it was sent). A letter recorded by hand before (an imported case
    file) still counts and is shown as such."""
    by_party: dict[int, list[ApologyLetter]] = {}
    for letter in letters:
        by_party.setdefault(letter.party_id, []).append(letter)
    return [
        {"party": party, "letters": by_party.get(party.pk, [])}
        for party in sorted(parties, key=lambda p: (p.label, p.pk))
    ]


def remedies_overview(case: Case, membership: Membership | None) -> dict:
    contacts = list(
        AgencyContact.objects.filter(case=case).prefetch_related(
            Prefetch("agencies", queryset=Agency.objects.order_by("name"))
        )
    )
    balances = ledger.balances(case)
    entries = _entries(case)
    letters = _letters(case)
    return {
        "case": case,
        "contacts": contacts,
        "agreements": list(CompensationAgreement.objects.filter(case=case).select_related("party")),
        "visits": list(Visit.objects.filter(case=case).select_related("party")),
        "letters": letters,
        # The balances hold every person of the case (no second query for them).
        "apologies": _apologies([b.party for b in balances], letters),
        "balances": balances,
        "costs": ledger.costs(case),
        "entries": entries,
        # Points the national system moved back to the people owed, less reversals.
        "corrected": -sum(
            e.delta
            for e in entries
            if e.kind == EntryKind.NATIONAL_CORRECTION and e.delta < 0 and not e.is_reversed
        ),
        "plans": plans.case_plans(case, entries, timezone.localdate()),
        "head": ledger.ledger_head(case),
        "can_edit": permissions.can_edit_case(membership, case),
        "can_visit": permissions.can_record_visit(membership, case),
        "is_manager": permissions.is_manager_of(membership, case),
        "any_balance": any(b.amount for b in balances),
        "any_excess": any(b.amount < 0 for b in balances),
        # The national system's correction is offered only where points went astray.
        "points_case": ledger.points_involved(case),
    }
