"""Writes to the case file. Views and management commands call these; nothing writes around them.

Each service is one transaction: it checks permission, locks the case row, validates,
writes, and records the audit entry (and, where the action is part of the story, the
timeline entry) in that same transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import handovers, permissions, reveal
from .audit import audit_log
from .crypto import mask, mask_address
from .errors import CaseError
from .labels import is_choice
from .models import (
    TIMELINE_TEXT_MAX,
    Case,
    CaseKind,
    CaseSequence,
    CauseCategory,
    Contractor,
    DataKind,
    Membership,
    Misregistration,
    Office,
    Party,
    Role,
    TimelineEvent,
    User,
)
from .publication import HAND_ENTRY_DEFAULT, public_by_default
from .scoping import membership_of
from .search import party_search_key
from .wareki import fiscal_year, wareki

CASE_FIELDS = (
    "kind",
    "summary",
    "office",
    "contractor",
    "occurred_on",
    "discovered_on",
    "discovery",
    "cause_category",
    "cause_text",
    "prevention",
    "assignee",
)


# The day a long run of checks began (held_today): read once rather than at every check.
_held_today: ContextVar[date | None] = ContextVar("held_today", default=None)


def today() -> date:
    held = _held_today.get()
    return held if held is not None else timezone.localdate()


@contextmanager
def held_today() -> Iterator[None]:
    """today() is the day this block began, inside it: for an import of thousands of cases,
    whose every action checks its date against today (the time zone read each time was
    about 3 % of it). A file's dates lie in the past; one that runs past midnight is
    checked against the day it began, a day earlier than the clock's."""
    token = _held_today.set(timezone.localdate())
    try:
        yield
    finally:
        _held_today.reset(token)


@contextmanager
def japanese() -> Iterator[None]:
    """translation.override("ja"), as every stored 経過 line is written; nothing to do when
    Japanese is active already (the import's compiled path sets it for a whole case)."""
    if translation.get_language() == "ja":
        yield
    else:
        with translation.override("ja"):
            yield


def require_member(by: User) -> Membership:
    membership = membership_of(by)
    if membership is None:
        raise PermissionDenied(_("Your account is not attached to any organisation."))
    return membership


