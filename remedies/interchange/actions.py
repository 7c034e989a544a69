"""What each item of a case replays as: one service call, made as the user who took it, so
every permission and guard applies again."""

import base64
import binascii
from typing import Any

from cases import links as link_services
from cases import services as case_services
from cases.models import Case, Party, User
from cases.services import CASE_FIELDS, PARTY_FIELDS

from .. import ledger, plans
from .. import services as remedies
from ..documents.services import PDF_MAX_BYTES, document_record_imported
from ..errors import RemedyError
from ..models import AgencyContact, ApologyLetter, Document, EntryKind, LedgerEntry, RepaymentPlan
from ..workflow import case_transition
from .rules import (
    _EMPTY,
    CONTACT_FIELDS,
    _bool,
    _date,
    _FieldError,
    _held_open,
    _int,
    _known_fields,
    _list,
    _quote,
    _References,
    _text,
    _value,
    case_field_placement,
    party_field_placement,
)


def _edit_orders(document: Any) -> list[tuple[int, list[str]]]:
    """The (seq, fields) of each edit of a case or party document."""
    return [
        (_int(u, "seq"), _list(u, "fields"))
        for u in _list(document, "updates")
        if isinstance(u, dict)
    ]


def _bounded(item: Any, name: str, top: int) -> int:
    """A whole number from 1 to `top` (what the column holds)."""
    value = _int(item, name)
    if not 1 <= value <= top:
        raise _FieldError(name, f"{value} is not between 1 and {top}")
    return value


def _held_back(values: dict, placed: list[list[str]]) -> dict:
    """The values to create with: a field a later edit sets stays blank until that edit."""
    later = {name for fields in placed for name in fields}
    return {
        name: (_EMPTY.get(name, "") if name in later else value) for name, value in values.items()
    }


