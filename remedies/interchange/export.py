"""Export: each case as the file holds it, every action with who took it, and one global
`seq` ordering the actions of all cases as they were taken (from the audit trail).

A person's contact and account details stay out of the file unless asked for, and every
export is audited (audit_export) before the file leaves."""

import base64
import getpass
import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django_scopes import scopes_disabled

from cases.audit import audit_log
from cases.models import AuditEntry, Case, Municipality, TimelineEvent, User

from .. import ledger
from ..models import (
    AgencyContact,
    ApologyLetter,
    CompensationAgreement,
    Document,
    DocumentStatus,
    EntryKind,
    LedgerEntry,
    RepaymentPlan,
    Visit,
)
from .rules import (
    CONTACT_FIELDS,
    FORMAT,
    VERSION,
    InterchangeError,
    _held_open,
    _iso,
    case_field_placement,
    case_fields,
    party_field_placement,
    party_fields,
)


def export_cases(
    cases: Iterable[Case] | None = None, *, personal_data: bool = False, pdfs: bool = False
) -> dict:
    """All cases (or the given ones) as one interchange document, in order of creation.

    A person's phone number, address, bank and cashless account (CONTACT_FIELDS) are in it
    only with `personal_data`; without, the parties hold their names and nothing to reach
    them or their money by, and the header says so. Each issued document is in it with its
    number, date and SHA-256; its PDF (base64) only with `pdfs`, which needs
    `personal_data`: a letter carries the person's name and address."""
    if pdfs and not personal_data:
        raise InterchangeError(
            "the PDFs of issued documents hold people's names and addresses: "
            "export them with the personal data or not at all"
        )
    with scopes_disabled():
        if cases is None:
            cases = Case.objects.all()
        exporters = [
            _CaseExport(case, personal_data=personal_data, pdfs=pdfs)
            for case in sorted(cases, key=lambda c: c.pk)
        ]
        documents = [exporter.document() for exporter in exporters]
        items = sorted(
            (item for exporter in exporters for item in exporter.items), key=lambda i: i[0]
        )
        for seq, (_, item) in enumerate(items, start=1):
            item["seq"] = seq
        for exporter in exporters:
            exporter.link_reversals()
    return {
        "format": FORMAT,
        "version": VERSION,
        "personal_data": personal_data,
        "pdfs": pdfs,
        "cases": documents,
    }


EXPORTED = "tadasu.cases.exported"


def audit_export(
    document: dict,
    *,
    by: User | None,
    personal_data: bool,
    destination: str,
    references: Iterable[str] = (),
    pdfs: bool = False,
) -> None:
    """The audit entries of an export, written (and committed) before the document leaves:
    one per municipality whose cases it holds, in that municipality's trail, with how many
    cases and whether personal data went with them. A command acts for no user: the entry
    then names the command and the operating-system account that ran it."""
    counts: dict[str, int] = defaultdict(int)
    for case in document["cases"]:
        counts[case["municipality"]] += 1
    references = set(references)
    chosen: dict[str, list[str]] = defaultdict(list)
    for case in document["cases"]:
        if case["reference"] in references:
            chosen[case["municipality"]].append(case["reference"])
    ids = dict(Municipality.objects.filter(code__in=counts).values_list("code", "pk"))
    common: dict[str, Any] = {
        "personal_data": personal_data,
        "pdfs": pdfs,
        "destination": destination,
    }
    if by is None:
        common |= {"via": "command", "command": "export_cases", "os_user": _os_user()}
    with transaction.atomic():
        for code in sorted(counts):
            data = {"municipality": code, "cases": counts[code], **common}
            data["selection"] = sorted(chosen[code]) if references else "all"
            audit_log(EXPORTED, by=by, data=data, municipality_id=ids[code])
        if not counts:  # nothing exported: the attempt is still on record
            audit_log(EXPORTED, by=by, data={"cases": 0, **common})


def _os_user() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"


_UNLOGGED = 1 << 62  # rows written around the services sort after everything else


# The audit entry that puts a document on the record as issued, whichever way it came.
_DOCUMENT_ISSUED = (
    "tadasu.document.issued",
    "tadasu.document.approved",
    "tadasu.document.imported",
)


