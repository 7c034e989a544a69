"""The case interchange format ("tadasu-cases", version 1): cases out as JSON, and back in
through the same services a click calls. docs/interchange.md describes the format.

Export writes what each case file is now (its fields, stage, parties with balances, links,
contacts, agreements, visits, letters, ledger, transitions and 経過) and, for every action,
who took it; a global `seq` orders the actions as they were taken (from the audit trail).
Import replays the actions in `seq` order, each as the user who took it, so every
permission and guard applies again; then it checks that the stage, the case and party
fields and every balance came out as the file says. One transaction: a file with one
error imports nothing, and the error names the case, the item, the field and the reason.

Reference data (municipalities, offices, contractors, agencies, users) is never in the
file: it is looked up by its natural key, and a missing one stops the import.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.errors import CaseError
from cases.models import (
    Agency,
    AuditEntry,
    Case,
    Contractor,
    Municipality,
    Office,
    Party,
    Role,
    TimelineEvent,
    User,
)
from cases.scoping import membership_of
from cases.services import CASE_FIELDS, PARTY_FIELDS

from . import ledger
from . import services as remedies
from .errors import RemedyError
from .models import (
    AgencyContact,
    ApologyLetter,
    CompensationAgreement,
    EntryKind,
    LedgerEntry,
    Visit,
)
from .workflow import case_transition

FORMAT = "tadasu-cases"
VERSION = 1


class InterchangeError(Exception):
    """A file that cannot be imported, or a case that cannot be exported faithfully."""

    def __init__(self, reason: str, *, case: str = "", item: str = "", field: str = ""):
        self.case, self.item, self.field, self.reason = case, item, field, reason
        where = [part for part in (case, item, f'field "{field}"' if field else "") if part]
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class _FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# ---- which edit sets which field ---------------------------------------------------------
#
# The audit trail names the fields an edit changed, not the values it set, so the file
# holds each field's value as it is now and each edit lists the fields it set. The replay
# sets a field at the last edit that names it and passes every other field to case_open or
# party_add. Where that would leave a field blank when something needs it (a stage step,
# the service's own checks), the field is set earlier and the edit no longer names it.
# Export and import share these two functions, so an exported file is a fixed point.

_EMPTY = {"contractor": None, "assignee": None, "occurred_on": None, "identified_on": None}
_SET_AT_OPEN = ("office", "kind", "discovered_on")  # case_open needs them
_NEEDED_BY_STEP = {"cause_category": "refer", "prevention": "close"}


def _last_naming(updates: list[tuple[int, list[str]]], name: str) -> int | None:
    found = [i for i, (_, names) in enumerate(updates) if name in names]
    return found[-1] if found else None


def case_field_placement(
    final: dict,
    updates: list[tuple[int, list[str]]],
    transitions: list[tuple[int, str]],
    held_open: dict,
) -> list[list[str]]:
    """The fields each case edit sets. `updates` and `transitions` are (order, …) pairs;
    `held_open` is what case_open leaves in a field it is not given (for a contractor's
    report, the company and no assignee)."""
    placed: list[list[str]] = [[] for _ in updates]
    for name in CASE_FIELDS:
        at = _last_naming(updates, name)
        if at is None or name in _SET_AT_OPEN:
            continue
        if final.get(name) == held_open.get(name, _EMPTY.get(name, "")):
            continue  # the edit would change nothing
        step = _NEEDED_BY_STEP.get(name)
        if step and any(s == step and order < updates[at][0] for order, s in transitions):
            continue  # a step before that edit needed the value: set it when opening
        placed[at].append(name)
    return placed


def party_field_placement(final: dict, updates: list[tuple[int, list[str]]]) -> list[list[str]]:
    """The fields each party edit sets; `identified` among them means the party was added
    unidentified (B氏) and identified by that edit."""
    placed: list[set[str]] = [set() for _ in updates]
    last = {name: _last_naming(updates, name) for name in PARTY_FIELDS}
    identified = final.get("identified", True) is True
    identified_at = last["identified"] if identified else None
    if identified_at is not None:
        placed[identified_at].add("identified")
    for name in ("name", "name_kana", "phone", "address", "identified_on"):
        at = last[name]
        if identified_at is not None:
            # Added unidentified, so blank until then; the name and the date are needed
            # when the person is identified.
            if at is None or (name in ("name", "identified_on") and at > identified_at):
                at = identified_at
        elif name == "name" and identified:
            at = None  # an identified person is added with a name
        if at is not None and final.get(name) not in ("", None):
            placed[at].add(name)
    at = last["identification_note"]
    # While unidentified the note is required, so such a party is added with it.
    if at is not None and identified_at is None and identified and final.get("identification_note"):
        placed[at].add("identification_note")
    return [[name for name in PARTY_FIELDS if name in fields] for fields in placed]


# ---- export ------------------------------------------------------------------------------


def case_fields(case: Case) -> dict:
    """The case's own fields as the file holds them (reference data by natural key)."""
    return {
        "reference": case.reference,
        "municipality": case.municipality.code,
        "office": case.office.name,
        "contractor": case.contractor.name if case.contractor_id else None,
        "kind": case.kind,
        "summary": case.summary,
        "occurred_on": _iso(case.occurred_on),
        "discovered_on": _iso(case.discovered_on),
        "discovery": case.discovery,
        "cause_category": case.cause_category,
        "cause_text": case.cause_text,
        "prevention": case.prevention,
        "assignee": case.assignee.username if case.assignee_id else None,
        "reported_by_contractor": case.reported_by_contractor,
        "stage": case.stage,
    }


