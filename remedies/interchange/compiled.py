"""The compiled path of the import: a new case whose actions are all of the kinds below is
checked and built in memory, as the services would check and write it, and its rows are
written in bulk with other cases' rows instead of through one service call per action.

The kinds of a topic beyond the case and its people live in a module each, mixed into
CompiledCase: compiled_links.py (links, their corrections and excuses), compiled_contacts.py
(agency contacts and their answers), compiled_money.py (agreements, visits, apology letters
made outside Tadasu, the ledger's postings and the totals they move), compiled_stages.py
(the stage steps with their guards). Repayment plans and documents (and the letters issued
as documents, their deliveries, reversals of postings) are left to the replay.

A case goes this way only when every check passes in memory. Anything else (another kind of
action, an edit that moves the case to another contractor, a refusal of any kind, a case
already in the database, `--amend`) goes through the replay (replay.py), decided per case
before anything of it is written: a case the compiled path refuses is replayed, so the
replay's own service says why, with the same message, field and item.

What stays the replay's, in the same order, whichever path a case takes:
- the audit entries: each is appended to its municipality's chain when its action's seq
  comes (cases/audit.py chains the entries of an audit_batch when it writes them, after
  the rows they name are written: audit_before_flush);
- the case numbers: taken from the same held sequence (cases.services.held_case_numbers)
  when the case's `opened` comes.

The rows are built complete before the case's first action runs (no later action of the
case changes them), and written, per model in dependency order (cases; parties; links and
requests with their agencies; agreements, visits, letters, ledger entries and the cases'
ledger totals; 経過 lines; then the municipalities' money rows moved), just before each
batch of audit entries."""

import functools
from datetime import date
from typing import Any

from django.db import DatabaseError
from django.utils import translation
from django.utils.translation import gettext as _

from cases import bulk, deadlines, permissions, screening
from cases import services as case_services
from cases.audit import audit_before_flush, audit_log
from cases.models import (
    TIMELINE_TEXT_MAX,
    Agency,
    Case,
    Misregistration,
    Party,
    Role,
    TimelineEvent,
    User,
)
from cases.scoping import membership_of
from cases.services import CASE_FIELDS, PARTY_FIELDS, PERSONAL_FIELDS

from ..ledger import _move_city_total
from ..models import (
    AgencyContact,
    ApologyLetter,
    CityLedgerTotal,
    CompensationAgreement,
    LedgerEntry,
    LedgerTotal,
    Visit,
)
from .actions import _held_back
from .compiled_base import NotCompiled, Run, nothing, together
from .compiled_contacts import CompiledContacts
from .compiled_links import CompiledLinks
from .compiled_money import CompiledMoney
from .compiled_stages import CompiledStages
from .rules import (
    _bool,
    _date,
    _int,
    _known_fields,
    _text,
    _value,
    case_fields,
    party_fields,
)

# The kinds of action (replay._Action.kind) this path compiles.
COMPILED_KINDS = frozenset(
    {
        "opened",
        "update",
        "party",
        "party update",
        "timeline entry",
        "link",
        "link correction",
        "link excuse",
        "contact",
        "contact answer",
        "agreement",
        "visit",
        "letter",
        "ledger item",
        "transition",
    }
)


# The case's lists whose every item is an action of a kind this path leaves to the replay.
_REPLAYED_SECTIONS = ("plans", "documents")


@functools.cache
def _bounded_columns(model: type) -> tuple[tuple[str, int], ...]:
    """The model's columns with a length the database checks: (attname, max_length)."""
    return tuple(
        (field.attname, field.max_length)
        for field in model._meta.concrete_fields
        if field.max_length
    )


