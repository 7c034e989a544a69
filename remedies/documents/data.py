"""Freezing: the plain data a document is drawn from, read once from the database.

Everything a renderer needs goes into a JSON-serialisable dict stored with the document,
so an issued PDF can always be explained, and re-rendered identically, from its row.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cases.models import Case, DataKind, Municipality, Party
from cases.wareki import yen

from .. import ledger
from ..models import AgencyContact, ApologyLetter, EntryKind, LedgerEntry, Visit


def municipality_data(m: Municipality) -> dict:
    return {
        "name": m.name,
        "department": m.department,
        "phone": m.contact_phone,
        "contact_people": m.contact_people,
        "sender_title": m.sender_title,
        "sender_name": m.sender_name,
        "gregorian": m.show_gregorian_year,
    }


def masked_name(party: Party) -> str:
    """Names in reports and press material: the label only (A氏), never the person."""
    return party.label


def story_timeline(case: Case) -> list[dict]:
    return [
        {"on": e.occurred_on.isoformat(), "actor": e.actor, "text": e.text}
        for e in case.timeline.filter(in_story=True).order_by("occurred_on", "id")
    ]


def links_data(case: Case) -> list[dict]:
    return [
        {
            "source": link.source.label,
            "target": link.target.label,
            "data_kind": link.data_kind,
            "data_label": str(DataKind(link.data_kind).label),
            "registered_on": link.registered_on.isoformat() if link.registered_on else None,
            "corrected_on": link.corrected_on.isoformat() if link.corrected_on else None,
            "paid_through": link.paid_through,
        }
        for link in case.misregistrations.select_related("source", "target").order_by("id")
    ]


_reused: ContextVar[dict | None] = ContextVar("reused_case_data", default=None)


@contextmanager
def reuse_case_data() -> Iterator[None]:
    """Within a bulk issue (letters to every person of some cases) read each case's data
    once. Issuing a document changes nothing that data holds: the 経過 line it writes is
    bookkeeping, outside the story."""
    token = _reused.set({})
    try:
        yield
    finally:
        _reused.reset(token)


def case_data(case: Case) -> dict:
    """The case as documents tell it: labels, not names; the story's 経過."""
    memo = _reused.get()
    if memo is None:
        return _case_data(case)
    if case.pk not in memo:
        memo[case.pk] = _case_data(case)
    return copy.deepcopy(memo[case.pk])


def _case_data(case: Case) -> dict:
    balances = ledger.balances(case)
    return {
        "reference": case.reference,
        "kind": case.kind,
        "kind_label": case.get_kind_display(),
        "office": case.office.name,
        "contractor": case.contractor.name if case.contractor else "",
        "discovered_on": case.discovered_on.isoformat(),
        "occurred_on": case.occurred_on.isoformat() if case.occurred_on else None,
        "summary": case.summary,
        "discovery": case.discovery,
        "cause_label": case.get_cause_category_display() if case.cause_category else "",
        "cause": case.cause_text,
        "prevention": case.prevention,
        "stage": case.stage,
        "stage_label": case.get_stage_display(),
        "parties": [
            {"label": b.party.label, "identified": b.party.identified, "balance": b.amount}
            for b in balances
        ],
        "links": links_data(case),
        "timeline": story_timeline(case),
        "costs": ledger.costs(case),
    }


def party_role(party: Party) -> list[dict]:
    """What happened to this person: each link they are in, from their side."""
    roles = []
    for link in party.links_as_target.select_related("source").order_by("id"):
        roles.append(
            {
                "side": "target",
                "data_kind": link.data_kind,
                "other": link.source.label,
                "paid_through": link.paid_through,
            }
        )
    for link in party.links_as_source.select_related("target").order_by("id"):
        roles.append(
            {
                "side": "source",
                "data_kind": link.data_kind,
                "other": link.target.label,
                "paid_through": link.paid_through,
            }
        )
    return roles


def party_money(party: Party) -> dict:
    entries = list(
        LedgerEntry.objects.filter(party=party).select_related("visit").order_by("on", "id")
    )
    # Entries that a later reversal cancelled, found in the same rows (no query per entry).
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}

    def total(*kinds: str) -> int:
        return sum(e.delta for e in entries if e.kind in kinds)

    return {
        "misallocated": total(EntryKind.MISALLOCATION),
        "paid": -total(EntryKind.PAYMENT, EntryKind.REGRANT),
        "collected": total(EntryKind.COLLECTION),
        "written_off": total(EntryKind.WRITE_OFF),
        "reversed": total(EntryKind.REVERSAL),
        "balance": sum(e.delta for e in entries),
        "collections": [
            {
                "on": e.on.isoformat(),
                "amount": e.delta,
                "method": e.get_method_display(),
                "side": e.get_side_display(),
                "joint_check": bool(e.visit_id and e.visit.purpose == "joint_check"),
            }
            for e in entries
            if e.kind == EntryKind.COLLECTION and e.pk not in reversed_ids
        ],
    }


def party_data(party: Party) -> dict:
    return {
        "label": party.label,
        "name": party.name,
        "name_kana": party.name_kana,
        "address": party.address,
        "identified": party.identified,
        "roles": party_role(party),
        "money": party_money(party),
        "visits": [
            {
                "on": v.visited_on.isoformat(),
                "purpose": v.purpose,
                "apologised": v.apologised,
                "place": v.place,
            }
            for v in Visit.objects.filter(party=party).order_by("visited_on", "id")
        ],
        "letters": [
            lt.sent_on.isoformat()
            for lt in ApologyLetter.objects.filter(party=party).order_by("sent_on")
        ],
    }


def masked_parties(case: Case) -> list[dict]:
    """The people of a case as reports and press material show them: the label and what
    happened to them, never a name, address or phone number."""
    apologised = set(
        Visit.objects.filter(case=case, apologised=True).values_list("party_id", flat=True)
    ) | set(ApologyLetter.objects.filter(case=case).values_list("party_id", flat=True))
    people = []
    for b in ledger.balances(case):
        money = party_money(b.party)
        people.append(
            {
                "label": b.party.label,
                "identified": b.party.identified,
                # Only the status of an unidentified person ("身元をデジタル庁に照会中").
                "note": "" if b.party.identified else b.party.identification_note,
                "apologised": b.party.pk in apologised,
                "balance": b.amount,
                "status": b.status,
                **{k: money[k] for k in ("misallocated", "paid", "collected", "written_off")},
            }
        )
    return people


def contacts_data(case: Case) -> list[dict]:
    return [
        {
            "on": c.contacted_on.isoformat(),
            "agencies": [a.name for a in c.agencies.all()],
            "request": c.request,
            "answered_on": c.answered_on.isoformat() if c.answered_on else None,
            "answer": c.answer,
        }
        for c in AgencyContact.objects.filter(case=case).prefetch_related("agencies")
    ]


__all__ = ["case_data", "contacts_data", "masked_name", "municipality_data", "party_data", "yen"]
