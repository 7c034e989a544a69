"""Writes for remedies other than the ledger: agency contacts, agreements, visits, letters.

Same shape as cases/services.py: one transaction, permission, row lock on the case,
validation, then the rows, the 経過 entry and the audit entry together.
"""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from cases import permissions
from cases.audit import audit_log
from cases.deadlines import refresh_waits
from cases.labels import is_choice
from cases.models import Agency, Case, Party, Role, TimelineEvent, User
from cases.services import (
    actor_of,
    add_timeline,
    check_event_date,
    japanese,
    lock_case,
    lock_for_edit,
    require_member,
)
from cases.wareki import wareki, yen

from . import ledger
from .errors import RemedyError
from .models import (
    MAX_AMOUNT,
    AgencyContact,
    ApologyLetter,
    Channel,
    CompensationAgreement,
    Delivery,
    Document,
    DocumentKind,
    DocumentStatus,
    Method,
    Purpose,
    Side,
    Visit,
)


def _required_text(value: str, field: str, message: str) -> str:
    if not (value or "").strip():
        raise RemedyError(message, field=field)
    return value.strip()


def _required_date(case: Case, value: date | None, field: str) -> date:
    if value is None:
        raise RemedyError(_("Enter the date."), field=field)
    check_event_date(case, value, field)
    return value


def _check_party(case: Case, party: Party | None, field: str = "party") -> Party:
    if party is None or party.case_id != case.pk:
        raise RemedyError(_("Choose a person of this case."), field=field)
    return party


@transaction.atomic
def contact_add(
    *,
    case: Case,
    by: User,
    agencies: list[Agency],
    contacted_on: date,
    channel: str,
    request: str,
    made_by: str = Side.MUNICIPALITY,
    answered_on: date | None = None,
    answer: str = "",
) -> AgencyContact:
    """Record a report or question to agencies; the answer may follow later."""
    case = lock_for_edit(case, by)
    agencies = list(agencies or [])
    request = check_contact(
        case,
        agencies=agencies,
        contacted_on=contacted_on,
        channel=channel,
        made_by=made_by,
        request=request,
    )
    contact = AgencyContact.objects.create(
        municipality_id=case.municipality_id,
        case=case,
        made_by=made_by,
        contacted_on=contacted_on,
        channel=channel,
        request=request,
        created_by=by,
    )
    contact.agencies.set(agencies)
    add_timeline(
        case,
        on=contacted_on,
        actor=contact_actor(case, made_by),
        text=request,
        action="contact.made",
        by=by,
    )
    audit_log(
        "tadasu.contact.added",
        by=by,
        case=case,
        obj=contact,
        data={"agencies": [a.name for a in agencies]},
    )
    if answered_on is not None or (answer or "").strip():
        _answer(case, contact, by=by, answered_on=answered_on, answer=answer)
    refresh_waits([case.pk])  # the deadline filters read the case's waits from it
    return contact


# contact_add and contact_answer's rules and wording on what is in hand: the case-file
# import's compiled path (remedies/interchange/compiled.py) applies them to a case built in
# memory, so the two never differ.


def check_contact(
    case: Case,
    *,
    agencies: list[Agency],
    contacted_on: date | None,
    channel: str,
    made_by: str,
    request: str,
) -> str:
    """The request contact_add would record, checked; returns its text as kept."""
    if not agencies:
        raise RemedyError(_("Choose at least one agency."), field="agencies")
    _required_date(case, contacted_on, "contacted_on")
    if not is_choice(channel, Channel):
        raise RemedyError(_("Choose how the agency was contacted."), field="channel")
    if made_by not in (Side.MUNICIPALITY, Side.CONTRACTOR):
        raise RemedyError(_("Choose who made the contact."), field="made_by")
    return _required_text(request, "request", _("Enter what was reported or asked."))


def contact_actor(case: Case, made_by: str) -> str:
    """Who the 経過 says made a contact: the desk's contractor, or the city."""
    return str(
        case.contractor if made_by == Side.CONTRACTOR and case.contractor else case.municipality
    )


