"""Reads for the case page: bounded queries, whatever the number of rows."""

import re
import unicodedata

from django.db.models import Prefetch
from django.utils import timezone

from cases import permissions
from cases.deadlines import TIMED_STAGES, Deadlines
from cases.links import links_to_correct
from cases.models import Agency, Case, Membership, Misregistration, Party, Stage, User
from cases.scoping import membership_of
from cases.selectors import with_parties

from . import ledger, plans, services
from .models import (
    AgencyContact,
    ApologyLetter,
    CompensationAgreement,
    EntryKind,
    LedgerEntry,
    Method,
    Visit,
)
from .stage_history import bar, stage_spans
from .workflow import CaseFile, next_by_others, steps_for

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
    case_file = as_case_file(case)  # the stage machine's view of the case, not read again
    return {
        "case": case,
        "options": steps_for(case_file, user),
        "next_by_others": next_by_others(case_file, user),
        "is_manager": permissions.is_manager_of(membership_of(user), case),
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
    entries = with_parties(list(LedgerEntry.objects.filter(case=case).order_by("on", "id")), case)
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    for entry in entries:
        entry.is_reversed = entry.pk in reversed_ids
    return entries


def _letters(case: Case) -> list[ApologyLetter]:
    """The apology letters, each issued one with its document number (`.number`)."""
    letters = with_parties(
        list(ApologyLetter.objects.filter(case=case).select_related("document")), case
    )
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
    # The case's whole ledger is read once (a case holds tens of entries, not thousands):
    # its balances, costs and head are summed from it, not asked of the database again.
    entries = _entries(case)
    letters = _letters(case)
    balances = ledger.balances_from_entries(case, entries)
    return {
        "case": case,
        "contacts": contacts,
        "agreements": with_parties(list(CompensationAgreement.objects.filter(case=case)), case),
        "visits": with_parties(list(Visit.objects.filter(case=case)), case),
        "letters": letters,
        # The balances hold every person of the case (no second query for them).
        "apologies": _apologies([b.party for b in balances], letters),
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


# --- Values carried forward into the next form (initial values only) -----------------------
# The same facts, who and how much, are known before each form asks for them: the link says
# whose money went to whom, the agency's answer may name the amount, the misallocation and
# the balances say who is still owed what, the agreement says who pays and in what form.
# Each form starts from them; the clerk may change any of them.
_AMOUNT = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(?:円|ポイント|PT|P\b)", re.ASCII | re.IGNORECASE)


def amount_in_answers(case: Case) -> int | None:
    """The one amount the agencies' answers name (5,000円, 5000ポイント), if exactly one."""
    found = set()
    for answer in AgencyContact.objects.filter(case=case).values_list("answer", flat=True):
        text = unicodedata.normalize("NFKC", answer or "")
        found |= {int(m.group(1).replace(",", "")) for m in _AMOUNT.finditer(text)}
    found.discard(0)
    return found.pop() if len(found) == 1 else None


def misallocation_initial(case: Case) -> dict:
    """Whose money or points it was and who received it, from the one link not yet entered
    in the ledger: what was meant for the link's target went to its source (C's points to
    D's cashless account: owed C, held by D); the amount from the agencies' answer."""
    entered = set(
        LedgerEntry.objects.filter(case=case, kind=EntryKind.MISALLOCATION).values_list(
            "party_id", flat=True
        )
    )
    links = [
        link
        for link in Misregistration.objects.filter(case=case).order_by("id")
        if link.source_id != link.target_id and not {link.source_id, link.target_id} <= entered
    ]
    initial: dict = {}
    if len(links) == 1:
        initial |= {"owed": links[0].target_id, "holder": links[0].source_id}
    amount = amount_in_answers(case)
    if amount and not entered:
        initial["amount"] = amount
    return initial


def _only(balances: list, sign: int):
    found = [b for b in balances if b.amount * sign > 0]
    return found[0] if len(found) == 1 else None


def agreement_initial(case: Case) -> dict:
    """The person still owed and how much (from the misallocation, as the ledger stands)."""
    owed = _only(ledger.balances(case), +1)
    return {"party": owed.party.pk, "amount": owed.amount} if owed else {}


def payment_initial(case: Case) -> dict:
    """The person still owed and the amount outstanding; who pays and how, as agreed."""
    initial: dict = {}
    owed = _only(ledger.balances(case), +1)
    if owed:
        initial |= {"party": owed.party.pk, "amount": owed.amount}
        agreements = CompensationAgreement.objects.filter(case=case).order_by("-agreed_on", "-id")
        agreement = next((a for a in agreements if a.party_id in (None, owed.party.pk)), None)
        if agreement is not None:
            initial["side"] = agreement.payer
            if agreement.form != Method.POINTS:
                initial["method"] = agreement.form
    return initial


def collection_initial(case: Case) -> dict:
    """The person holding an excess and how much."""
    excess = _only(ledger.balances(case), -1)
    return {"party": excess.party.pk, "amount": -excess.amount} if excess else {}