class Publisher:
    """The rows of compiled cases, waiting for the next batch of audit entries; and what
    the checks read of reference data, read once for the whole import."""

    def __init__(self):
        self.serves: dict[tuple[int, int], bool] = {}  # (contractor, municipality)
        self.references: dict[str, set[str]] = {}  # by "municipality-year-": taken before
        self.agency_order: dict[int, int] | None = None  # agency id → its place in order
        self.today = case_services.today()  # for the checks of dates (_event_date)
        self.cases: list[Case] = []
        self.parties: list[Party] = []
        self.links: list[Misregistration] = []
        self.contacts: list[tuple[AgencyContact, list[Agency]]] = []
        self.agreements: list[CompensationAgreement] = []
        self.visits: list[Visit] = []
        self.letters: list[ApologyLetter] = []
        self.entries: list[LedgerEntry] = []
        self.totals: list[LedgerTotal] = []
        self.events: list[TimelineEvent] = []
        # (municipality, contractor) → what the cases written in this batch moved of its
        # CityLedgerTotal row (ledger._move_city_total, once per batch and row).
        self.city: dict[tuple[int, int | None], dict[str, int]] = {}
        audit_before_flush(self.write)

    def move_city_total(self, case: Case, changes: dict[str, int]) -> None:
        key = (case.municipality_id, case.contractor_id)
        moved = self.city.setdefault(key, dict.fromkeys(changes, 0))
        for name, change in changes.items():
            moved[name] += change

    def agencies_in_order(self, agencies: list[Agency]) -> list[Agency]:
        """The agencies of a request each once, in the order contact.agencies.all() reads
        them (Agency's ordering, as the database sorts it: read once for the import)."""
        unique = list({agency.pk: agency for agency in agencies}.values())
        if len(unique) > 1:
            if self.agency_order is None:
                ids = Agency.objects.values_list("pk", flat=True)  # Meta.ordering
                self.agency_order = {pk: place for place, pk in enumerate(ids)}
            unique.sort(key=lambda agency: self.agency_order[agency.pk])
        return unique

    def taken(self, reference: str) -> set[str]:
        """The references of the cases already in the database with the same municipality
        and fiscal year as `reference` (its prefix), read once for the import."""
        prefix = reference.rsplit("-", 1)[0] + "-"
        if prefix not in self.references:
            self.references[prefix] = set(
                Case.objects.filter(reference__startswith=prefix).values_list(
                    "reference", flat=True
                )
            )
        return self.references[prefix]

    def write(self) -> None:
        through = AgencyContact.agencies.through  # contact.agencies.set(…)
        ids = bulk.reserve_ids(  # the batch's new ids in one statement
            {
                Case: len(self.cases),
                Party: len(self.parties),
                Misregistration: len(self.links),
                AgencyContact: len(self.contacts),
                through: sum(len(chosen) for _, chosen in self.contacts),
                CompensationAgreement: len(self.agreements),
                Visit: len(self.visits),
                ApologyLetter: len(self.letters),
                LedgerEntry: len(self.entries),
                TimelineEvent: len(self.events),
            }
        )
        # The city's totals first: they name no row of the batch, and a statement after the
        # rows would wait for them to be written (bulk.overlapped). Rows locked in one
        # order (by municipality, then ledger.case_contractor_changed's: no contractor
        # first).
        for (municipality_id, contractor_id), moved in sorted(
            self.city.items(), key=lambda item: (item[0][0], item[0][1] or 0)
        ):
            moved = {name: change for name, change in moved.items() if change}
            if moved:
                _move_city_total(municipality_id, contractor_id, moved)
            else:  # moved and moved back within the batch: the row exists, as on replay
                CityLedgerTotal.objects.get_or_create(
                    municipality_id=municipality_id, contractor_id=contractor_id
                )
        if self.cases:
            bulk.insert(self.cases, ids.get(Case))
        requests = [contact for contact, _ in self.contacts]
        for row in (*self.parties, *self.links, *requests, *self.events):
            row.case_id = row.case.pk  # the case, written just before or in an earlier batch
        if self.parties:
            bulk.insert(self.parties, ids.get(Party))
        for link in self.links:  # its parties, written just before or in an earlier batch
            link.source_id, link.target_id = link.source.pk, link.target.pk
        if self.links:
            bulk.insert(self.links, ids.get(Misregistration))
        if requests:
            bulk.insert(requests, ids.get(AgencyContact))
            bulk.insert(
                [
                    bulk.new(through, agencycontact_id=contact.pk, agency_id=agency.pk)
                    for contact, chosen in self.contacts
                    for agency in chosen
                ],
                ids.get(through),
            )
        for rows in (self.agreements, self.visits, self.letters):
            for row in rows:
                row.case_id, row.party_id = row.case.pk, row.party.pk if row.party else None
            if rows:
                bulk.insert(rows, ids.get(type(rows[0])))
        for entry in self.entries:
            entry.case_id, entry.party_id = entry.case.pk, entry.party.pk
            entry.visit_id = entry.visit.pk if entry.visit is not None else None
        if self.entries:
            bulk.insert(self.entries, ids.get(LedgerEntry))
        for total in self.totals:
            total.case_id = total.case.pk
        if self.totals:
            bulk.insert(self.totals)
        if self.events:
            bulk.insert(self.events, ids.get(TimelineEvent))
        self.cases, self.parties, self.links, self.contacts, self.events = [], [], [], [], []
        self.agreements, self.visits, self.letters, self.entries, self.totals = [], [], [], [], []
        self.city = {}


