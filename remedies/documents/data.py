"""Freezing: the plain data a document is drawn from, read once from the database.

Everything a renderer needs goes into a JSON-serialisable dict stored with the document,
so an issued PDF can always be explained, and re-rendered identically, from its row.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from cases.issuer import words as issuer_words
from cases.models import Case, DataKind, Misregistration, Municipality, Party, TimelineEvent
from cases.wareki import yen

from .. import ledger
from ..models import AgencyContact, ApologyLetter, EntryKind, LedgerEntry, Visit


def municipality_data(m: Municipality) -> dict:
    return {
        "name": m.name,
        "words": issuer_words(m).as_dict(),
        # The press contact (press releases only).
        "department": m.department,
        "phone": m.contact_phone,
        "contact_people": m.contact_people,
        # The citizen's contact (letters): the department handling the case.
        "citizen_department": m.citizen_department or m.department,
        "citizen_phone": m.citizen_phone or m.contact_phone,
        "citizen_person": m.citizen_person,
        "sender_title": m.sender_title,
        "sender_name": m.sender_name,
        "sealed": m.letters_sealed,
        "gregorian": m.show_gregorian_year,
    }


def masked_name(party: Party) -> str:
    """Names in reports and press material: the label only (A氏), never the person."""
    return party.label


def story_timeline(case: Case) -> list[dict]:
    return _story_timelines([case])[case.pk]


def _story_timelines(cases: list[Case]) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = {c.pk: [] for c in cases}
    for e in TimelineEvent.objects.filter(case_id__in=list(result), in_story=True).order_by(
        "occurred_on", "id"
    ):
        result[e.case_id].append(
            {
                "on": e.occurred_on.isoformat(),
                "actor": e.actor,
                "text": e.text,
                "public": e.public,
            }
        )
    return result


def links_data(case: Case) -> list[dict]:
    return _links_data([case])[case.pk]


def _links_data(cases: list[Case]) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = {c.pk: [] for c in cases}
    links = Misregistration.objects.filter(case_id__in=list(result))
    for link in links.select_related("source", "target").order_by("id"):
        result[link.case_id].append(
            {
                "source": link.source.label,
                "target": link.target.label,
                "data_kind": link.data_kind,
                "data_label": str(DataKind(link.data_kind).label),
                "registered_on": link.registered_on.isoformat() if link.registered_on else None,
                "corrected_on": link.corrected_on.isoformat() if link.corrected_on else None,
                "paid_through": link.paid_through,
            }
        )
    return result


_reused: ContextVar[dict | None] = ContextVar("reused_case_data", default=None)


@contextmanager
def reuse_case_data() -> Iterator[None]:
    """Within a bulk issue (letters to every person of some cases) read each case's data
    once, and people's data in batches (read_parties). Issuing a document changes nothing
    that data holds, but for an お詫び状's 経過 line (the apology), which no letter prints
    (apology.build leaves the 経過 out)."""
    token = _reused.set({})
    try:
        yield
    finally:
        _reused.reset(token)


def case_data(case: Case, *, timeline: bool = True) -> dict:
    """The case as documents tell it: labels, not names; the story's 経過 (unless
    `timeline` is False: a letter prints none)."""
    memo = _reused.get()
    if memo is None:
        return cases_data([case], timeline=timeline)[case.pk]
    read_cases([case], timeline=timeline)
    data = copy.deepcopy(memo[("case", case.pk)])
    if not timeline:
        data.pop("timeline", None)
    return data


def read_cases(cases: list[Case], *, timeline: bool = True) -> None:
    """Within reuse_case_data(): read these cases' data now, in five queries however many
    they are (four without their 経過); a case already read is not read again."""
    memo = _reused.get()
    if memo is None:
        raise RuntimeError("read_cases() needs reuse_case_data()")
    unread = {
        c.pk: c
        for c in cases
        if ("case", c.pk) not in memo or (timeline and "timeline" not in memo[("case", c.pk)])
    }
    if unread:
        read = cases_data(list(unread.values()), timeline=timeline)
        memo.update({("case", pk): data for pk, data in read.items()})


def cases_data(cases: list[Case], *, timeline: bool = True) -> dict[int, dict]:
    """case_data() of several cases, keyed by the case's id."""
    balances = ledger.balances_by_case(cases)
    links = _links_data(cases)
    timelines = _story_timelines(cases) if timeline else {}
    costs = ledger.costs_by_case(cases)
    data = {
        case.pk: {
            "reference": case.reference,
            "kind": case.kind,
            "kind_label": case.get_kind_display(),
            "office": case.office.name,
            "contractor": case.contractor.name if case.contractor else "",
            "discovered_on": case.discovered_on.isoformat(),
            "occurred_on": case.occurred_on.isoformat() if case.occurred_on else None,
            "summary": case.summary,
            "discovery": case.discovery,
            "cause_category": case.cause_category,
            "cause_label": case.get_cause_category_display() if case.cause_category else "",
            "cause": case.cause_text,
            "prevention": case.prevention,
            "stage": case.stage,
            "stage_label": case.get_stage_display(),
            "parties": [
                {"label": b.party.label, "identified": b.party.identified, "balance": b.amount}
                for b in balances[case.pk]
            ],
            "links": links[case.pk],
            "timeline": timelines.get(case.pk),
            "costs": costs[case.pk],
        }
        for case in cases
    }
    if not timeline:
        for each in data.values():
            del each["timeline"]
    return data