def party_fields(party: Party, balance: int) -> dict:
    return {
        "label": party.label,
        "identified": party.identified,
        "name": party.name,
        "name_kana": party.name_kana,
        "phone": party.phone,
        "address": party.address,
        "identification_note": party.identification_note,
        "identified_on": _iso(party.identified_on),
        "balance": balance,
    }


def export_cases(cases: Iterable[Case] | None = None) -> dict:
    """All cases (or the given ones) as one interchange document, in order of creation."""
    with scopes_disabled():
        if cases is None:
            cases = Case.objects.all()
        exporters = [_CaseExport(case) for case in sorted(cases, key=lambda c: c.pk)]
        documents = [exporter.document() for exporter in exporters]
        items = sorted(
            (item for exporter in exporters for item in exporter.items), key=lambda i: i[0]
        )
        for seq, (_, item) in enumerate(items, start=1):
            item["seq"] = seq
        for exporter in exporters:
            exporter.link_reversals()
    return {"format": FORMAT, "version": VERSION, "cases": documents}


_UNLOGGED = 1 << 62  # rows written around the services sort after everything else


class _CaseExport:
    def __init__(self, case: Case):
        self.case = Case.objects.select_related(
            "municipality", "office", "contractor", "assignee", "created_by"
        ).get(pk=case.pk)
        self.name = f"case {self.case.reference}"
        self.audit = list(
            AuditEntry.objects.filter(case=self.case).select_related("user").order_by("id")
        )
        self.first: dict[tuple[str, str], AuditEntry] = {}
        for entry in self.audit:
            self.first.setdefault((entry.action, entry.object_id), entry)
        self.items: list[tuple[tuple, dict]] = []  # (order, item): seq is filled in later
        self.origins: dict[tuple, dict] = {}  # what a reversal can name: visits, postings
        self.reversals: list[tuple[dict, tuple]] = []

    def _item(self, entry: AuditEntry | None, by: User | None, rank: int, pk: int, **fields):
        order = (entry.id, 0, 0, 0) if entry else (_UNLOGGED, self.case.pk, rank, pk)
        user = entry.user if entry is not None and entry.user is not None else by
        item = {"seq": None, "by": user.username if user else None, **fields}
        self.items.append((order, item))
        return order, item

    def _made(self, action: str, obj) -> AuditEntry | None:
        return self.first.get((action, str(obj.pk)))

    def document(self) -> dict:
        case = self.case
        document = case_fields(case)
        opened = self._made("tadasu.case.opened", case)
        report = case.timeline.filter(action="case.opened").order_by("id").first()
        document["opened"] = self._item(
            opened,
            case.created_by,
            0,
            case.pk,
            reported_on=_iso(report.occurred_on if report else case.discovered_on),
        )[1]
        transitions = self._transitions()
        document["updates"] = self._case_updates(document, transitions)
        document["parties"] = self._parties()
        document["links"] = [
            self._item(
                self._made("tadasu.misregistration.added", link),
                case.created_by,
                2,
                link.pk,
                source=link.source.label,
                target=link.target.label,
                data_kind=link.data_kind,
                registered_on=_iso(link.registered_on),
                corrected_on=_iso(link.corrected_on),
                paid_through=link.paid_through,
                note=link.note,
            )[1]
            for link in case.misregistrations.select_related("source", "target").order_by("pk")
        ]
        document["contacts"] = self._contacts()
        document["agreements"] = [
            self._item(
                self._made("tadasu.agreement.added", agreement),
                agreement.created_by,
                4,
                agreement.pk,
                payer=agreement.payer,
                amount=agreement.amount,
                form=agreement.form,
                agreed_on=_iso(agreement.agreed_on),
                party=agreement.party.label if agreement.party_id else None,
                note=agreement.note,
            )[1]
            for agreement in CompensationAgreement.objects.filter(case=case)
            .select_related("party", "created_by")
            .order_by("pk")
        ]
        document["visits"] = self._visits()
        document["letters"] = [
            self._item(
                self._made("tadasu.letter.recorded", letter),
                letter.created_by,
                6,
                letter.pk,
                party=letter.party.label,
                sent_on=_iso(letter.sent_on),
                note=letter.note,
            )[1]
            for letter in ApologyLetter.objects.filter(case=case)
            .select_related("party", "created_by")
            .order_by("pk")
        ]
        document["ledger"] = self._ledger()
        document["transitions"] = [item for _, item in transitions]
        document["timeline"] = self._timeline()
        return document

    def _case_updates(self, document: dict, transitions: list) -> list[dict]:
        edits = []
        for entry in self.audit:
            if entry.action == "tadasu.case.changed":
                edits.append((entry, list(entry.data.get("fields", []))))
            elif entry.action == "tadasu.case.assigned":
                edits.append((entry, ["assignee"]))  # case_take: replayed as case_update
        placed = case_field_placement(
            document,
            [(entry.id, names) for entry, names in edits],
            [(order[0], item["step"]) for order, item in transitions],
            _held_open(self.case.created_by),
        )
        return [
            self._item(entry, None, 1, entry.id, fields=fields)[1]
            for (entry, _), fields in zip(edits, placed, strict=True)
            if fields
        ]

    def _parties(self) -> list[dict]:
        balances = {b.party.pk: b.amount for b in ledger.balances(self.case)}
        parties = []
        for party in self.case.parties.order_by("pk"):
            document = self._item(
                self._made("tadasu.party.added", party),
                self.case.created_by,
                1,
                party.pk,
                **party_fields(party, balances.get(party.pk, 0)),
            )[1]
            edits = [
                entry
                for entry in self.audit
                if entry.action == "tadasu.party.changed" and entry.object_id == str(party.pk)
            ]
            placed = party_field_placement(
                document, [(entry.id, entry.data.get("fields", [])) for entry in edits]
            )
            document["updates"] = [
                self._item(entry, None, 1, entry.id, fields=fields)[1]
                for entry, fields in zip(edits, placed, strict=True)
                if fields
            ]
            parties.append(document)
        return parties

    def _contacts(self) -> list[dict]:
        contacts = []
        for contact in (
            AgencyContact.objects.filter(case=self.case)
            .select_related("created_by")
            .prefetch_related("agencies")
            .order_by("pk")
        ):
            added = self._made("tadasu.contact.added", contact)
            answered = self._made("tadasu.contact.answered", contact)
            document = self._item(
                added,
                contact.created_by,
                3,
                contact.pk,
                agencies=[agency.name for agency in contact.agencies.all()],
                made_by=contact.made_by,
                contacted_on=_iso(contact.contacted_on),
                channel=contact.channel,
                request=contact.request,
                answered_on=_iso(contact.answered_on),
                answer=contact.answer,
                answer_recorded=None,
            )[1]
            if answered is not None and not self._one_call(added, answered):
                document["answer_recorded"] = self._item(answered, None, 3, contact.pk)[1]
            contacts.append(document)
        return contacts

    def _one_call(self, first: AuditEntry | None, second: AuditEntry) -> bool:
        """Whether two audit entries come from one service call (contact_add with its
        answer): same user, and nothing else done to the case in between."""
        if first is None:
            return True
        return first.user_id == second.user_id and not any(
            first.id < entry.id < second.id for entry in self.audit
        )

    def _visits(self) -> list[dict]:
        visits = []
        for visit in (
            Visit.objects.filter(case=self.case)
            .select_related("party", "created_by")
            .prefetch_related("ledger_entries")
            .order_by("pk")
        ):
            posted = {entry.kind: entry for entry in visit.ledger_entries.all()}
            paid, collected = posted.get(EntryKind.PAYMENT), posted.get(EntryKind.COLLECTION)
            document = self._item(
                self._made("tadasu.visit.recorded", visit),
                visit.created_by,
                5,
                visit.pk,
                party=visit.party.label,
                visited_on=_iso(visit.visited_on),
                place=visit.place,
                purpose=visit.purpose,
                apologised=visit.apologised,
                city_attendees=visit.city_attendees,
                contractor_attendees=visit.contractor_attendees,
                outcome=visit.outcome,
                handed_over=-paid.delta if paid else 0,
                hand_over_side=paid.side if paid else "",
                hand_over_method=paid.method if paid else "",
                collected=collected.delta if collected else 0,
                collected_by=collected.side if collected else "",
                collection_method=collected.method if collected else "",
            )[1]
            self.origins[("visit", visit.pk)] = document
            visits.append(document)
        return visits

    def _ledger(self) -> list[dict]:
        def origin(entry: LedgerEntry) -> tuple:
            if entry.visit_id:
                return ("visit", entry.visit_id)
            return ("group", entry.group) if entry.group else ("entry", entry.pk)

        postings: dict[tuple, list[LedgerEntry]] = {}
        for entry in (
            LedgerEntry.objects.filter(case=self.case)
            .select_related("party", "reverses", "created_by")
            .order_by("pk")
        ):
            if entry.kind == EntryKind.REVERSAL:
                postings.setdefault(("reversal", origin(entry.reverses)), []).append(entry)
            elif not entry.visit_id:  # a visit's money is posted again by replaying the visit
                postings.setdefault(origin(entry), []).append(entry)
        # ledger_reverse names the entry it was given in its 経過 line; for a pair, that line
        # tells which side the clerk picked.
        reversal_texts = iter(
            self.case.timeline.filter(action="ledger.reversal")
            .order_by("id")
            .values_list("text", flat=True)
        )
        items = []
        for key, entries in postings.items():
            first = entries[0]
            fields: dict[str, Any] = {"kind": first.kind, "on": _iso(first.on)}
            if first.kind == EntryKind.MISALLOCATION:
                owed = next(e for e in entries if e.delta > 0)
                holder = next(e for e in entries if e.delta < 0)
                fields |= {
                    "owed": owed.party.label,
                    "holder": holder.party.label,
                    "amount": owed.delta,
                    "note": first.note,
                }
            elif first.kind in (EntryKind.PAYMENT, EntryKind.COLLECTION):
                fields |= {
                    "party": first.party.label,
                    "amount": abs(first.delta),
                    "side": first.side,
                    "method": first.method,
                    "note": first.note,
                }
            elif first.kind == EntryKind.REGRANT:
                fields |= {"party": first.party.label, "amount": -first.delta, "note": first.note}
            elif first.kind == EntryKind.WRITE_OFF:
                fields |= {"party": first.party.label, "reason": first.note}
            else:
                labels = [entry.reverses.party.label for entry in entries]
                fields |= {
                    "reverses": None,
                    "party": _named_first(next(reversal_texts, ""), labels),
                    "reason": first.note,
                }
            _, item = self._item(
                self._made(f"tadasu.ledger.{first.kind}", first),
                first.created_by,
                7,
                first.pk,
                **fields,
            )
            if first.kind == EntryKind.REVERSAL:
                self.reversals.append((item, key[1]))
            else:
                self.origins[key] = item
            items.append(item)
        return items

    def link_reversals(self) -> None:
        """A reversal names what it reverses by seq, known only once every seq is."""
        for item, origin in self.reversals:
            if origin not in self.origins:
                raise InterchangeError("reverses an entry that is not exported", case=self.name)
            item["reverses"] = self.origins[origin]["seq"]

    def _transitions(self) -> list[tuple[tuple, dict]]:
        entries = [e for e in self.audit if e.action.startswith("tadasu.case.stage.")]
        events = list(
            self.case.timeline.filter(action__startswith="stage.")
            .select_related("created_by")
            .order_by("id")
        )
        if [e.action.removeprefix("tadasu.case.") for e in entries] != [e.action for e in events]:
            raise InterchangeError(
                "the stage changes in the audit trail do not match the timeline",
                case=self.name,
                field="stage",
            )
        return [
            self._item(
                entry,
                event.created_by,
                8,
                event.pk,
                step=event.action.removeprefix("stage."),
                on=_iso(event.occurred_on),
                note=_transition_note(entry, event),
            )
            for entry, event in zip(entries, events, strict=True)
        ]

    def _timeline(self) -> list[dict]:
        timeline = []
        for event in TimelineEvent.objects.filter(case=self.case).select_related("created_by"):
            fields = {
                "on": _iso(event.occurred_on),
                "actor": event.actor,
                "text": event.text,
                "action": event.action,
            }
            if event.action:  # written by a service: regenerated when that action replays
                timeline.append({"seq": None, "by": event.created_by.username, **fields})
            else:
                made = self._made("tadasu.timeline.added", event)
                timeline.append(self._item(made, event.created_by, 9, event.pk, **fields)[1])
        return timeline