def require_editor(case: Case, by: User) -> Membership:
    membership = require_member(by)
    if not permissions.can_edit_case(membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    return membership


def actor_of(by: User) -> str:
    """The organisation a user acts for, as the 経過 names it (北九州市, 株式会社…)."""
    return str(require_member(by).organisation)


def lock_for_edit(case: Case, by: User) -> Case:
    """Lock the case row, then check on that fresh row that `by` may change it. Checking
    after the lock matters: a page loaded before a manager closed the case must not write.
    (The check before the lock answers outsiders with PermissionDenied, not DoesNotExist.)"""
    require_editor(case, by)
    case = lock_case(case)
    require_editor(case, by)
    return case


def lock_case(case: Case) -> Case:
    # Row lock: two clerks editing the same case serialise here (no-op on SQLite, whose
    # writers are serialised by the database lock anyway).
    return Case.objects.select_for_update().get(pk=case.pk)


def not_in_future(value: date | None, field: str) -> None:
    if value is not None and value > today():
        raise CaseError(_("This date is in the future."), field=field)


def first_known_date(case: Case) -> date:
    """The earliest day the case knows of: when the error occurred, else its discovery."""
    return case.occurred_on or case.discovered_on


def check_event_date(case: Case, value: date | None, field: str) -> None:
    """A day something happened in the case: not before the case's first known date (the
    error cannot be acted on before it happened; a stage dated in 1868 made the deadlines
    count 39,586 business days) and not in the future."""
    if value is None:
        return
    floor = first_known_date(case)
    if value < floor:
        raise CaseError(
            _("This date is before the case began (%(date)s).") % {"date": wareki(floor)},
            field=field,
        )
    not_in_future(value, field)


def _check_case_fields(fields: dict) -> None:
    """Rules on the case's own fields, shared by open and update."""
    if not is_choice(fields.get("kind"), CaseKind):
        raise CaseError(_("Choose a kind of error."), field="kind")
    if fields.get("cause_category") and not is_choice(fields["cause_category"], CauseCategory):
        raise CaseError(_("Choose a cause from the list."), field="cause_category")
    if fields.get("discovered_on") is None:
        raise CaseError(_("Enter the date it was discovered."), field="discovered_on")
    not_in_future(fields.get("occurred_on"), "occurred_on")
    not_in_future(fields.get("discovered_on"), "discovered_on")
    occurred, discovered = fields.get("occurred_on"), fields["discovered_on"]
    if occurred is not None and occurred > discovered:
        raise CaseError(
            _("The error cannot have occurred after it was discovered."), field="occurred_on"
        )


def _check_organisations(
    *, office: Office, contractor: Contractor | None, assignee: User | None
) -> None:
    municipality = office.municipality
    if not office.active:
        raise CaseError(_("This office is no longer active."), field="office")
    if contractor is not None and not contractor.municipalities.filter(pk=municipality.pk).exists():
        raise CaseError(
            _("This contractor does not serve %(municipality)s.") % {"municipality": municipality},
            field="contractor",
        )
    if assignee is not None:
        m = membership_of(assignee)
        if (
            m is None
            or m.role not in (Role.STAFF, Role.MANAGER)
            or (m.municipality_id != municipality.pk)
        ):
            raise CaseError(
                _("The assignee must be city staff of %(municipality)s.")
                % {"municipality": municipality},
                field="assignee",
            )


# The case sequences a held_case_numbers block has locked, by (municipality, fiscal year).
_held_sequences: ContextVar[dict[tuple[int, int], CaseSequence] | None] = ContextVar(
    "held_sequences", default=None
)


@contextmanager
def held_case_numbers() -> Iterator[None]:
    """Many cases opened in one transaction (an import): each municipality and fiscal
    year's sequence is locked at its first case and written once, at the end, instead of
    read and written for each case. The numbers are the ones case_open would give one by
    one. Like audit_batch, an error inside must end the transaction."""
    held: dict[tuple[int, int], CaseSequence] = {}
    token = _held_sequences.set(held)
    try:
        yield
    finally:
        _held_sequences.reset(token)
    for sequence in held.values():
        sequence.save(update_fields=["last_number"])


def _next_reference(office: Office, discovered_on: date) -> str:
    municipality = office.municipality
    year = fiscal_year(discovered_on)
    held = _held_sequences.get()
    sequence = held.get((municipality.pk, year)) if held is not None else None
    if sequence is None:
        CaseSequence.objects.get_or_create(municipality=municipality, fiscal_year=year)
        # Locked so that two cases opened at once never get the same number.
        sequence = CaseSequence.objects.select_for_update().get(
            municipality=municipality, fiscal_year=year
        )
        if held is not None:
            held[(municipality.pk, year)] = sequence
    sequence.last_number += 1
    if held is None:
        sequence.save(update_fields=["last_number"])
    return f"{municipality.code}-{year}-{sequence.last_number:03d}"


def add_timeline(
    case: Case,
    *,
    on: date,
    actor: str,
    text: str,
    action: str,
    by: User,
    in_story: bool = True,
    public: bool | None = None,
) -> TimelineEvent:
    """One 経過 line; `public` defaults per kind of entry (cases/publication.py)."""
    return TimelineEvent.objects.create(
        case=case,
        occurred_on=on,
        actor=actor,
        text=text,
        action=action,
        created_by=by,
        in_story=in_story,
        public=public_by_default(action) if public is None else public,
    )


def opening_wording(case: Case) -> tuple[str, str, str]:
    """The two 経過 lines a new case starts with: (the discovery's text, who opened the
    case, the opening's text). Stored text is the municipality's official record, so it is
    written in Japanese whatever language the acting user reads the UI in. The case-file
    import's compiled path (remedies/interchange/compiled.py) writes the same lines."""
    with translation.override("ja"):
        discovered_text = case.discovery or _("The clerical error was discovered.")
        if case.reported_by_contractor:
            actor = str(case.contractor)
            text = _("The contractor (%(contractor)s) reported it to %(municipality)s.") % {
                "contractor": case.contractor,
                "municipality": case.municipality,
            }
        else:
            actor = str(case.municipality)
            text = _("%(municipality)s opened the case.") % {"municipality": case.municipality}
    return discovered_text, actor, text


@transaction.atomic
def case_open(
    *,
    office: Office,
    kind: str,
    discovered_on: date,
    by: User,
    contractor: Contractor | None = None,
    occurred_on: date | None = None,
    discovery: str = "",
    summary: str = "",
    cause_category: str = "",
    cause_text: str = "",
    prevention: str = "",
    assignee: User | None = None,
    reported_on: date | None = None,
) -> Case:
    """Open a case. City staff open it for their municipality; contractor staff report one
    from a desk their company ran, for a municipality it serves (the city then works it)."""
    membership = require_member(by)
    municipality = office.municipality
    if not permissions.can_open_case_in(membership, municipality):
        raise PermissionDenied(_("You cannot open a case for this municipality."))
    reported_by_contractor = membership.role == Role.CONTRACTOR
    if reported_by_contractor:
        contractor = membership.contractor
        assignee = None
    fields = {
        "kind": kind,
        "discovered_on": discovered_on,
        "occurred_on": occurred_on,
        "cause_category": cause_category,
    }
    _check_case_fields(fields)
    _check_organisations(office=office, contractor=contractor, assignee=assignee)
    reported_on = reported_on or today()
    not_in_future(reported_on, "reported_on")
    if reported_on < discovered_on:
        raise CaseError(_("A report cannot come before the discovery."), field="reported_on")

    case = Case.objects.create(
        municipality=municipality,
        reference=_next_reference(office, discovered_on),
        kind=kind,
        summary=summary.strip(),
        office=office,
        contractor=contractor,
        occurred_on=occurred_on,
        discovered_on=discovered_on,
        discovery=discovery.strip(),
        cause_category=cause_category,
        cause_text=cause_text.strip(),
        prevention=prevention.strip(),
        assignee=assignee,
        reported_by_contractor=reported_by_contractor,
        created_by=by,
        stage_since=reported_on,
        opened_on=reported_on,
    )
    discovered_text, actor, text = opening_wording(case)
    add_timeline(
        case,
        on=discovered_on,
        actor=str(office),
        text=discovered_text,
        action="case.discovered",
        by=by,
    )
    # The contractor's report is part of the story; a case the city registers itself is
    # bookkeeping: its line is kept (the stage history starts there) but stays out of the
    # 経過 that documents tell, and is never for publication.
    add_timeline(
        case,
        on=reported_on,
        actor=actor,
        text=text,
        action="case.opened",
        by=by,
        in_story=reported_by_contractor,
        public=reported_by_contractor,
    )
    audit_log(
        "tadasu.case.opened",
        by=by,
        case=case,
        obj=case,
        data={"reference": case.reference, "kind": kind},
    )
    return case


@transaction.atomic
def case_update(*, case: Case, by: User, **changes) -> Case:
    """Change the case's own fields (kind, office, dates, cause, prevention, assignee…)."""
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown:
        raise TypeError(f"unknown case fields: {sorted(unknown)}")
    case = lock_for_edit(case, by)
    fields = {name: getattr(case, name) for name in CASE_FIELDS} | changes
    _check_case_fields(fields)
    if fields["office"].municipality_id != case.municipality_id:
        raise CaseError(_("Choose an office of this municipality."), field="office")
    _check_organisations(
        office=fields["office"], contractor=fields["contractor"], assignee=fields["assignee"]
    )
    changed = []
    was_contractor = case.contractor_id
    for name, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    if changed:
        case.save(update_fields=[*changed, "updated_at"])
        audit_log(
            "tadasu.case.changed", by=by, case=case, obj=case, data={"fields": sorted(changed)}
        )
        if "contractor" in changed:
            # After the audit entry (it takes the audit head): what other apps keep per
            # contractor of the case moves with it, its rows locked after the head, as the
            # ledger does (remedies registers the city's money totals: handovers.py).
            handovers.contractor_changed(case, was=was_contractor)
    return case


@transaction.atomic
def case_take(*, case: Case, by: User) -> Case:
    """The signed-in clerk takes the case on (becomes its assignee)."""
    case = lock_for_edit(case, by)
    if case.assignee_id != by.pk:
        case.assignee = by
        case.save(update_fields=["assignee", "updated_at"])
        audit_log(
            "tadasu.case.assigned", by=by, case=case, obj=case, data={"assignee": by.username}
        )
    return case


def _check_party(case: Case, fields: dict, *, party: Party | None = None) -> None:
    label = fields.get("label", "").strip()
    if not label:
        raise CaseError(_("Enter a label such as “A氏”."), field="label")
    clash = Party.objects.filter(case=case, label=label)
    if party is not None:
        clash = clash.exclude(pk=party.pk)
    if clash.exists():
        raise CaseError(_("Another party in this case already has this label."), field="label")
    if fields.get("identified") and not fields.get("name", "").strip():
        raise CaseError(_("Enter the name of an identified party."), field="name")
    if not fields.get("identified") and not fields.get("identification_note", "").strip():
        raise CaseError(
            _("Enter the identification status, e.g. “身元をデジタル庁に照会中”."),
            field="identification_note",
        )
    check_event_date(case, fields.get("identified_on"), "identified_on")


PARTY_FIELDS = (
    "label",
    "identified",
    "name",
    "name_kana",
    "phone",
    "address",
    "bank_name",
    "account_number",
    "payment_service",
    "payment_account",
    "identification_note",
    "identified_on",
)
# Contact and account details: encrypted at rest, masked in the audit trail.
PERSONAL_FIELDS = (
    "name",
    "name_kana",
    "phone",
    "address",
    "bank_name",
    "account_number",
    "payment_service",
    "payment_account",
)


def _masked(name: str, value) -> str:
    if value in (None, ""):
        return ""
    if name == "address":
        return mask_address(value)
    if name in ("name", "name_kana"):
        return str(value)[:1] + "＊＊"
    if name in PERSONAL_FIELDS:
        return mask(str(value))
    return str(value)


def _set_search_key(party: Party) -> list[str]:
    """The one place Party.search_key is set; returns the field to save with the change."""
    party.search_key = party_search_key(party.name, party.name_kana)
    return ["search_key"]


def _clean_party_fields(fields: dict) -> dict:
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}


