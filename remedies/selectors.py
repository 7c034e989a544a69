"""Reads for the case page: bounded queries, whatever the number of rows."""

from django.db.models import Prefetch
from django.utils import timezone

from cases import permissions
from cases.deadlines import TIMED_STAGES, Deadlines
from cases.links import links_to_correct
from cases.models import Agency, Case, Membership, Stage, User

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
from .workflow import CaseFile, steps_for

# The stages a case closes from: the case page points to the links still to correct.
CLOSABLE = (Stage.VISIT, Stage.SETTLEMENT)


def as_case_file(case: Case) -> CaseFile:
    """The same row as a CaseFile (its stage machine), without reading it again; it keeps
    the related objects and prefetched rows the case holds."""
    if isinstance(case, CaseFile):
        return case
    fields = Case._meta.concrete_fields
    case_file = CaseFile.from_db(
        case._state.db, [f.attname for f in fields], [getattr(case, f.attname) for f in fields]
    )
    case_file._state.fields_cache = dict(case._state.fields_cache)
    if hasattr(case, "_prefetched_objects_cache"):
        case_file._prefetched_objects_cache = case._prefetched_objects_cache
    return case_file


def stage_panel(case: Case, user: User) -> dict:
    today = timezone.localdate()
    spans = stage_spans(case, today)
    return {
        "case": case,
        "options": steps_for(as_case_file(case), user),
        # A closed or withdrawn case has no clock: nothing to read for it.
        "deadline": (
            Deadlines(case.municipality_id, today).for_case(case)
            if case.stage in TIMED_STAGES
            else None
        ),
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


def remedies_overview(case: Case, membership: Membership | None) -> dict:
    contacts = list(
        AgencyContact.objects.filter(case=case).prefetch_related(
            Prefetch("agencies", queryset=Agency.objects.order_by("name"))
        )
    )
    # The case's whole ledger is read once (a case holds tens of entries, not thousands):
    # its balances, costs and head are summed from it, not asked of the database again.
    entries = _entries(case)
    balances = ledger.balances_from_entries(case, entries)
    return {
        "case": case,
        "contacts": contacts,
        "agreements": list(CompensationAgreement.objects.filter(case=case).select_related("party")),
        "visits": list(Visit.objects.filter(case=case).select_related("party")),
        "letters": _letters(case),
        "balances": balances,
        "costs": ledger.costs_from_entries(entries),
        "entries": entries,
        # Points the national system moved back to the people owed, less reversals.
        "corrected": -sum(
            e.delta
            for e in entries
            if e.kind == EntryKind.NATIONAL_CORRECTION and e.delta < 0 and not e.is_reversed
        ),
        "plans": plans.case_plans(case, entries, timezone.localdate()),
        "head": max((e.pk for e in entries), default=0),
        "can_edit": permissions.can_edit_case(membership, case),
        "can_visit": permissions.can_record_visit(membership, case),
        "is_manager": permissions.is_manager_of(membership, case),
        "any_balance": any(b.amount for b in balances),
        "any_excess": any(b.amount < 0 for b in balances),
        # The national system's correction is offered only where points went astray.
        "points_case": ledger.points_involved(case),
    }
