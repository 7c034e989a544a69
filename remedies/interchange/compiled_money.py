"""The compiled path's money and apologies (compiled.py): compensation agreements, visits
(with the money handed over or collected there), apology letters made outside Tadasu, and
the ledger's postings (misallocations, payments, collections, re-grants, national
corrections, write-offs), each recorded at a seq of its own (replay.py, `agreement`,
`visit`, `letter`, `ledger item`). Checked and built in memory with the services' own rules
and wording (remedies.services.agreement_add, visit_record, letter_record; remedies.ledger's
posting services), in the order they apply them: the balances each check reads are the
case's own, kept here entry by entry.

The per-case totals (LedgerTotal) are added up here as ledger._keep_total moves them, and
the municipality's money rows (CityLedgerTotal) are moved once per batch by the publisher
(compiled.py) with what the case's entries moved. A reversal, a letter issued as a document
and its deliveries are left to the replay."""

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from cases import bulk, permissions
from cases import services as case_services
from cases.audit import audit_log
from cases.labels import is_choice
from cases.models import CaseKind, DataKind, Party, Role, TimelineEvent, User

from .. import ledger
from .. import services as remedies
from ..models import (
    MAX_AMOUNT,
    ApologyLetter,
    CompensationAgreement,
    EntryKind,
    LedgerEntry,
    LedgerTotal,
    Method,
    Purpose,
    Side,
    Visit,
)
from .compiled_base import NotCompiled, Run, together
from .rules import _bool, _date, _int, _list, _text, _value

_TOTALS = ledger.TOTAL_FIELDS