@transaction.atomic
def party_add(
    *,
    case: Case,
    by: User,
    label: str,
    identified: bool = True,
    name: str = "",
    name_kana: str = "",
    phone: str = "",
    address: str = "",
    bank_name: str = "",
    account_number: str = "",
    payment_service: str = "",
    payment_account: str = "",
    identification_note: str = "",
    identified_on: date | None = None,
) -> Party:
    """Add an affected person, identified or known only by a label for now."""
    case = lock_for_edit(case, by)
    fields = _clean_party_fields(
        {
            "label": label,
            "identified": identified,
            "name": name,
            "name_kana": name_kana,
            "phone": phone,
            "address": address,
            "bank_name": bank_name,
            "account_number": account_number,
            "payment_service": payment_service,
            "payment_account": payment_account,
            "identification_note": identification_note,
            "identified_on": identified_on,
        }
    )
    _check_party(case, fields)
    if not identified:
        # Nothing personal is kept for a person not yet identified.
        fields.update(dict.fromkeys(PERSONAL_FIELDS, ""), identified_on=None)
    party = Party(case=case, **fields)
    _set_search_key(party)
    party.save(force_insert=True)
    audit_log(
        "tadasu.party.added",
        by=by,
        case=case,
        obj=party,
        data={"label": party.label, "identified": party.identified},
    )
    return party