class _CaseActions:
    """The item actions of _CaseReplay (replay.py), which sets the state they use."""

    raw: Any
    refs: _References
    values: dict
    opener: User
    case_pk: int | None
    case_read: Case | None
    contacts: dict[int, AgencyContact]
    postings: dict[int, list[LedgerEntry]]
    documents: dict[int, Document]
    letters: dict[int, ApologyLetter]
    plans: dict[int, RepaymentPlan]

    def _case(self) -> Case:
        # Read again after each action that writes the case's row (a stage step, an edit:
        # _Step.moves_case), since permissions read its stage and contractor; kept between
        # the others, which change nothing of it (each service locks and reads the row
        # afresh before it writes, and checks the user again on that row).
        if self.case_pk is None:
            # An item whose seq puts it before the case was opened.
            raise _FieldError("seq", "comes before the case is opened")
        if self.case_read is None or self.case_read.pk != self.case_pk:
            self.case_read = Case.objects.get(pk=self.case_pk)
        return self.case_read

    def _party(self, item: Any, field: str = "party") -> Party:
        label = _value(item, field)
        if not isinstance(label, str) or not label:
            raise _FieldError(field, "a person's label is required")
        party = Party.objects.filter(case_id=self.case_pk, label=label).first()
        if party is None:
            raise _FieldError(field, f"no party labelled {_quote(label)} at this point")
        return party

    def _by(self, item: Any) -> User:
        return self.refs.user(_value(item, "by"))

    def _case_placement(self) -> list[list[str]]:
        """The fields each edit of the case sets (read, never changed, by its callers: the
        opening and each edit ask, so it is worked out once a case)."""
        placed = self.__dict__.get("_placed_case")
        if placed is None:
            transitions = [
                (_int(t, "seq"), _value(t, "step"))
                for t in _list(self.raw, "transitions")
                if isinstance(t, dict)
            ]
            placed = self._placed_case = case_field_placement(
                self.raw, _edit_orders(self.raw), transitions, _held_open(self.opener)
            )
        return placed

    def _open(self, item: dict) -> None:
        given = _held_back(self.values, self._case_placement())
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
        """A party item's values and the fields each of its edits sets (read, never changed,
        by its callers: the addition and each edit ask, so worked out once a party)."""
        known = self.__dict__.setdefault("_party_values_of", {})
        if id(party) not in known:
            known[id(party)] = self._party_values_once(party)
        return known[id(party)]

    def _party_values_once(self, party: dict) -> tuple[dict, list[list[str]]]:
        values = {
            "label": _text(party, "label"),
            "identified": _bool(party, "identified", True),
            "identified_on": _date(party, "identified_on", optional=True),
        }
        for name in ("name", "name_kana", *CONTACT_FIELDS, "identification_note"):
            values[name] = _text(party, name, "")
        return values, party_field_placement(party, _edit_orders(party))

    def _party_add(self, item: dict) -> None:
        values, placed = self._party_values(item)
        given = _held_back(values, placed)
        # Added unidentified when a later edit identifies the person.
        given["identified"] = values["identified"] and not any("identified" in f for f in placed)
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
        # A correction with its way (corrected_how) and a manager's excuse are recorded by
        # their own services: with the link, or later at their own seq (*_recorded).
        recorded_apart = _value(item, "correction_recorded", None) is not None
        with_way = bool(_text(item, "corrected_how", ""))
        link = case_services.misregistration_add(
            case=self._case(),
            by=self._by(item),
            source=self._party(item, "source"),
            target=self._party(item, "target"),
            data_kind=_text(item, "data_kind"),
            registered_on=_date(item, "registered_on", optional=True),
            corrected_on=None
            if with_way or recorded_apart
            else _date(item, "corrected_on", optional=True),
            paid_through=_bool(item, "paid_through", False),
            note=_text(item, "note", ""),
        )
        self.links[_int(item, "seq")] = link
        if with_way and not recorded_apart:
            self._link_correction(item, item)
        if (
            _text(item, "uncorrectable_reason", "")
            and _value(item, "excuse_recorded", None) is None
        ):
            self._link_excuse(item, item, by_field="excused_by")

    def _recorded_link(self, link: dict):
        found = self.links.get(_int(link, "seq"))
        if found is None:
            raise _FieldError("seq", "the link must be recorded before its correction")
        return found

    def _link_correction(self, link: dict, item: dict) -> None:
        link_services.link_correct(
            link=self._recorded_link(link),
            by=self._by(item),
            corrected_on=_date(link, "corrected_on", optional=True),
            corrected_how=_text(link, "corrected_how", ""),
            correction_note=_text(link, "correction_note", ""),
        )

    def _link_excuse(self, link: dict, item: dict, by_field: str = "by") -> None:
        link_services.link_excuse(
            link=self._recorded_link(link),
            by=self.refs.user(_value(item, by_field), by_field),
            reason=_text(link, "uncorrectable_reason", ""),
            on=_date(link, "excused_on", optional=True),
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
        sent_on, note = _date(item, "sent_on"), _text(item, "note", "")
        delivery = _text(item, "delivery", "")
        deliveries = _list(item, "deliveries")
        if _value(item, "document", None) is None:
            if delivery or deliveries:
                raise _FieldError("delivery", "only a letter issued as a document has one")
            letter = remedies.letter_record(
                case=self._case(), by=self._by(item), party=self._party(item),
                sent_on=sent_on, note=note,
            )  # fmt: skip
        else:
            # The record that issuing the お詫び状 made at the source, for the document the
            # file brought in at that seq; dated the document's date until a delivery.
            document = self._document_at(item)
            party = self._party(item)
            if document.party_id != party.pk:
                raise _FieldError(
                    "party", f"the document is addressed to {_quote(document.party.label)}"
                )
            if note:
                raise _FieldError("note", "a letter issued as a document has no note")
            if not deliveries and (sent_on != document.dated or delivery):
                raise _FieldError(
                    "sent_on", "a letter whose delivery is not recorded bears its document's date"
                )
            letter = remedies.letter_for_imported_document(document=document, by=self._by(item))
        self.letters[_int(item, "seq")] = letter

    def _document_at(self, item: dict) -> Document:
        seq = _int(item, "document")
        document = self.documents.get(seq)
        if document is None:
            raise _FieldError(
                "document", f"seq {seq} is no document of this case recorded before the letter"
            )
        return document

    def _letter_delivery(self, letter: dict, item: dict) -> None:
        record = self.letters.get(_int(letter, "seq"))
        if record is None:
            raise _FieldError("seq", "the letter must be recorded before its delivery")
        record = remedies.letter_delivery_record(
            letter=record,
            by=self._by(item),
            sent_on=_date(item, "sent_on"),
            delivery=_text(item, "delivery"),
        )
        deliveries = _list(letter, "deliveries")
        if item is deliveries[-1]:  # the last one leaves the letter as the file has it
            for name, value in (
                ("sent_on", record.sent_on.isoformat()),
                ("delivery", record.delivery),
            ):
                if _value(letter, name) != value:
                    raise _FieldError(
                        name,
                        f"the letter says {_quote(_value(letter, name))}, but its last delivery "
                        f"leaves {_quote(value)}",
                    )

    def _plan(self, item: dict) -> None:
        rows = []
        instalments = _list(item, "instalments")
        for n, instalment in enumerate(instalments, start=1):
            try:
                number = _int(instalment, "number")
                if number != n:
                    raise _FieldError(
                        "number", f"{number} is not {n} (instalments are numbered 1, 2, …)"
                    )
                rows.append((_date(instalment, "due_on"), _int(instalment, "amount")))
            except _FieldError as error:
                where = f"instalment {n}" + (f", {_quote(error.field)}" if error.field else "")
                raise _FieldError("instalments", f"{where}: {error.reason}") from None
        try:
            plan = plans.plan_agree(
                case=self._case(),
                party=self._party(item),
                agreed_on=_date(item, "agreed_on"),
                instalments=rows,
                by=self._by(item),
                note=_text(item, "note", ""),
            )
        except RemedyError as error:
            # The form's own field names (amount_3, due_3, schedule) as the file has them.
            field = error.field or ""
            for prefix, name in (("amount_", "amount"), ("due_", "due_on")):
                if field.startswith(prefix):
                    error.message = f'instalment {field[len(prefix) :]}, "{name}": {error.message}'
                    error.field = "instalments"
            if field == "schedule":
                error.field = "instalments"
            raise
        self.plans[_int(item, "seq")] = plan

    def _posting(self, item: dict) -> None:
        kind, case, by, on = _text(item, "kind"), self._case(), self._by(item), _date(item, "on")
        if kind == EntryKind.MISALLOCATION:
            posted = ledger.ledger_post_misallocation(
                case=case,
                owed=self._party(item, "owed"),
                holder=self._party(item, "holder"),
                amount=_int(item, "amount"),
                on=on,
                by=by,
                note=_text(item, "note", ""),
            )
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
        elif kind == EntryKind.NATIONAL_CORRECTION:
            posted = ledger.ledger_post_national_correction(
                case=case,
                holder=self._party(item, "holder"),
                owed=self._party(item, "owed"),
                amount=_int(item, "amount"),
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
            public=_bool(item, "public", True),
        )

    def _document(self, item: dict) -> None:
        pdf = _value(item, "pdf", None)
        if pdf is not None:
            if not isinstance(pdf, str):
                raise _FieldError("pdf", "must be the PDF in base64 (text)")
            if len(pdf) > (PDF_MAX_BYTES + 2) // 3 * 4:
                raise _FieldError("pdf", f"is larger than {PDF_MAX_BYTES // (1024 * 1024)} MB")
            try:
                pdf = base64.b64decode(pdf, validate=True)
            except (binascii.Error, ValueError):
                raise _FieldError("pdf", "is not base64") from None
        number = _value(item, "number")
        if number is not None:
            number = _bounded(item, "number", 2**31 - 1)
        approved_by = _value(item, "approved_by", None)
        self.documents[_int(item, "seq")] = document_record_imported(
            case=self._case(),
            by=self._by(item),
            kind=_text(item, "kind"),
            fiscal_year=_bounded(item, "fiscal_year", 32767),
            number=number,
            number_text=_text(item, "number_text", ""),
            version=_bounded(item, "version", 32767),
            dated=_date(item, "dated"),
            party=self._party(item) if _value(item, "party", None) is not None else None,
            approved_by=self.refs.user(approved_by, "approved_by") if approved_by else None,
            sha256=_text(item, "sha256"),
            pdf=pdf,
        )