def check_answer(
    case: Case, contact: AgencyContact, *, answered_on: date | None, answer: str
) -> str:
    """The answer _answer would record on `contact`, checked; returns its text as kept."""
    answered_on = _required_date(case, answered_on, "answered_on")
    if answered_on < contact.contacted_on:
        raise RemedyError(_("The answer cannot come before the request."), field="answered_on")
    return _required_text(answer, "answer", _("Enter the agency's answer."))


def _answer(
    case: Case, contact: AgencyContact, *, by: User, answered_on: date | None, answer: str
) -> AgencyContact:
    answer = check_answer(case, contact, answered_on=answered_on, answer=answer)
    contact.answered_on, contact.answer = answered_on, answer
    contact.save(update_fields=["answered_on", "answer"])
    names = "・".join(a.name for a in contact.agencies.all())
    add_timeline(case, on=answered_on, actor=names, text=answer, action="contact.answered", by=by)
    audit_log("tadasu.contact.answered", by=by, case=case, obj=contact)
    return contact


@transaction.atomic
def contact_answer(
    *, contact: AgencyContact, by: User, answered_on: date, answer: str
) -> AgencyContact:
    """Record the agency's answer to an earlier request."""
    case = lock_for_edit(contact.case, by)
    contact = AgencyContact.objects.select_for_update().get(pk=contact.pk, case=case)
    if contact.answered:
        raise RemedyError(_("This request already has an answer."), field="answer")
    contact = _answer(case, contact, by=by, answered_on=answered_on, answer=answer)
    refresh_waits([case.pk])  # the deadline filters read the case's waits from it
    return contact


@transaction.atomic
def agreement_add(
    *,
    case: Case,
    by: User,
    payer: str,
    amount: int,
    form: str,
    agreed_on: date,
    party: Party | None = None,
    note: str = "",
) -> CompensationAgreement:
    """Record what was agreed with the contractor: who pays, how much, in what form."""
    case = lock_for_edit(case, by)
    if payer not in (Side.CONTRACTOR, Side.MUNICIPALITY):
        raise RemedyError(_("Choose who pays."), field="payer")
    if amount is None or amount <= 0 or amount > MAX_AMOUNT:
        raise RemedyError(
            _("Enter an amount between 1 yen and %(max)s.") % {"max": yen(MAX_AMOUNT)},
            field="amount",
        )
    if not is_choice(form, Method):
        raise RemedyError(_("Choose the form of the compensation."), field="form")
    agreed_on = _required_date(case, agreed_on, "agreed_on")
    if party is not None:
        _check_party(case, party)
    agreement = CompensationAgreement.objects.create(
        case=case,
        payer=payer,
        amount=amount,
        form=form,
        agreed_on=agreed_on,
        party=party,
        note=(note or "").strip(),
        created_by=by,
    )
    text = agreement_text(case, amount=amount, form=form, payer=payer)
    add_timeline(case, on=agreed_on, actor=actor_of(by), text=text, action="agreement.added", by=by)
    if agreement.note:
        # The clerk's note is a line of its own, internal until published.
        add_timeline(
            case,
            on=agreed_on,
            actor=actor_of(by),
            text=agreement.note,
            action="note.agreement.added",
            by=by,
        )
    audit_log(
        "tadasu.agreement.added",
        by=by,
        case=case,
        obj=agreement,
        data={"payer": payer, "amount": amount, "form": form},
    )
    return agreement


def agreement_text(case: Case, *, amount: int, form: str, payer: str) -> str:
    """The 経過 line of an agreement (the import's compiled path writes it too)."""
    with japanese():
        return _("Compensation agreed: %(amount)s in %(form)s, paid by the %(payer)s.") % {
            "amount": yen(amount),
            "form": Method(form).label,
            "payer": ledger.side_word(payer, case.municipality),
        }