def _named_first(text: str, labels: list[str]) -> str:
    """The label the text names first (the longest, where one label starts another)."""
    found = [(text.find(label), -len(label), label) for label in set(labels) if label in text]
    return min(found)[2] if found else labels[0]


def _held_open(opener: User | None) -> dict:
    """What case_open puts in the fields it decides itself: a contractor's report names the
    company and leaves the assignee to the city."""
    membership = membership_of(opener)
    if membership is not None and membership.role == Role.CONTRACTOR:
        return {"contractor": membership.contractor.name, "assignee": None}
    return {}


def _transition_note(entry: AuditEntry, event: TimelineEvent) -> str:
    """The note given to case_transition (kept in its audit entry)."""
    return entry.data.get("note", "")


# ---- import ------------------------------------------------------------------------------


@transaction.atomic
def import_cases(data: Any, *, skip_existing: bool = False) -> list[Case]:
    """Replay every case of an interchange document; all of them or none.

    With skip_existing, a case whose natural key (office and discovery date) is already in
    the database is left out, which makes loading the same file twice harmless."""
    with scopes_disabled():
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InterchangeError(f'not a Tadasu case file (expected "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise InterchangeError(
                f"version {_quote(data.get('version'))} is not supported (expected {VERSION})"
            )
        if not isinstance(data.get("cases"), list):
            raise InterchangeError('"cases" must be a list')
        refs = _References()
        replays = [_CaseReplay(i, raw, refs) for i, raw in enumerate(data["cases"], start=1)]
        if skip_existing:
            replays = [r for r in replays if not r.exists()]
        steps = [step for replay in replays for step in replay.steps()]
        seen: dict[int, _Step] = {}
        for step in steps:
            if step.seq in seen:
                raise InterchangeError(
                    f"seq {step.seq} is also used by {seen[step.seq].where}",
                    case=step.replay.name,
                    item=step.item,
                    field="seq",
                )
            seen[step.seq] = step
        for step in sorted(steps, key=lambda s: s.seq):
            step.run()
        for replay in replays:
            replay.verify()
        return [Case.objects.get(pk=replay.case_pk) for replay in replays]