class _CaseExport:
    def __init__(self, case: Case, *, personal_data: bool, pdfs: bool = False):
        self.personal_data, self.pdfs = personal_data, pdfs
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
        # (item, field, origin): a field that names another item by its seq (a letter's
        # document), filled in once every seq is known.
        self.references: list[tuple[dict, str, tuple]] = []
        # id(item) → the rows an item made (a contact; a posting's or visit's ledger
        # entries): an amending import carries on from them (replay._Amendment).
        self.made: dict[int, Any] = {}

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
        document["links"] = self._links()
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
        document["letters"] = self._letters()
        document["ledger"] = self._ledger()
        document["plans"] = self._plans()
        document["transitions"] = [item for _, item in transitions]
        document["timeline"] = self._timeline()
        document["documents"] = self._documents()
        return document

    def _letters(self) -> list[dict]:
        """Each apology letter: written by hand (`document` null), or the record that
        issuing a お詫び状 made (`document`: that document's seq, filled in by
        link_reversals), with each later record of when and how it went (`deliveries`)."""
        letters = []
        for letter in (
            ApologyLetter.objects.filter(case=self.case)
            .select_related("party", "created_by", "document")
            .order_by("pk")
        ):
            item = self._item(
                self._made("tadasu.letter.recorded", letter),
                letter.created_by,
                6,
                letter.pk,
                party=letter.party.label,
                sent_on=_iso(letter.sent_on),
                note=letter.note,
                document=None,
                delivery=letter.delivery,
                deliveries=[],
            )[1]
            if letter.document_id is not None:
                # Issued as the version whose record a reissue (tadasu.letter.reissued) has
                # not moved yet: that many versions back from the one it names now.
                moves = sum(
                    1
                    for e in self.audit
                    if e.action == "tadasu.letter.reissued" and e.object_id == str(letter.pk)
                )
                issued = letter.document
                for _ in range(moves):
                    if issued.supersedes_id is None:
                        break
                    issued = Document.objects.get(pk=issued.supersedes_id)
                self.references.append((item, "document", ("document", issued.pk)))
            for entry in self.audit:
                if entry.action == "tadasu.letter.delivered" and entry.object_id == str(letter.pk):
                    item["deliveries"].append(
                        self._item(
                            entry,
                            None,
                            6,
                            letter.pk,
                            sent_on=entry.data.get("sent_on"),
                            delivery=entry.data.get("delivery"),
                        )[1]
                    )
            self.made[id(item)] = letter
            letters.append(item)
        return letters

    def _plans(self) -> list[dict]:
        """Each repayment plan as it was agreed, superseded ones kept (`superseded_on`)."""
        plans = []
        for plan in (
            RepaymentPlan.objects.filter(case=self.case)
            .select_related("party", "created_by")
            .prefetch_related("instalments")
            .order_by("pk")
        ):
            entry = self._made("tadasu.plan.agree", plan) or self._made("tadasu.plan.replace", plan)
            item = self._item(
                entry,
                plan.created_by,
                11,
                plan.pk,
                party=plan.party.label,
                agreed_on=_iso(plan.agreed_on),
                note=plan.note,
                instalments=[
                    {"number": i.number, "due_on": _iso(i.due_on), "amount": i.amount}
                    for i in sorted(plan.instalments.all(), key=lambda i: i.number)
                ],
                superseded_on=_iso(plan.superseded_on),
            )[1]
            self.made[id(item)] = plan
            plans.append(item)
        return plans

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
        return self._edits([entry for entry, _ in edits], placed)

    def _edits(self, entries: list[AuditEntry], placed: list[list[str]]) -> list[dict]:
        """An update item for each edit that still sets a field, with the fields it sets."""
        return [
            self._item(entry, None, 1, entry.id, fields=fields)[1]
            for entry, fields in zip(entries, placed, strict=True)
            if fields
        ]

    def _parties(self) -> list[dict]:
        balances = {b.party.pk: b.amount for b in ledger.balances(self.case)}
        parties = []
        for party in self.case.parties.order_by("pk"):
            fields = party_fields(party, balances.get(party.pk, 0))
            if not self.personal_data:
                # Left out, not blanked: an import then adds the person without them, and
                # the edits that set only those are left out with them (party_field_placement).
                fields = {k: v for k, v in fields.items() if k not in CONTACT_FIELDS}
            document = self._item(
                self._made("tadasu.party.added", party),
                self.case.created_by,
                1,
                party.pk,
                **fields,
            )[1]
            edits = [
                entry
                for entry in self.audit
                if entry.action == "tadasu.party.changed" and entry.object_id == str(party.pk)
            ]
            placed = party_field_placement(
                document, [(entry.id, entry.data.get("fields", [])) for entry in edits]
            )
            document["updates"] = self._edits(edits, placed)
            parties.append(document)
        return parties

    def _links(self) -> list[dict]:
        links = []
        for link in self.case.misregistrations.select_related(
            "source", "target", "excused_by"
        ).order_by("pk"):
            added = self._made("tadasu.misregistration.added", link)
            corrected = self._made("tadasu.misregistration.corrected", link)
            excused = self._made("tadasu.misregistration.excused", link)
            document = self._item(
                added,
                self.case.created_by,
                2,
                link.pk,
                source=link.source.label,
                target=link.target.label,
                data_kind=link.data_kind,
                registered_on=_iso(link.registered_on),
                corrected_on=_iso(link.corrected_on),
                paid_through=link.paid_through,
                note=link.note,
                corrected_how=link.corrected_how,
                correction_note=link.correction_note,
                correction_recorded=None,
                uncorrectable_reason=link.uncorrectable_reason,
                excused_by=link.excused_by.username if link.excused_by else None,
                excused_on=_iso(link.excused_on),
                excuse_recorded=None,
            )[1]
            # Recorded after the link (their own seq), unless in the same call.
            if (
                corrected is not None
                and link.corrected_how
                and not self._one_call(added, corrected)
            ):
                document["correction_recorded"] = self._item(corrected, None, 2, link.pk)[1]
            if (
                excused is not None
                and link.uncorrectable_reason
                and not self._right_after(added, excused)
            ):
                document["excuse_recorded"] = self._item(excused, None, 2, link.pk)[1]
            self.made[id(document)] = link
            links.append(document)
        return links

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
            self.made[id(document)] = contact
            if answered is not None and not self._one_call(added, answered):
                document["answer_recorded"] = self._item(answered, None, 3, contact.pk)[1]
            contacts.append(document)
        return contacts

    def _right_after(self, first: AuditEntry | None, second: AuditEntry) -> bool:
        """Whether nothing else was done to the case between two audit entries (a link and
        the manager's excuse, replayed together by the import)."""
        return first is None or not any(first.id < entry.id < second.id for entry in self.audit)

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
            self.made[id(document)] = sorted(visit.ledger_entries.all(), key=lambda e: e.pk)
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
            elif first.kind == EntryKind.NATIONAL_CORRECTION:
                owed = next(e for e in entries if e.delta < 0)
                holder = next(e for e in entries if e.delta > 0)
                fields |= {
                    "holder": holder.party.label,
                    "owed": owed.party.label,
                    "amount": holder.delta,
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
            self.made[id(item)] = entries
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
        for item, field, origin in self.references:
            if origin not in self.origins:
                raise InterchangeError(
                    f"names a {origin[0]} that is not exported", case=self.name, field=field
                )
            item[field] = self.origins[origin]["seq"]

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
                note=entry.data.get("note", ""),  # case_transition keeps it in the audit entry
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
                "public": event.public,
            }
            if event.action:  # written by a service: regenerated when that action replays
                timeline.append({"seq": None, "by": event.created_by.username, **fields})
            else:
                made = self._made("tadasu.timeline.added", event)
                timeline.append(self._item(made, event.created_by, 9, event.pk, **fields)[1])
        return timeline

    def _documents(self) -> list[dict]:
        """Each document of the case on record as issued (here, or elsewhere and brought
        in), as it was issued: kind, number, date, addressee, version and SHA-256."""
        items = []
        for document in (
            Document.objects.filter(
                case=self.case,
                status__in=(DocumentStatus.ISSUED, DocumentStatus.ISSUED_ELSEWHERE),
            )
            .select_related("party", "approved_by", "created_by")
            .order_by("pk")
        ):
            entry = next(
                (e for name in _DOCUMENT_ISSUED if (e := self._made(name, document))), None
            )
            fields: dict[str, Any] = {
                "kind": document.kind,
                "fiscal_year": document.fiscal_year,
                "number": document.number,
                "number_text": document.data.get("number_text", ""),
                "version": document.version,
                "dated": _iso(document.dated),
                "party": document.party.label if document.party_id else None,
                "approved_by": document.approved_by.username if document.approved_by_id else None,
                "sha256": document.sha256,
            }
            if self.pdfs and document.file:  # read (and decrypted) only when it goes out
                try:
                    pdf = document.pdf
                except FileNotFoundError:
                    raise InterchangeError(
                        f"the stored PDF of {document.data.get('number_text') or document.kind} "
                        "is missing (restore it from the backup, or export without --with-pdfs)",
                        case=self.name,
                        field="documents",
                    ) from None
                fields["pdf"] = base64.b64encode(pdf).decode("ascii")
            item = self._item(entry, document.created_by, 10, document.pk, **fields)[1]
            self.origins[("document", document.pk)] = item
            self.made[id(item)] = document
            items.append(item)
        return items


def _named_first(text: str, labels: list[str]) -> str:
    """The label the text names first (the longest, where one label starts another)."""
    found = [(text.find(label), -len(label), label) for label in set(labels) if label in text]
    return min(found)[2] if found else labels[0]