@transaction.atomic
def visit_record(
    *,
    case: Case,
    by: User,
    party: Party,
    visited_on: date,
    place: str,
    purpose: str,
    apologised: bool = True,
    city_attendees: str = "",
    contractor_attendees: str = "",
    outcome: str = "",
    handed_over: int = 0,
    hand_over_side: str = "",
    hand_over_method: str = "",
    collected: int = 0,
    collected_by: str = "",
    collection_method: str = "",
    expected_head: int | None = None,
) -> Visit:
    """Record a visit; money handed over or collected there is posted in the same transaction."""
    membership = require_member(by)
    # Checked before the lock for outsiders, and again on the locked row: the case may have
    # been closed since the form was loaded.
    if not permissions.can_record_visit(membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    case = lock_case(case)
    if not permissions.can_record_visit(membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    if expected_head is not None and ledger.ledger_head(case) != expected_head:
        raise RemedyError(
            _("This case was changed by someone else. Reload the page and check the ledger."),
            conflict=True,
        )
    _check_party(case, party)
    visited_on = _required_date(case, visited_on, "visited_on")
    place = _required_text(place, "place", _("Enter where the visit took place."))
    if not is_choice(purpose, Purpose):
        raise RemedyError(_("Choose the purpose of the visit."), field="purpose")
    handed_over, collected = handed_over or 0, collected or 0
    if handed_over and collected:
        raise RemedyError(
            _("Record a hand-over and a collection as two visits."), field="collected"
        )
    if purpose == Purpose.HAND_OVER and not handed_over:
        raise RemedyError(_("Enter the amount handed over."), field="handed_over")
    if purpose == Purpose.COLLECTION and not collected:
        raise RemedyError(_("Enter the amount collected."), field="collected")
    if handed_over < 0 or collected < 0:
        raise RemedyError(
            _("Enter an amount of at least 1 yen."),
            field="handed_over" if handed_over < 0 else "collected",
        )
    side = Side.CONTRACTOR if membership.role == Role.CONTRACTOR else Side.MUNICIPALITY
    if side == Side.CONTRACTOR:
        # Contractor staff book only what their own company paid or received: the city's
        # money is the city's to record.
        for field, value in (("hand_over_side", hand_over_side), ("collected_by", collected_by)):
            if value and value != Side.CONTRACTOR:
                raise RemedyError(
                    _("Contractor staff can record only their own company's payments."),
                    field=field,
                )
    visit = Visit.objects.create(
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
    try:
        if handed_over:
            ledger.post_payment_entry(
                case,
                party,
                handed_over,
                side=hand_over_side or side,
                method=hand_over_method or Method.CASH,
                on=visited_on,
                by=by,
                note="",
                visit=visit,
            )
        if collected:
            ledger.post_collection_entry(
                case,
                party,
                collected,
                side=collected_by or side,
                method=collection_method or Method.CASH,
                on=visited_on,
                by=by,
                note="",
                visit=visit,
            )
    except RemedyError as error:
        # The amount belongs to the visit form's own fields.
        if error.field == "amount":
            error.field = "handed_over" if handed_over else "collected"
        elif error.field == "side":
            error.field = "hand_over_side" if handed_over else "collected_by"
        elif error.field == "method":
            error.field = "hand_over_method" if handed_over else "collection_method"
        raise
    text = visit_text(
        party=party,
        place=place,
        purpose=purpose,
        apologised=apologised,
        handed_over=handed_over,
        collected=collected,
    )
    add_timeline(
        case,
        on=visited_on,
        actor=actor_of(by),
        text=visit.outcome or text,
        action="visit.recorded",
        by=by,
    )
    audit_log(
        "tadasu.visit.recorded",
        by=by,
        case=case,
        obj=visit,
        data={
            "party": party.label,
            "purpose": purpose,
            "handed_over": handed_over,
            "collected": collected,
        },
    )
    return visit


def visit_text(
    *,
    party: Party,
    place: str,
    purpose: str,
    apologised: bool,
    handed_over: int,
    collected: int,
) -> str:
    """The 経過 line of a visit when its outcome is not written (the import's compiled path
    writes it too)."""
    with japanese():
        parts = [
            _("Visited %(party)s at %(place)s (%(purpose)s).")
            % {"party": party.label, "place": place, "purpose": Purpose(purpose).label}
        ]
        if apologised:
            parts.append(_("Apologised."))
        if handed_over:
            parts.append(_("Handed over %(amount)s.") % {"amount": yen(handed_over)})
        if collected:
            parts.append(_("Collected %(amount)s.") % {"amount": yen(collected)})
        return "".join(str(p) for p in parts)


@transaction.atomic
def letter_record(
    *, case: Case, by: User, party: Party, sent_on: date, note: str = ""
) -> ApologyLetter:
    """Record that an apology letter made outside Tadasu was sent to a person. A お詫び状
    issued in Tadasu is recorded by issuing it (letter_for_issued_document)."""
    case = lock_for_edit(case, by)
    _check_party(case, party)
    sent_on = _required_date(case, sent_on, "sent_on")
    if not party.identified:
        raise RemedyError(_("A letter needs an identified person."), field="party")
    issued = (
        ApologyLetter.objects.filter(party=party, document__isnull=False)
        .select_related("document")
        .first()
    )
    if issued is not None:
        # One record per letter: the clerk records when the issued letter went out on that
        # letter, rather than entering it a second time.
        raise RemedyError(
            _(
                "The apology letter to %(party)s was issued in Tadasu (%(number)s) and is "
                "already recorded. Record when it was sent on that letter."
            )
            % {"party": party.label, "number": document_number(issued.document)},
            field="party",
        )
    letter = ApologyLetter.objects.create(
        case=case, party=party, sent_on=sent_on, note=(note or "").strip(), created_by=by
    )
    text = letter_text(party)
    add_timeline(case, on=sent_on, actor=actor_of(by), text=text, action="letter.sent", by=by)
    audit_log("tadasu.letter.recorded", by=by, case=case, obj=letter, data={"party": party.label})
    return letter


def letter_text(party: Party) -> str:
    """The 経過 line of a letter recorded by hand (the import's compiled path writes it too)."""
    with japanese():
        return _("Sent an apology letter to %(party)s.") % {"party": party.label}


def document_number(document: Document) -> str:
    """デ推第12号 as the document carries it, or 令和5年2月20日付 where the municipality
    does not number the kind."""
    return document.data.get("number_text") or f"{wareki(document.dated)}付"


def letter_for_issued_document(document: Document, *, by: User) -> ApologyLetter | None:
    """Issuing a お詫び状 is the apology to its person: the letter record, dated the
    document's date, is written with the issue (in its transaction). A new version of a
    letter takes over its predecessor's record, so that a person keeps one record per
    letter. Documents awaiting approval count from the day they are issued."""
    if (
        document.kind != DocumentKind.APOLOGY
        or document.status != DocumentStatus.ISSUED
        or document.party_id is None
    ):
        return None
    taken_over = letter_takes_over(document, by=by)
    if taken_over is not None:
        return taken_over
    return _issued_letter(document, by=by)


def letter_takes_over(document: Document, *, by: User) -> ApologyLetter | None:
    """A new version of a お詫び状 takes over the record of the version it replaces (issued
    here, or brought in by a case file), so that a person keeps one record per letter."""
    if document.kind != DocumentKind.APOLOGY or document.supersedes_id is None:
        return None
    letter = (
        ApologyLetter.objects.select_for_update().filter(document_id=document.supersedes_id).first()
    )
    if letter is None:
        return None
    letter.document = document
    letter.save(update_fields=["document"])
    audit_log(
        "tadasu.letter.reissued",
        by=by,
        case=document.case,
        obj=letter,
        data={"party": document.party.label, "number": document_number(document)},
    )
    return letter


@transaction.atomic
def letter_for_imported_document(*, document: Document, by: User) -> ApologyLetter:
    """The apology record of a お詫び状 that a case file brought in (issued here or
    elsewhere): written as issuing it wrote it at the source, dated the document's date."""
    case = lock_for_edit(document.case, by)
    if document.kind != DocumentKind.APOLOGY:
        raise RemedyError(_("This document is not an apology letter."), field="document")
    if document.party_id is None:
        raise RemedyError(_("A letter needs an identified person."), field="document")
    if ApologyLetter.objects.filter(document=document).exists():
        raise RemedyError(
            _("The apology letter %(number)s is already recorded.")
            % {"number": document_number(document)},
            field="document",
        )
    document.case = case
    return _issued_letter(document, by=by)


def _issued_letter(document: Document, *, by: User) -> ApologyLetter:
    letter = ApologyLetter.objects.create(
        case=document.case,
        party=document.party,
        sent_on=document.dated,
        document=document,
        created_by=by,
    )
    # The 経過 tells the apology, not the issuing (bookkeeping, in the audit trail): the
    # letter went to the person, on its date until staff record when it actually went.
    add_timeline(
        document.case,
        on=document.dated,
        actor=actor_of(by),
        text=_letter_line(document.party, ""),
        action="letter.issued",
        by=by,
    )
    audit_log(
        "tadasu.letter.recorded",
        by=by,
        case=document.case,
        obj=letter,
        data={"party": document.party.label, "number": document_number(document)},
    )
    return letter


def _letter_line(party: Party, delivery: str) -> str:
    """The 経過 line of an issued letter: sent (until staff say how), posted or handed."""
    with translation.override("ja"):
        if delivery == Delivery.HAND:
            text = _("Handed the apology letter to %(party)s.")
        elif delivery == Delivery.POST:
            text = _("Sent the apology letter to %(party)s by post.")
        else:
            text = _("Sent an apology letter to %(party)s.")
        return text % {"party": party.label}


@transaction.atomic
def letter_delivery_record(
    *, letter: ApologyLetter, by: User, sent_on: date, delivery: str
) -> ApologyLetter:
    """When and how an issued お詫び状 actually reached its person (posted or handed
    over): the date of the apology record becomes that day."""
    case = lock_for_edit(letter.case, by)
    letter = ApologyLetter.objects.select_for_update().get(pk=letter.pk, case=case)
    if letter.document_id is None:
        raise RemedyError(_("This letter was not issued in Tadasu."))
    if not is_choice(delivery, Delivery):
        raise RemedyError(_("Choose how the letter was sent."), field="delivery")
    sent_on = _required_date(case, sent_on, "sent_on")
    if sent_on < letter.document.dated:
        raise RemedyError(_("A letter cannot be sent before the date it bears."), field="sent_on")
    before = {"sent_on": letter.sent_on.isoformat(), "delivery": letter.delivery}
    # The letter's 経過 line, written when it was issued, moves to the day it went and says
    # how: one line per letter (a line of a letter issued before this existed is added).
    line = (
        TimelineEvent.objects.select_for_update()
        .filter(
            case=case,
            action="letter.issued",
            occurred_on=letter.sent_on,
            text=_letter_line(letter.party, letter.delivery),
        )
        .order_by("id")
        .first()
    )
    letter.sent_on, letter.delivery = sent_on, delivery
    letter.save(update_fields=["sent_on", "delivery"])
    text = _letter_line(letter.party, delivery)
    if line is None:
        line = add_timeline(
            case, on=sent_on, actor=actor_of(by), text=text, action="letter.issued", by=by
        )
    else:
        line.occurred_on, line.text = sent_on, text
        line.save(update_fields=["occurred_on", "text"])
    audit_log(
        "tadasu.letter.delivered",
        by=by,
        case=case,
        obj=letter,
        data={
            "party": letter.party.label,
            "number": document_number(letter.document),
            "before": before,
            "sent_on": sent_on.isoformat(),
            "delivery": delivery,
            "timeline_event": line.pk,
        },
    )
    return letter