@transaction.atomic
def party_update(*, party: Party, by: User, **changes) -> Party:
    """Correct a party's details, or identify a party known so far only by a label."""
    case = lock_for_edit(party.case, by)
    unknown = set(changes) - set(PARTY_FIELDS)
    if unknown:
        raise TypeError(f"unknown party fields: {sorted(unknown)}")
    party = Party.objects.select_for_update().get(pk=party.pk)
    was_identified = party.identified
    fields = {name: getattr(party, name) for name in PARTY_FIELDS} | _clean_party_fields(changes)
    if was_identified and not fields["identified"]:
        raise CaseError(
            _("An identified party cannot become unidentified again."), field="identified"
        )
    _check_party(case, fields, party=party)
    newly_identified = fields["identified"] and not was_identified
    if newly_identified and fields["identified_on"] is None:
        fields["identified_on"] = today()
    changed = [name for name in PARTY_FIELDS if getattr(party, name) != fields[name]]
    before = {name: _masked(name, getattr(party, name)) for name in changed}
    for name in changed:
        setattr(party, name, fields[name])
    if changed:
        extra = _set_search_key(party) if {"name", "name_kana"} & set(changed) else []
        party.save(update_fields=[*changed, *extra])
        # Before and after, masked: personal data never enters the audit trail in clear.
        audit_log(
            "tadasu.party.changed",
            by=by,
            case=case,
            obj=party,
            data={
                "label": party.label,
                "fields": sorted(changed),
                "changes": {n: [before[n], _masked(n, fields[n])] for n in sorted(changed)},
            },
        )
    if newly_identified:
        with translation.override("ja"):
            text = _("%(label)s was identified.") % {"label": party.label}
        add_timeline(
            case,
            on=party.identified_on,
            actor=str(case.municipality),
            text=text,
            action="party.identified",
            by=by,
        )
    return party


def check_link(
    case: Case,
    *,
    source: Party,
    target: Party,
    data_kind: str,
    registered_on: date | None,
    corrected_on: date | None,
) -> None:
    """misregistration_add's rules on a new link between two parties of the case, but for
    whether the case has it already; the case-file import's compiled path
    (remedies/interchange/compiled.py) applies them to a case built in memory."""
    if source == target:  # the same row (or, unsaved, the same object)
        raise CaseError(_("A party cannot be linked to itself."), field="target")
    if not is_choice(data_kind, DataKind):
        raise CaseError(_("Choose which data was registered."), field="data_kind")
    # The registration is the error itself: not before the day it occurred, when that is
    # known (a registration before an unknown occurrence date may well precede discovery).
    if case.occurred_on is not None:
        check_event_date(case, registered_on, "registered_on")
    not_in_future(registered_on, "registered_on")
    check_event_date(case, corrected_on, "corrected_on")
    if registered_on and corrected_on and corrected_on < registered_on:
        raise CaseError(
            _("The correction cannot come before the registration."), field="corrected_on"
        )