class CompiledCase(CompiledLinks, CompiledContacts, CompiledMoney, CompiledStages):
    """One case, built in memory from its actions (replay._Action, in seq order).

    `build` either returns, for each action, what to do when its seq comes (append the
    audit entries, queue the rows), or raises NotCompiled."""

    def __init__(self, replay: Any, publisher: Publisher):
        self.replay, self.publisher = replay, publisher
        self.case: Case | None = None
        self.parties: dict[str, Party] = {}  # by label, as it stands
        self.links: dict[int, Misregistration] = {}  # by the seq of the link's item
        self.contacts: dict[int, tuple[AgencyContact, list[Agency]]] = {}  # by its item's seq
        self.events: list[TimelineEvent] = []
        self._money_state()

    def build(self) -> list[tuple[Any, Run]]:
        raw = self.replay.raw
        if any(isinstance(raw, dict) and raw.get(section) for section in _REPLAYED_SECTIONS):
            raise NotCompiled  # decided before the case is read item by item
        try:
            actions = self.replay.actions(raw)
            if any(action.kind not in COMPILED_KINDS for action in actions):
                raise NotCompiled
            with translation.override("ja"):  # once for the case (cases.services.japanese)
                runs = [(action, self._compile(action)) for action in actions]
                self._finish()
        except DatabaseError:
            raise  # a read failed: the transaction is gone, nothing to fall back on
        except Exception as error:  # any refusal: the replay says it, as it would
            raise NotCompiled from error
        return runs

    # -- the actions ---------------------------------------------------------------------

    def _compile(self, action: Any) -> Run:
        replay, item = self.replay, action.obj
        if action.kind == "opened":
            return self._open(item)
        if self.case is None:
            raise NotCompiled  # before the case is opened: the replay refuses it
        if action.kind == "update":
            index = int(action.item.split()[1]) - 1
            _known_fields(item, CASE_FIELDS)
            fields = replay._case_placement()[index]
            if not fields:
                return nothing
            return self._update(replay._by(item), {name: replay.values[name] for name in fields})
        if action.kind == "party":
            values, placed = replay._party_values(item)
            given = _held_back(values, placed)
            given["identified"] = values["identified"] and not any(
                "identified" in f for f in placed
            )
            return self._party_add(replay._by(item), given)
        if action.kind == "party update":
            _, number, _, j = action.item.split()
            party = replay.raw["parties"][int(number) - 1]
            _known_fields(item, PARTY_FIELDS)
            values, placed = replay._party_values(party)
            fields = placed[int(j) - 1]
            if not fields:
                return nothing
            label = _value(party, "label")
            if not isinstance(label, str) or label not in self.parties:
                raise NotCompiled
            return self._party_update(
                self.parties[label], replay._by(item), {name: values[name] for name in fields}
            )
        if action.kind == "timeline entry":
            return self._timeline(
                replay._by(item),
                on=_date(item, "on"),
                actor=_text(item, "actor"),
                text=_text(item, "text"),
                public=_bool(item, "public", True),
            )
        if action.kind == "link":
            return self._link(item)
        if action.kind == "contact":
            return self._contact(item)
        if action.kind in ("link correction", "link excuse", "contact answer"):
            # Recorded later at a seq of its own ("link 2 correction", "contact 1 answer"),
            # with the values of its link's or request's item.
            section, number, _ = action.item.split()
            parent = replay.raw[f"{section}s"][int(number) - 1]
            if action.kind == "link correction":
                return self._link_correction(parent, item)
            if action.kind == "link excuse":
                return self._link_excuse(parent, item)
            return self._contact_answer(parent, item)
        if action.kind == "agreement":
            return self._agreement(item)
        if action.kind == "visit":
            return self._visit(item)
        if action.kind == "letter":
            return self._letter(item)
        if action.kind == "ledger item":
            return self._posting(item)
        if action.kind == "transition":
            return self._transition(item)
        raise NotCompiled

    def _event_date(self, value: date | None) -> None:
        """cases.services.check_event_date, against the day the import began (a day
        earlier than the replay's own if the import runs past midnight: stricter, so a
        date it refuses is replayed and judged there)."""
        case = self.case
        if value is not None and not (
            (case.occurred_on or case.discovered_on) <= value <= self.publisher.today
        ):
            raise NotCompiled

    def _editor(self, by: User) -> None:
        """lock_for_edit's checks, on the case as it stands."""
        case_services.require_editor(self.case, by)

    def _open(self, item: dict) -> Run:
        replay = self.replay
        by = replay.opener
        given = _held_back(replay.values, replay._case_placement())
        reported_on = _date(item, "reported_on", optional=True)
        office, kind, discovered_on = given["office"], given["kind"], given["discovered_on"]
        contractor, assignee = given["contractor"], given["assignee"]
        membership = case_services.require_member(by)
        municipality = office.municipality
        if not permissions.can_open_case(membership) or not (
            self._serves(membership.contractor, municipality)
            if membership.role == Role.CONTRACTOR
            else membership.municipality_id == municipality.pk
        ):  # permissions.can_open_case_in
            raise NotCompiled
        reported_by_contractor = membership.role == Role.CONTRACTOR
        if reported_by_contractor:
            contractor, assignee = membership.contractor, None
        case_services._check_case_fields(
            {
                "kind": kind,
                "discovered_on": discovered_on,
                "occurred_on": given["occurred_on"],
                "cause_category": given["cause_category"],
            }
        )
        self._check_organisations(office, contractor, assignee)
        reported_on = reported_on or case_services.today()
        case_services.not_in_future(reported_on, "reported_on")
        if reported_on < discovered_on:
            raise NotCompiled
        case = self.case = Case(
            municipality=municipality,
            kind=kind,
            summary=given["summary"].strip(),
            office=office,
            contractor=contractor,
            occurred_on=given["occurred_on"],
            discovered_on=discovered_on,
            discovery=given["discovery"].strip(),
            cause_category=given["cause_category"],
            cause_text=given["cause_text"].strip(),
            prevention=given["prevention"].strip(),
            assignee=assignee,
            reported_by_contractor=reported_by_contractor,
            created_by=by,
            stage_since=reported_on,
            opened_on=reported_on,
        )
        discovered_text, actor, text = case_services.opening_wording(case)
        lines = [
            self._line(on=discovered_on, actor=str(office), text=discovered_text,
                       action="case.discovered", by=by),
            self._line(on=reported_on, actor=actor, text=text, action="case.opened", by=by,
                       in_story=reported_by_contractor, public=reported_by_contractor),
        ]  # fmt: skip

        def run() -> None:
            case.reference = case_services._next_reference(office, discovered_on)
            if case.reference in self.publisher.taken(case.reference):
                # A case already has this number (a sequence behind its cases): the
                # replay's INSERT fails here, and so does this one, with the database's
                # own message, as this step (replay._Step.run).
                case.save(force_insert=True)
            self.publisher.cases.append(case)
            self.publisher.events.extend(lines)
            audit_log(
                "tadasu.case.opened",
                by=by,
                case=case,
                obj=case,
                data={"reference": case.reference, "kind": kind},
            )

        return run

    def _update(self, by: User, changes: dict) -> Run:
        case = self.case
        self._editor(by)
        fields = {name: getattr(case, name) for name in CASE_FIELDS} | changes
        case_services._check_case_fields(fields)
        if fields["office"].municipality_id != case.municipality_id:
            raise NotCompiled
        self._check_organisations(fields["office"], fields["contractor"], fields["assignee"])
        changed = []
        for name, value in changes.items():
            if isinstance(value, str):
                value = value.strip()
            if getattr(case, name) != value:
                if name == "contractor":
                    raise NotCompiled  # the city's money rows move with it (handovers)
                setattr(case, name, value)
                changed.append(name)
        if not changed:
            return nothing
        data = {"fields": sorted(changed)}

        def run() -> None:
            audit_log("tadasu.case.changed", by=by, case=case, obj=case, data=data)

        return run

    def _serves(self, contractor: Any, municipality: Any) -> bool:
        key = (contractor.pk, municipality.pk)
        serves = self.publisher.serves
        if key not in serves:
            serves[key] = contractor.municipalities.filter(pk=municipality.pk).exists()
        return serves[key]

    def _check_organisations(self, office: Any, contractor: Any, assignee: User | None) -> None:
        """cases.services._check_organisations, whether a contractor serves the city read
        once for the import."""
        municipality = office.municipality
        if not office.active:
            raise NotCompiled
        if contractor is not None and not self._serves(contractor, municipality):
            raise NotCompiled
        if assignee is not None:
            m = membership_of(assignee)
            if (
                m is None
                or m.role not in (Role.STAFF, Role.MANAGER)
                or m.municipality_id != municipality.pk
            ):
                raise NotCompiled

    def _check_party(self, fields: dict, party: Party | None = None) -> None:
        """cases.services._check_party, with the case's parties as they stand in memory."""
        label = fields.get("label", "").strip()
        if not label:
            raise NotCompiled
        clash = self.parties.get(label)
        if clash is not None and clash is not party:
            raise NotCompiled
        if fields.get("identified") and not fields.get("name", "").strip():
            raise NotCompiled
        if not fields.get("identified") and not fields.get("identification_note", "").strip():
            raise NotCompiled
        self._event_date(fields.get("identified_on"))

    def _party_add(self, by: User, given: dict) -> Run:
        self._editor(by)
        fields = case_services._clean_party_fields(given)
        self._check_party(fields)
        if not fields["identified"]:
            fields.update(dict.fromkeys(PERSONAL_FIELDS, ""), identified_on=None)
        party = bulk.new(Party, case=self.case, **fields)
        case_services._set_search_key(party)
        self.parties[party.label] = party
        # As added: a later edit of this case changes the row (built whole before any of it
        # is written), never what this entry says.
        data = {"label": party.label, "identified": party.identified}

        def run() -> None:
            self.publisher.parties.append(party)
            audit_log("tadasu.party.added", by=by, case=self.case, obj=party, data=data)

        return run

    def _party_update(self, party: Party, by: User, changes: dict) -> Run:
        case = self.case
        self._editor(by)
        was_identified = party.identified
        fields = {name: getattr(party, name) for name in PARTY_FIELDS} | (
            case_services._clean_party_fields(changes)
        )
        if was_identified and not fields["identified"]:
            raise NotCompiled
        self._check_party(fields, party)
        newly_identified = fields["identified"] and not was_identified
        if newly_identified and fields["identified_on"] is None:
            fields["identified_on"] = case_services.today()
        changed = [name for name in PARTY_FIELDS if getattr(party, name) != fields[name]]
        before = {name: case_services._masked(name, getattr(party, name)) for name in changed}
        old_label = party.label
        for name in changed:
            setattr(party, name, fields[name])
        if "label" in changed:
            del self.parties[old_label]
            self.parties[party.label] = party
        runs = []
        if changed:
            if {"name", "name_kana"} & set(changed):
                case_services._set_search_key(party)
            data = {
                "label": party.label,
                "fields": sorted(changed),
                "changes": {
                    n: [before[n], case_services._masked(n, fields[n])] for n in sorted(changed)
                },
            }

            def changed_run(data: dict = data) -> None:
                audit_log("tadasu.party.changed", by=by, case=case, obj=party, data=data)

            runs.append(changed_run)
        if newly_identified:
            with case_services.japanese():
                text = _("%(label)s was identified.") % {"label": party.label}
            line = self._line(
                on=party.identified_on,
                actor=str(case.municipality),
                text=text,
                action="party.identified",
                by=by,
            )
            runs.append(lambda: self.publisher.events.append(line))
        return together(runs)

    def _timeline(self, by: User, *, on: date, actor: str, text: str, public: bool) -> Run:
        self._editor(by)
        if on is None:
            raise NotCompiled
        self._event_date(on)
        if not actor.strip() or not text.strip() or len(text.strip()) > TIMELINE_TEXT_MAX:
            raise NotCompiled
        event = self._line(
            on=on, actor=actor.strip(), text=text.strip(), action="", by=by, public=bool(public)
        )
        given_public = event.public  # the entry says what the service saw, before any reset

        def run() -> None:
            self.publisher.events.append(event)
            audit_log(
                "tadasu.timeline.added",
                by=by,
                case=self.case,
                obj=event,
                data={"public": given_public},
            )

        return run

    # -- helpers -------------------------------------------------------------------------

    def _line(self, **values: Any) -> TimelineEvent:
        """cases.services.add_timeline, in memory."""
        public = values.pop("public", None)
        action = values["action"]
        event = bulk.new(
            TimelineEvent,
            case=self.case,
            occurred_on=values["on"],
            actor=values["actor"],
            text=values["text"],
            action=action,
            created_by=values["by"],
            in_story=values.get("in_story", True),
            public=case_services.public_by_default(action) if public is None else public,
        )
        self.events.append(event)
        return event

    def _finish(self) -> None:
        """The screen every save passes (cases/screening.py), on the rows as they end (a
        value is written blank or as it ends, never otherwise), and the replay's closing
        check (replay._CaseReplay.verify) on them."""
        case, raw = self.case, self.replay.raw
        requests = [contact for contact, _ in self.contacts.values()]
        # What refresh_waits leaves after the case's last request or answer.
        case.waits_until, case.waiting_since = deadlines.waits_from(requests)
        rows = (
            case,
            *self.parties.values(),
            *self.links.values(),
            *requests,
            *self.agreements,
            *self.visits,
            *self.letters,
            *self.entries,
            *self.events,
        )
        for row in rows:
            text, names = screening._SCREENED.get(type(row), ((), ()))
            screening.screen({f: getattr(row, f) for f in text}, names=names)
            for attname, max_length in _bounded_columns(type(row)):
                # What the database would refuse on the replay's INSERT (PostgreSQL checks
                # a column's length; SQLite does not): the replay names it.
                value = getattr(row, attname)
                if isinstance(value, str) and len(value) > max_length:
                    raise NotCompiled
        self._publication()
        replay = self.replay
        _text(raw, "stage")
        replay._compare(raw, case_fields(case), skip=("reference",))
        if raw.get("plans"):
            raise NotCompiled
        for item in raw["parties"]:
            label = _text(item, "label")
            _int(item, "balance")
            party = self.parties[label]
            replay._compare(item, party_fields(party, self.balance(party)))
        if len(self.parties) != len(raw["parties"]):
            raise NotCompiled

    def _publication(self) -> None:
        """replay._CaseReplay._publication, on the lines in memory."""
        wanted: dict[tuple[str, str, str], list[bool]] = {}
        for event in self.replay.raw.get("timeline") or []:
            if isinstance(event, dict) and "public" in event:
                flag = _bool(event, "public", True)
                key = (str(event.get("action", "")), str(event.get("on")), str(event.get("text")))
                wanted.setdefault(key, []).append(flag)
        for event in self.events:
            flags = wanted.get((event.action, event.occurred_on.isoformat(), event.text))
            if flags:
                event.public = flags.pop(0)