@dataclass
class _Step:
    seq: int
    replay: "_CaseReplay"
    item: str
    action: Callable[[], object]
    blame: str  # the field to name when a service's error names none

    @property
    def where(self) -> str:
        return f"{self.replay.name}, {self.item}"

    def run(self) -> None:
        with self.replay.at(self.item, blame=self.blame):
            self.action()


_MISSING = object()


def _value(item: Any, name: str, default: Any = _MISSING) -> Any:
    if not isinstance(item, dict):
        raise _FieldError("", "must be an object")
    if name in item:
        return item[name]
    if default is _MISSING:
        raise _FieldError(name, "is missing")
    return default


def _text(item: Any, name: str, default: Any = _MISSING) -> str:
    value = _value(item, name, default)
    if not isinstance(value, str):
        raise _FieldError(name, "must be text")
    return value


def _date(item: Any, name: str, *, optional: bool = False) -> date | None:
    value = _value(item, name, None if optional else _MISSING)
    if value is None and optional:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _FieldError(name, f"{_quote(value)} is not a date (YYYY-MM-DD)") from None


def _int(item: Any, name: str, default: Any = _MISSING) -> int:
    value = _value(item, name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(name, f"{_quote(value)} is not a whole number")
    return value


def _bool(item: Any, name: str, default: Any = _MISSING) -> bool:
    value = _value(item, name, default)
    if not isinstance(value, bool):
        raise _FieldError(name, "must be true or false")
    return value


def _list(item: Any, name: str) -> list:
    value = _value(item, name, [])
    if not isinstance(value, list):
        raise _FieldError(name, "must be a list")
    return value


def _known_fields(update: Any, known: tuple[str, ...]) -> None:
    unknown = [name for name in _list(update, "fields") if name not in known]
    if unknown:
        raise _FieldError("fields", f"{_quote(unknown[0])} cannot be edited")


class _References:
    """Reference data by natural key, each looked up once."""

    def __init__(self):
        self.cache: dict[tuple, Any] = {}

    def _get(self, model, field: str, what: str, **lookup) -> Any:
        key = (model, *sorted(lookup.items()))
        if key not in self.cache:
            try:
                self.cache[key] = model.objects.get(**lookup)
            except model.DoesNotExist:
                raise _FieldError(field, f"{what} is not in this database") from None
        return self.cache[key]

    def user(self, username: Any, field: str = "by") -> User:
        if not isinstance(username, str):
            raise _FieldError(field, "must be a username")
        return self._get(User, field, f"user {_quote(username)}", username=username)

    def municipality(self, code: Any) -> Municipality:
        return self._get(Municipality, "municipality", f"municipality {_quote(code)}", code=code)

    def office(self, municipality: Municipality, name: Any) -> Office:
        return self._get(
            Office,
            "office",
            f"office {_quote(name)} of {municipality.code}",
            municipality=municipality,
            name=name,
        )

    def contractor(self, name: Any) -> Contractor:
        if not isinstance(name, str):
            raise _FieldError("contractor", "must be a name")
        return self._get(Contractor, "contractor", f"contractor {_quote(name)}", name=name)

    def agency(self, name: Any) -> Agency:
        if not isinstance(name, str):
            raise _FieldError("agencies", "must be a list of names")
        return self._get(Agency, "agencies", f"agency {_quote(name)}", name=name)


class _CaseReplay:
    """One case of the file: its actions as steps, and the check once all have run."""

    def __init__(self, position: int, raw: Any, refs: _References):
        reference = raw.get("reference") if isinstance(raw, dict) else None
        self.name = f"case {position}" + (f" ({reference})" if isinstance(reference, str) else "")
        self.raw, self.refs = raw, refs
        self.case_pk: int | None = None
        self.contacts: dict[int, AgencyContact] = {}
        self.postings: dict[int, list[LedgerEntry]] = {}  # seq → the entries it posted
        with self.at(""):
            municipality = refs.municipality(_text(raw, "municipality"))
            self.values = {
                "office": refs.office(municipality, _text(raw, "office")),
                "kind": _text(raw, "kind"),
                "discovered_on": _date(raw, "discovered_on"),
                "occurred_on": _date(raw, "occurred_on", optional=True),
            }
            contractor = _value(raw, "contractor", None)
            self.values["contractor"] = refs.contractor(contractor) if contractor else None
            assignee = _value(raw, "assignee", None)
            self.values["assignee"] = refs.user(assignee, "assignee") if assignee else None
            for name in ("summary", "discovery", "cause_category", "cause_text", "prevention"):
                self.values[name] = _text(raw, name, "")
            self.opened = _value(raw, "opened")
        with self.at("opened"):
            self.opener = refs.user(_value(self.opened, "by"))

    @contextmanager
    def at(self, item: str, *, blame: str = "") -> Iterator[None]:
        """Turn any refusal into an InterchangeError that says where it happened."""
        try:
            yield
        except _FieldError as error:
            raise InterchangeError(
                error.reason, case=self.name, item=item, field=error.field
            ) from error
        except (CaseError, RemedyError) as error:
            raise InterchangeError(
                str(error.message), case=self.name, item=item, field=error.field or blame
            ) from error
        except PermissionDenied as error:
            raise InterchangeError(str(error), case=self.name, item=item, field="by") from error
        except DatabaseError as error:
            raise InterchangeError(str(error), case=self.name, item=item, field=blame) from error

    def exists(self) -> bool:
        return Case.objects.filter(
            office=self.values["office"], discovered_on=self.values["discovered_on"]
        ).exists()

    # -- steps ---------------------------------------------------------------------------

    def steps(self) -> list[_Step]:
        raw, steps = self.raw, []

        def add(item: str, obj: Any, action: Callable, blame: str = "") -> None:
            with self.at(item):
                seq = _int(obj, "seq")
            steps.append(_Step(seq, self, item, partial(action, obj), blame))

        with self.at(""):
            sections = {
                name: _list(raw, name)
                for name in (
                    "updates",
                    "parties",
                    "links",
                    "contacts",
                    "agreements",
                    "visits",
                    "letters",
                    "ledger",
                    "transitions",
                    "timeline",
                )
            }
        add("opened", self.opened, self._open)
        for i, update in enumerate(sections["updates"], start=1):
            add(f"update {i}", update, partial(self._update, i - 1))
        for i, party in enumerate(sections["parties"], start=1):
            add(f"party {i}", party, self._party_add, "label")
            with self.at(f"party {i}"):
                party_updates = _list(party, "updates")
            for j, update in enumerate(party_updates, start=1):
                add(f"party {i} update {j}", update, partial(self._party_update, party, j - 1))
        for i, link in enumerate(sections["links"], start=1):
            add(f"link {i}", link, self._link)
        for i, contact in enumerate(sections["contacts"], start=1):
            add(f"contact {i}", contact, self._contact)
            answer = _value(contact, "answer_recorded", None) if isinstance(contact, dict) else None
            if answer is not None:
                add(f"contact {i} answer", answer, partial(self._answer, contact))
        for i, agreement in enumerate(sections["agreements"], start=1):
            add(f"agreement {i}", agreement, self._agreement)
        for i, visit in enumerate(sections["visits"], start=1):
            add(f"visit {i}", visit, self._visit)
        for i, letter in enumerate(sections["letters"], start=1):
            add(f"letter {i}", letter, self._letter)
        for i, posting in enumerate(sections["ledger"], start=1):
            add(f"ledger item {i}", posting, self._posting)
        for i, transition in enumerate(sections["transitions"], start=1):
            add(f"transition {i}", transition, self._transition, "step")
        for i, event in enumerate(sections["timeline"], start=1):
            if isinstance(event, dict) and event.get("action", "") == "":
                add(f"timeline entry {i}", event, self._timeline)
        return steps

    def _case(self) -> Case:
        # Fresh each time: permissions read the stage, which the previous step may have moved.
        return Case.objects.get(pk=self.case_pk)

    def _party(self, item: Any, field: str = "party") -> Party | None:
        label = _value(item, field)
        if label is None:
            return None
        party = Party.objects.filter(case_id=self.case_pk, label=label).first()
        if party is None:
            raise _FieldError(field, f"no party labelled {_quote(label)} at this point")
        return party

    def _by(self, item: Any) -> User:
        return self.refs.user(_value(item, "by"))

    def _update_orders(self) -> list[tuple[int, list[str]]]:
        return [
            (_int(u, "seq"), _list(u, "fields"))
            for u in _list(self.raw, "updates")
            if isinstance(u, dict)
        ]

    def _case_placement(self) -> list[list[str]]:
        transitions = [
            (_int(t, "seq"), _value(t, "step"))
            for t in _list(self.raw, "transitions")
            if isinstance(t, dict)
        ]
        return case_field_placement(
            self.raw, self._update_orders(), transitions, _held_open(self.opener)
        )

    def _open(self, item: dict) -> None:
        later = {name for fields in self._case_placement() for name in fields}
        given = {
            name: (_EMPTY.get(name, "") if name in later else value)
            for name, value in self.values.items()
        }
        case = case_services.case_open(
            by=self.opener, reported_on=_date(item, "reported_on", optional=True), **given
        )
        self.case_pk = case.pk

    def _update(self, index: int, item: dict) -> None:
        _known_fields(item, CASE_FIELDS)
        fields = self._case_placement()[index]
        if fields:
            case_services.case_update(
                case=self._case(),
                by=self._by(item),
                **{name: self.values[name] for name in fields},
            )

    def _party_values(self, party: dict) -> tuple[dict, list[list[str]]]:
        values = {
            "label": _text(party, "label"),
            "identified": _bool(party, "identified", True),
            "identified_on": _date(party, "identified_on", optional=True),
        }
        for name in ("name", "name_kana", "phone", "address", "identification_note"):
            values[name] = _text(party, name, "")
        updates = [
            (_int(u, "seq"), _list(u, "fields"))
            for u in _list(party, "updates")
            if isinstance(u, dict)
        ]
        return values, party_field_placement(party, updates)

    def _party_add(self, item: dict) -> None:
        values, placed = self._party_values(item)
        later = {name for fields in placed for name in fields}
        given = {
            name: (_EMPTY.get(name, "") if name in later else value)
            for name, value in values.items()
        }
        given["identified"] = values["identified"] and "identified" not in later
        case_services.party_add(case=self._case(), by=self._by(item), **given)

    def _party_update(self, party: dict, index: int, item: dict) -> None:
        _known_fields(item, PARTY_FIELDS)
        values, placed = self._party_values(party)
        if placed[index]:
            case_services.party_update(
                party=self._party(party, "label"),
                by=self._by(item),
                **{name: values[name] for name in placed[index]},
            )

    def _link(self, item: dict) -> None:
        case_services.misregistration_add(
            case=self._case(),
            by=self._by(item),
            source=self._party(item, "source"),
            target=self._party(item, "target"),
            data_kind=_text(item, "data_kind"),
            registered_on=_date(item, "registered_on", optional=True),
            corrected_on=_date(item, "corrected_on", optional=True),
            paid_through=_bool(item, "paid_through", False),
            note=_text(item, "note", ""),
        )

    def _contact(self, item: dict) -> None:
        names = _list(item, "agencies")
        together = _value(item, "answer_recorded", None) is None
        contact = remedies.contact_add(
            case=self._case(),
            by=self._by(item),
            agencies=[self.refs.agency(name) for name in names],
            contacted_on=_date(item, "contacted_on"),
            channel=_text(item, "channel"),
            request=_text(item, "request"),
            made_by=_text(item, "made_by", "municipality"),
            answered_on=_date(item, "answered_on", optional=True) if together else None,
            answer=_text(item, "answer", "") if together else "",
        )
        self.contacts[_int(item, "seq")] = contact

    def _answer(self, contact: dict, item: dict) -> None:
        request = self.contacts.get(_int(contact, "seq"))
        if request is None:
            raise _FieldError("seq", "the answer cannot be recorded before the request")
        remedies.contact_answer(
            contact=request,
            by=self._by(item),
            answered_on=_date(contact, "answered_on", optional=True),
            answer=_text(contact, "answer", ""),
        )

    def _agreement(self, item: dict) -> None:
        remedies.agreement_add(
            case=self._case(),
            by=self._by(item),
            payer=_text(item, "payer"),
            amount=_int(item, "amount"),
            form=_text(item, "form"),
            agreed_on=_date(item, "agreed_on"),
            party=self._party(item) if _value(item, "party", None) else None,
            note=_text(item, "note", ""),
        )

    def _visit(self, item: dict) -> None:
        visit = remedies.visit_record(
            case=self._case(),
            by=self._by(item),
            party=self._party(item),
            visited_on=_date(item, "visited_on"),
            place=_text(item, "place"),
            purpose=_text(item, "purpose"),
            apologised=_bool(item, "apologised", True),
            city_attendees=_text(item, "city_attendees", ""),
            contractor_attendees=_text(item, "contractor_attendees", ""),
            outcome=_text(item, "outcome", ""),
            handed_over=_int(item, "handed_over", 0),
            hand_over_side=_text(item, "hand_over_side", ""),
            hand_over_method=_text(item, "hand_over_method", ""),
            collected=_int(item, "collected", 0),
            collected_by=_text(item, "collected_by", ""),
            collection_method=_text(item, "collection_method", ""),
        )
        self.postings[_int(item, "seq")] = list(visit.ledger_entries.order_by("pk"))

    def _letter(self, item: dict) -> None:
        remedies.letter_record(
            case=self._case(),
            by=self._by(item),
            party=self._party(item),
            sent_on=_date(item, "sent_on"),
            note=_text(item, "note", ""),
        )

    def _posting(self, item: dict) -> None:
        kind, case, by, on = _text(item, "kind"), self._case(), self._by(item), _date(item, "on")
        if kind == EntryKind.MISALLOCATION:
            entries = ledger.ledger_post_misallocation(
                case=case,
                owed=self._party(item, "owed"),
                holder=self._party(item, "holder"),
                amount=_int(item, "amount"),
                on=on,
                by=by,
                note=_text(item, "note", ""),
            )
            posted = entries
        elif kind in (EntryKind.PAYMENT, EntryKind.COLLECTION):
            post = (
                ledger.ledger_post_payment
                if kind == EntryKind.PAYMENT
                else ledger.ledger_post_collection
            )
            posted = post(
                case=case,
                party=self._party(item),
                amount=_int(item, "amount"),
                side=_text(item, "side"),
                method=_text(item, "method"),
                on=on,
                by=by,
                note=_text(item, "note", ""),
            )
        elif kind == EntryKind.REGRANT:
            posted = ledger.ledger_post_regrant(
                case=case,
                party=self._party(item),
                amount=_int(item, "amount"),
                on=on,
                by=by,
                note=_text(item, "note", ""),
            )
        elif kind == EntryKind.WRITE_OFF:
            posted = ledger.ledger_write_off(
                case=case, party=self._party(item), reason=_text(item, "reason"), on=on, by=by
            )
        elif kind == EntryKind.REVERSAL:
            reverses = _int(item, "reverses")
            if not self.postings.get(reverses):
                raise _FieldError("reverses", f"seq {reverses} is no earlier posting of this case")
            label = _value(item, "party", None)
            chosen = [e for e in self.postings[reverses] if label in (None, e.party.label)]
            if not chosen:
                raise _FieldError("party", f"seq {reverses} posted nothing for {_quote(label)}")
            try:
                posted = ledger.ledger_reverse(
                    entry=chosen[0], reason=_text(item, "reason"), on=on, by=by
                )
            except RemedyError as error:
                error.field = "reverses" if error.field == "entry" else error.field
                raise
        else:
            raise _FieldError("kind", f"{_quote(kind)} is not a kind of ledger entry")
        self.postings[_int(item, "seq")] = posted if isinstance(posted, list) else [posted]

    def _transition(self, item: dict) -> None:
        case_transition(
            case=self._case(),
            step=_text(item, "step"),
            by=self._by(item),
            on=_date(item, "on"),
            note=_text(item, "note", ""),
        )

    def _timeline(self, item: dict) -> None:
        case_services.timeline_add(
            case=self._case(),
            by=self._by(item),
            occurred_on=_date(item, "on"),
            actor=_text(item, "actor"),
            text=_text(item, "text"),
        )

    # -- the check -----------------------------------------------------------------------

    def verify(self) -> None:
        """The replay must end where the file says: stage, fields, parties, balances."""
        case = Case.objects.select_related("municipality", "office", "contractor", "assignee").get(
            pk=self.case_pk
        )
        with self.at(""):
            _text(self.raw, "stage")
            self._compare(self.raw, case_fields(case), skip=("reference",))
        parties = {party.label: party for party in case.parties.all()}
        balances = {b.party.label: b.amount for b in ledger.balances(case)}
        for i, item in enumerate(self.raw["parties"], start=1):
            with self.at(f"party {i}"):
                label = _text(item, "label")
                _int(item, "balance")
                self._compare(item, party_fields(parties[label], balances[label]))

    @staticmethod
    def _compare(expected: dict, actual: dict, skip: tuple = ()) -> None:
        def same(a: Any, b: Any) -> bool:
            return (a.strip() == b.strip()) if isinstance(a, str) and isinstance(b, str) else a == b

        for name, value in actual.items():
            if name in skip or name not in expected or same(expected[name], value):
                continue
            raise _FieldError(
                name,
                f"the file says {_quote(expected[name])}, but the replay ends with {_quote(value)}",
            )