def party_role(party: Party) -> list[dict]:
    """What happened to this person: each link they are in, from their side."""
    return _roles(party, *_links_of([party]))


def _links_of(parties: list[Party]) -> tuple[list[Misregistration], list[Misregistration]]:
    """The links these people are the target of, and those they are the source of: two
    queries, each on its own index (an OR of the two may be answered with a scan)."""
    ids = [p.pk for p in parties]
    links = Misregistration.objects.select_related("source", "target").order_by("id")
    return list(links.filter(target_id__in=ids)), list(links.filter(source_id__in=ids))


def _roles(
    party: Party, as_target: list[Misregistration], as_source: list[Misregistration]
) -> list[dict]:
    roles = []
    for link in as_target:
        if link.target_id == party.pk:
            roles.append(
                {
                    "side": "target",
                    "data_kind": link.data_kind,
                    "other": link.source.label,
                    "paid_through": link.paid_through,
                    "corrected_on": link.corrected_on.isoformat() if link.corrected_on else None,
                }
            )
    for link in as_source:
        if link.source_id == party.pk:
            roles.append(
                {
                    "side": "source",
                    "data_kind": link.data_kind,
                    "other": link.target.label,
                    "paid_through": link.paid_through,
                    "corrected_on": link.corrected_on.isoformat() if link.corrected_on else None,
                }
            )
    return roles


def _entries_of(parties: list[Party]):
    return (
        LedgerEntry.objects.filter(party_id__in=[p.pk for p in parties])
        .select_related("visit")
        .order_by("on", "id")
    )


def party_money(party: Party) -> dict:
    return _money(list(_entries_of([party])))


def _money(entries: list[LedgerEntry]) -> dict:
    # Entries that a later reversal cancelled, found in the same rows (no query per entry).
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}

    def total(*kinds: str) -> int:
        return sum(e.delta for e in entries if e.kind in kinds)

    def corrections(sign: int) -> list[dict]:
        # The national system's correction, still standing: +1 the points withdrawn from
        # this person, −1 those granted to them.
        return [
            {"on": e.on.isoformat(), "amount": abs(e.delta)}
            for e in entries
            if e.kind == EntryKind.NATIONAL_CORRECTION
            and e.delta * sign > 0
            and e.pk not in reversed_ids
        ]

    withdrawn, restored = corrections(+1), corrections(-1)
    return {
        "misallocated": total(EntryKind.MISALLOCATION),
        # Corrections by the national system (国による是正): no one's payment or cost.
        "withdrawn": sum(c["amount"] for c in withdrawn),
        "restored": sum(c["amount"] for c in restored),
        "corrections_withdrawn": withdrawn,
        "corrections_restored": restored,
        "paid": -total(EntryKind.PAYMENT, EntryKind.REGRANT),
        "collected": total(EntryKind.COLLECTION),
        "written_off": total(EntryKind.WRITE_OFF),
        "reversed": total(EntryKind.REVERSAL),
        "balance": sum(e.delta for e in entries),
        # Each handing-over, with its date, form and who paid: a letter says what was done.
        "payments": [
            {
                "on": e.on.isoformat(),
                "amount": -e.delta,
                "kind": e.kind,
                "method": e.method,
                "side": e.side,
            }
            for e in entries
            if e.kind in (EntryKind.PAYMENT, EntryKind.REGRANT) and e.pk not in reversed_ids
        ],
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
    memo = _reused.get()
    if memo is not None and ("party", party.pk) in memo:
        # Read with the rest of its batch (read_parties); used once.
        return memo.pop(("party", party.pk))
    return parties_data([party])[party.pk]


def read_parties(parties: list[Party]) -> None:
    """Within reuse_case_data(): read the data of these people now, in five queries
    however many they are, for the documents about to be issued to them."""
    memo = _reused.get()
    if memo is None:
        raise RuntimeError("read_parties() needs reuse_case_data()")
    memo.update({("party", pk): data for pk, data in parties_data(parties).items()})


def parties_data(parties: list[Party]) -> dict[int, dict]:
    """Each person's data as documents address them, keyed by the party's id."""
    links = _links_of(parties)
    entries: dict[int, list[LedgerEntry]] = {p.pk: [] for p in parties}
    for e in _entries_of(parties):
        entries[e.party_id].append(e)
    visits: dict[int, list[dict]] = {p.pk: [] for p in parties}
    for v in Visit.objects.filter(party_id__in=list(visits)).order_by("visited_on", "id"):
        visits[v.party_id].append(
            {
                "on": v.visited_on.isoformat(),
                "purpose": v.purpose,
                "apologised": v.apologised,
                "place": v.place,
            }
        )
    letters: dict[int, list[str]] = {p.pk: [] for p in parties}
    for lt in ApologyLetter.objects.filter(party_id__in=list(letters)).order_by("sent_on"):
        letters[lt.party_id].append(lt.sent_on.isoformat())
    return {
        party.pk: {
            "label": party.label,
            "name": party.name,
            "name_kana": party.name_kana,
            "address": party.address,
            "identified": party.identified,
            "roles": _roles(party, *links),
            "money": _money(entries[party.pk]),
            "visits": visits[party.pk],
            "letters": letters[party.pk],
        }
        for party in parties
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
                **{
                    k: money[k]
                    for k in (
                        "misallocated",
                        "paid",
                        "collected",
                        "written_off",
                        "withdrawn",
                        "restored",
                    )
                },
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