@transaction.atomic
def misregistration_add(
    *,
    case: Case,
    by: User,
    source: Party,
    target: Party,
    data_kind: str,
    registered_on: date | None = None,
    corrected_on: date | None = None,
    paid_through: bool = False,
    note: str = "",
) -> Misregistration:
    """Record that source's data was registered into target's record."""
    case = lock_for_edit(case, by)
    if source is None or source.case_id != case.pk:
        raise CaseError(_("Choose a party of this case."), field="source")
    if target is None or target.case_id != case.pk:
        raise CaseError(_("Choose a party of this case."), field="target")
    check_link(
        case,
        source=source,
        target=target,
        data_kind=data_kind,
        registered_on=registered_on,
        corrected_on=corrected_on,
    )
    if Misregistration.objects.filter(
        case=case, source=source, target=target, data_kind=data_kind
    ).exists():
        raise CaseError(_("This link is already recorded."), field="target")
    link = Misregistration.objects.create(
        case=case,
        source=source,
        target=target,
        data_kind=data_kind,
        registered_on=registered_on,
        corrected_on=corrected_on,
        paid_through=paid_through,
        note=note.strip(),
    )
    audit_log(
        "tadasu.misregistration.added",
        by=by,
        case=case,
        obj=link,
        data={"source": source.label, "target": target.label, "data_kind": data_kind},
    )
    return link


@transaction.atomic
def timeline_add(
    *,
    case: Case,
    by: User,
    occurred_on: date,
    actor: str,
    text: str,
    public: bool = HAND_ENTRY_DEFAULT,
) -> TimelineEvent:
    """A 経過 entry written by hand (a phone call, a visit, an answer…)."""
    case = lock_for_edit(case, by)
    if occurred_on is None:
        raise CaseError(_("Enter the date."), field="occurred_on")
    check_event_date(case, occurred_on, "occurred_on")
    if not actor.strip():
        raise CaseError(_("Enter who acted."), field="actor")
    if not text.strip():
        raise CaseError(_("Enter what happened."), field="text")
    if len(text.strip()) > TIMELINE_TEXT_MAX:
        raise CaseError(
            _("Write at most %(max)s characters.") % {"max": TIMELINE_TEXT_MAX}, field="text"
        )
    event = add_timeline(
        case,
        on=occurred_on,
        actor=actor.strip(),
        text=text.strip(),
        action="",
        by=by,
        public=bool(public),
    )
    audit_log("tadasu.timeline.added", by=by, case=case, obj=event, data={"public": event.public})
    return event


@transaction.atomic
def timeline_publish(*, event: TimelineEvent, by: User, public: bool) -> TimelineEvent:
    """Mark a 経過 entry for publication, or internal (a note meant for staff)."""
    case = lock_for_edit(event.case, by)
    event = TimelineEvent.objects.select_for_update().get(pk=event.pk, case=case)
    if event.public != bool(public):
        event.public = bool(public)
        event.save(update_fields=["public"])
        audit_log(
            "tadasu.timeline.published" if public else "tadasu.timeline.made_internal",
            by=by,
            case=case,
            obj=event,
        )
    return event


@transaction.atomic
def party_reveal(
    *, party: Party, by: User, purpose: str = "view", reason: str = ""
) -> tuple[str, ...]:
    """Someone asked to see a person's details in clear: check what the role may see
    (cases/reveal.py), record it, and return the names of the details that may be shown."""
    membership = require_member(by)  # and the caller found the party through the tenant scope
    # Fresh: a case closed since the page was loaded shows only what a closed case may.
    case = Case.objects.get(pk=party.case_id)
    rule = reveal.rule_for(membership, case)
    if not rule.fields:
        raise PermissionDenied(rule.withheld or _("Your role cannot see these details."))
    reason = (reason or "").strip()
    if rule.needs_reason and not reason:
        raise CaseError(_("Enter why you need to see these details."), field="reason")
    data = {"label": party.label, "purpose": purpose, "fields": list(rule.fields)}
    if rule.needs_reason:
        data["reason"] = reason
    audit_log("tadasu.party.revealed", by=by, case=case, obj=party, data=data)
    return rule.fields