class CompiledMoney:
    """The money and apology actions of CompiledCase (compiled.py), which holds the state
    they use."""

    replay: Any
    publisher: Any
    case: Any
    parties: dict[str, Party]
    links: dict[int, Any]
    _editor: Callable[[User], None]  # lock_for_edit's checks on the case as it stands
    _line: Callable[..., TimelineEvent]  # add_timeline, in memory
    _party_named: Callable[[Any, str], Party]
    _event_date: Callable[[date | None], None]  # check_event_date

    def _money_state(self) -> None:
        self.balances: dict[int, int] = {}  # id(party) → its balance as it stands
        self.agreements: list[CompensationAgreement] = []
        self.visits: list[Visit] = []
        self.letters: list[ApologyLetter] = []
        self.entries: list[LedgerEntry] = []
        self.total: LedgerTotal | None = None  # created by the case's first posting
        # What the case's postings moved of its municipality's money row; None until one
        # moved anything (ledger._move_city_total creates the row only then).
        self.city_changes: dict[str, int] | None = None

    def balance(self, party: Party) -> int:
        return self.balances.get(id(party), 0)

    # -- agreements ---------------------------------------------------------------------

    def _agreement(self, item: dict) -> Run:
        """remedies.services.agreement_add."""
        case, replay = self.case, self.replay
        by = replay._by(item)
        payer, amount, form = _text(item, "payer"), _int(item, "amount"), _text(item, "form")
        agreed_on = _date(item, "agreed_on")
        party = self._party_named(item, "party") if _value(item, "party", None) else None
        note = _text(item, "note", "")
        self._editor(by)
        if payer not in (Side.CONTRACTOR, Side.MUNICIPALITY) or not is_choice(form, Method):
            raise NotCompiled
        if amount is None or amount <= 0 or amount > MAX_AMOUNT:
            raise NotCompiled
        self._required_date(agreed_on, "agreed_on")
        agreement = bulk.new(
            CompensationAgreement,
            case=case,
            payer=payer,
            amount=amount,
            form=form,
            agreed_on=agreed_on,
            party=party,
            note=(note or "").strip(),
            created_by=by,
        )
        self.agreements.append(agreement)
        text = remedies.agreement_text(case, amount=amount, form=form, payer=payer)
        actor = case_services.actor_of(by)
        lines = [self._line(on=agreed_on, actor=actor, text=text, action="agreement.added", by=by)]
        if agreement.note:
            lines.append(
                self._line(
                    on=agreed_on,
                    actor=actor,
                    text=agreement.note,
                    action="note.agreement.added",
                    by=by,
                )
            )
        data = {"payer": payer, "amount": amount, "form": form}

        def run() -> None:
            self.publisher.agreements.append(agreement)
            self.publisher.events.extend(lines)
            audit_log("tadasu.agreement.added", by=by, case=case, obj=agreement, data=data)

        return run

    # -- visits -------------------------------------------------------------------------

    def _visit(self, item: dict) -> Run:
        """remedies.services.visit_record, with the money handed over or collected."""
        case, replay = self.case, self.replay
        by = replay._by(item)
        party = self._party_named(item, "party")
        visited_on = _date(item, "visited_on")
        place, purpose = _text(item, "place"), _text(item, "purpose")
        apologised = _bool(item, "apologised", True)
        city_attendees = _text(item, "city_attendees", "")
        contractor_attendees = _text(item, "contractor_attendees", "")
        outcome = _text(item, "outcome", "")
        handed_over = _int(item, "handed_over", 0) or 0
        hand_over_side = _text(item, "hand_over_side", "")
        hand_over_method = _text(item, "hand_over_method", "")
        collected = _int(item, "collected", 0) or 0
        collected_by = _text(item, "collected_by", "")
        collection_method = _text(item, "collection_method", "")
        membership = case_services.require_member(by)
        if not permissions.can_record_visit(membership, case):
            raise NotCompiled
        self._required_date(visited_on, "visited_on")
        if not place.strip() or not is_choice(purpose, Purpose):
            raise NotCompiled
        place = place.strip()
        if handed_over and collected:
            raise NotCompiled
        if purpose == Purpose.HAND_OVER and not handed_over:
            raise NotCompiled
        if purpose == Purpose.COLLECTION and not collected:
            raise NotCompiled
        if handed_over < 0 or collected < 0:
            raise NotCompiled
        side = Side.CONTRACTOR if membership.role == Role.CONTRACTOR else Side.MUNICIPALITY
        if side == Side.CONTRACTOR and any(
            value and value != Side.CONTRACTOR for value in (hand_over_side, collected_by)
        ):
            raise NotCompiled
        visit = bulk.new(
            Visit,
            case=case,
            party=party,
            visited_on=visited_on,
            place=place,
            purpose=purpose,
            apologised=bool(apologised),
            city_attendees=city_attendees.strip(),
            contractor_attendees=contractor_attendees.strip(),
            outcome=outcome.strip(),
            recorded_by_side=side,
            created_by=by,
        )
        self.visits.append(visit)
        runs = []
        if handed_over:
            runs.append(
                self._payment_entry(
                    party,
                    handed_over,
                    side=hand_over_side or side,
                    method=hand_over_method or Method.CASH,
                    on=visited_on,
                    by=by,
                    note="",
                    visit=visit,
                )
            )
        if collected:
            runs.append(
                self._collection_entry(
                    party,
                    collected,
                    side=collected_by or side,
                    method=collection_method or Method.CASH,
                    on=visited_on,
                    by=by,
                    note="",
                    visit=visit,
                )
            )
        text = remedies.visit_text(
            party=party,
            place=place,
            purpose=purpose,
            apologised=apologised,
            handed_over=handed_over,
            collected=collected,
        )
        line = self._line(
            on=visited_on,
            actor=case_services.actor_of(by),
            text=visit.outcome or text,
            action="visit.recorded",
            by=by,
        )
        data = {
            "party": party.label,
            "purpose": purpose,
            "handed_over": handed_over,
            "collected": collected,
        }

        def written() -> None:
            self.publisher.visits.append(visit)

        def recorded() -> None:
            self.publisher.events.append(line)
            audit_log("tadasu.visit.recorded", by=by, case=case, obj=visit, data=data)

        return together([written, *runs, recorded])

    # -- letters ------------------------------------------------------------------------

    def _letter(self, item: dict) -> Run:
        """remedies.services.letter_record: a letter made outside Tadasu. One issued as a
        document (and its deliveries) is left to the replay."""
        case, replay = self.case, self.replay
        sent_on, note = _date(item, "sent_on"), _text(item, "note", "")
        if (
            _text(item, "delivery", "")
            or _list(item, "deliveries")
            or _value(item, "document", None) is not None
        ):
            raise NotCompiled
        by = replay._by(item)
        party = self._party_named(item, "party")
        self._editor(by)
        self._required_date(sent_on, "sent_on")
        if not party.identified:
            raise NotCompiled
        letter = bulk.new(
            ApologyLetter,
            case=case,
            party=party,
            sent_on=sent_on,
            note=(note or "").strip(),
            created_by=by,
        )
        self.letters.append(letter)
        text = remedies.letter_text(party)
        line = self._line(
            on=sent_on, actor=case_services.actor_of(by), text=text, action="letter.sent", by=by
        )
        data = {"party": party.label}

        def run() -> None:
            self.publisher.letters.append(letter)
            self.publisher.events.append(line)
            audit_log("tadasu.letter.recorded", by=by, case=case, obj=letter, data=data)

        return run

    # -- the ledger ---------------------------------------------------------------------

    def _posting(self, item: dict) -> Run:
        """actions._CaseActions._posting: the ledger service of the item's kind."""
        kind, by, on = _text(item, "kind"), self.replay._by(item), _date(item, "on")
        note = _text(item, "note", "")
        if kind == EntryKind.MISALLOCATION:
            owed, holder = self._party_named(item, "owed"), self._party_named(item, "holder")
            return self._misallocation(owed, holder, _int(item, "amount"), on, by, note)
        if kind in (EntryKind.PAYMENT, EntryKind.COLLECTION):
            return self._payment_or_collection(
                kind,
                self._party_named(item, "party"),
                _int(item, "amount"),
                side=_text(item, "side"),
                method=_text(item, "method"),
                on=on,
                by=by,
                note=note,
            )
        if kind == EntryKind.NATIONAL_CORRECTION:
            holder, owed = self._party_named(item, "holder"), self._party_named(item, "owed")
            return self._national_correction(holder, owed, _int(item, "amount"), on, by, note)
        if kind == EntryKind.REGRANT:
            party = self._party_named(item, "party")
            return self._regrant(party, _int(item, "amount"), on, by, note)
        if kind == EntryKind.WRITE_OFF:
            party = self._party_named(item, "party")
            return self._write_off(party, _text(item, "reason"), on, by)
        raise NotCompiled  # a reversal, or no kind of entry: the replay

    def _begin(self, by: User, on: date | None) -> None:
        """ledger._begin."""
        self._editor(by)
        if on is None:
            raise NotCompiled
        self._event_date(on)

    def _misallocation(
        self, owed: Party, holder: Party, amount: int, on: date, by: User, note: str
    ) -> Run:
        """ledger.ledger_post_misallocation."""
        self._begin(by, on)
        if owed is holder:
            raise NotCompiled
        amount = ledger._check_amount(amount)
        group = uuid.uuid4()
        runs = [
            self._post(owed, EntryKind.MISALLOCATION, amount, on=on, by=by, note=note, group=group),
            self._post(
                holder, EntryKind.MISALLOCATION, -amount, on=on, by=by, note=note, group=group
            ),
        ]
        text = ledger.misallocation_text(amount, owed=owed, holder=holder)
        return together([*runs, self._record(on, text, "ledger.misallocation", by, note)])

    def _payment_or_collection(
        self,
        kind: str,
        party: Party,
        amount: int,
        *,
        side: str,
        method: str,
        on: date,
        by: User,
        note: str,
    ) -> Run:
        """ledger.ledger_post_payment, ledger_post_collection."""
        self._begin(by, on)
        if kind == EntryKind.PAYMENT:
            run = self._payment_entry(
                party, amount, side=side, method=method, on=on, by=by, note=note, visit=None
            )
            text = ledger.payment_text(self.case, amount, party=party, method=method, side=side)
        else:
            run = self._collection_entry(
                party, amount, side=side, method=method, on=on, by=by, note=note, visit=None
            )
            text = ledger.collection_text(amount, party=party, method=method)
        return together([run, self._record(on, text, f"ledger.{kind}", by, note)])

    def _payment_entry(self, party: Party, amount: int, **values: Any) -> Run:
        """ledger.post_payment_entry."""
        amount = ledger._check_amount(amount)
        if values["side"] not in (Side.CONTRACTOR, Side.MUNICIPALITY):
            raise NotCompiled
        if not is_choice(values["method"], Method) or values["method"] == Method.POINTS:
            raise NotCompiled
        if amount > self.balance(party):
            raise NotCompiled
        return self._post(party, EntryKind.PAYMENT, -amount, **values)

    def _collection_entry(self, party: Party, amount: int, **values: Any) -> Run:
        """ledger.post_collection_entry."""
        amount = ledger._check_amount(amount)
        if values["side"] not in (Side.CONTRACTOR, Side.MUNICIPALITY):
            raise NotCompiled
        if not is_choice(values["method"], Method) or values["method"] == Method.POINTS:
            raise NotCompiled
        if amount > -self.balance(party):
            raise NotCompiled
        return self._post(party, EntryKind.COLLECTION, amount, **values)

    def _regrant(self, party: Party, amount: int, on: date, by: User, note: str) -> Run:
        """ledger.ledger_post_regrant."""
        self._begin(by, on)
        amount = ledger._check_amount(amount)
        if amount > self.balance(party):
            raise NotCompiled
        run = self._post(
            party,
            EntryKind.REGRANT,
            -amount,
            side=Side.NATIONAL,
            method=Method.POINTS,
            on=on,
            by=by,
            note=note,
        )
        text = ledger.regrant_text(amount, party=party)
        return together([run, self._record(on, text, "ledger.regrant", by, note)])

    def _national_correction(
        self, holder: Party, owed: Party, amount: int, on: date, by: User, note: str
    ) -> Run:
        """ledger.ledger_post_national_correction."""
        self._begin(by, on)
        points = self.case.kind == CaseKind.CASHLESS_LINK or any(
            link.data_kind == DataKind.CASHLESS_ACCOUNT for link in self.links.values()
        )  # ledger.points_involved
        if not points or owed is holder:
            raise NotCompiled
        amount = ledger._check_amount(amount)
        held, owed_amount = -self.balance(holder), self.balance(owed)
        if held <= 0 or owed_amount <= 0 or amount > held or amount > owed_amount:
            raise NotCompiled
        note = (note or "").strip()
        group = uuid.uuid4()
        runs = [
            self._post(
                party, EntryKind.NATIONAL_CORRECTION, delta, on=on, by=by, note=note, group=group
            )
            for party, delta in ((holder, amount), (owed, -amount))
        ]
        text = ledger.national_correction_text(amount, holder=holder, owed=owed)
        return together([*runs, self._record(on, text, "ledger.national_correction", by, note)])

    def _write_off(self, party: Party, reason: str, on: date, by: User) -> Run:
        """ledger.ledger_write_off."""
        self._begin(by, on)
        if not permissions.is_manager_of(case_services.require_member(by), self.case):
            raise NotCompiled
        if not reason.strip():
            raise NotCompiled
        balance = self.balance(party)
        if balance == 0:
            raise NotCompiled
        group = uuid.uuid4() if abs(balance) > MAX_AMOUNT else None
        runs, remaining = [], -balance
        while remaining:
            part = max(-MAX_AMOUNT, min(MAX_AMOUNT, remaining))
            runs.append(
                self._post(
                    party,
                    EntryKind.WRITE_OFF,
                    part,
                    on=on,
                    by=by,
                    note=reason.strip(),
                    group=group,
                    approved_by=by,
                )
            )
            remaining -= part
        text = ledger.write_off_text(party, balance=balance, reason=reason)
        runs.append(self._record(on, text, "ledger.write_off", by, in_story=False))
        return together(runs)

    def _post(
        self,
        party: Party,
        kind: str,
        delta: int,
        *,
        on: date,
        by: User,
        side: str = "",
        method: str = "",
        note: str = "",
        group: uuid.UUID | None = None,
        visit: Visit | None = None,
        approved_by: User | None = None,
    ) -> Run:
        """ledger._post: the entry, its audit entry, and the totals it moves
        (ledger._keep_total)."""
        case = self.case
        before = self.balance(party)
        entry = bulk.new(
            LedgerEntry,
            case=case,
            party=party,
            kind=kind,
            delta=delta,
            side=side,
            method=method,
            on=on,
            note=note,
            group=group,
            visit=visit,
            approved_by=approved_by,
            created_by=by,
        )
        self.entries.append(entry)
        after = self.balances[id(party)] = before + delta
        changes = {
            "owed": max(after, 0) - max(before, 0),
            "held": max(-after, 0) - max(-before, 0),
        }
        if side and kind in ledger.COST_KINDS:
            changes[ledger.COST_FIELDS[side]] = -delta
        first = self.total is None
        if first:
            self.total = bulk.new(LedgerTotal, case=case, **dict.fromkeys(_TOTALS, 0))
        total = self.total
        changes = {name: change for name, change in changes.items() if change}
        for name, change in changes.items():
            setattr(total, name, getattr(total, name) + change)
        if changes:
            city = self.city_changes = self.city_changes or dict.fromkeys(_TOTALS, 0)
            for name, change in changes.items():
                city[name] += change
        data = {"party": party.label, "delta": delta, "side": side, "method": method}

        def run() -> None:
            publisher = self.publisher
            publisher.entries.append(entry)
            audit_log(f"tadasu.ledger.{kind}", by=by, case=case, obj=entry, data=data)
            if first:
                publisher.totals.append(total)
                if self.city_changes is not None:
                    # The city's row moves by the case's every posting at once: nothing
                    # reads it before the import commits.
                    publisher.move_city_total(case, self.city_changes)

        return run

    def _record(
        self, on: date, text: str, action: str, by: User, note: str = "", in_story: bool = True
    ) -> Run:
        """ledger._record: the posting's 経過 line, and the clerk's note as a line of its own."""
        actor = case_services.actor_of(by)
        lines = [self._line(on=on, actor=actor, text=text, action=action, by=by, in_story=in_story)]
        if note.strip():
            lines.append(
                self._line(on=on, actor=actor, text=note.strip(), action="note." + action, by=by)
            )
        return lambda: self.publisher.events.extend(lines)

    def _required_date(self, value: date | None, field: str) -> None:
        """remedies.services._required_date."""
        if value is None:
            raise NotCompiled
        self._event_date(value)
