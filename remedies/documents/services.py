"""Issuing documents: freeze the data, number it, render it, hash it, record it.

Documents may be issued on closed cases too (a report or press release comes after the
close), so permission here is "city staff or manager of the municipality", not "may edit".
"""

import hashlib
import itertools
import logging
from collections.abc import Iterator
from datetime import date

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases import permissions, storage
from cases.audit import audit_batch, audit_log
from cases.labels import is_choice
from cases.models import Case, Membership, Municipality, Party, Role, User
from cases.scoping import membership_of
from cases.services import not_in_future, today
from cases.wareki import fiscal_year

from .. import ledger
from ..errors import RemedyError
from ..models import (
    Document,
    DocumentKind,
    DocumentSequence,
    DocumentStatus,
    EntryKind,
    LedgerEntry,
)
from ..services import letter_for_issued_document, letter_takes_over
from . import data as frozen
from . import module_for

logger = logging.getLogger(__name__)

# ---- who may read a document ---------------------------------------------------------
# A document tells about every case it covers (a press release may cover several), so it is
# readable only by someone who may read each of them. The tenant scope on Document looks at
# `case` alone (the first case); these look at all of them.


def covered_cases(document: Document) -> list[Case]:
    """Every case the document tells about: its own case and, for a press release, the
    cases it was issued over."""
    # Through the link table, not document.cases: Case.objects is tenant-scoped, and would
    # hide exactly the cases the user may not read.
    links = Document.cases.through.objects.filter(document_id=document.pk).select_related("case")
    covered = {link.case_id: link.case for link in links}
    if document.case_id is not None and document.case_id not in covered:
        covered[document.case_id] = document.case
    return list(covered.values())


def can_read(membership: Membership | None, document: Document) -> bool:
    return all(permissions.can_read_case(membership, c) for c in covered_cases(document))


def readable(documents, membership: Membership):
    """`documents` without those covering any case `membership` may not read."""
    through = Document.cases.through.objects
    if membership.role == Role.CONTRACTOR:
        served = membership.contractor.municipalities.values("pk")
        # exclude(contractor=X) keeps cases without a contractor: those are unreadable too.
        unreadable = through.exclude(
            case__contractor_id=membership.contractor_id, case__municipality_id__in=served
        )
    else:
        unreadable = through.exclude(case__municipality_id=membership.municipality_id)
    return documents.exclude(pk__in=unreadable.values("document_id"))


def _require_city(municipality: Municipality, by: User, *, manager: bool = False) -> None:
    m = membership_of(by)
    roles = (Role.MANAGER,) if manager else (Role.STAFF, Role.MANAGER)
    if m is None or m.role not in roles or m.municipality_id != municipality.pk:
        raise PermissionDenied(
            _("Only a manager can approve documents.")
            if manager
            else _("Only the city's staff can issue documents.")
        )


def _check_subject(
    kind: str,
    *,
    case: Case | None,
    party: Party | None,
    entry: LedgerEntry | None,
    cases: list[Case],
) -> None:
    """What each kind of document needs, said in the user's language."""
    if not is_choice(kind, DocumentKind):
        raise RemedyError(_("Unknown kind of document."), field="kind")
    if kind in (DocumentKind.CHECKLIST, DocumentKind.PRESS_RELEASE):
        if kind == DocumentKind.PRESS_RELEASE and not cases:
            raise RemedyError(_("Choose at least one case."), field="cases")
        if len({c.municipality_id for c in cases}) > 1:
            raise RemedyError(_("All cases must belong to one municipality."), field="cases")
        return
    if case is None:
        raise RemedyError(_("Choose a case."), field="case")
    if party is not None and party.case_id != case.pk:
        raise RemedyError(_("Choose a person of this case."), field="party")
    if kind in (
        DocumentKind.APOLOGY,
        DocumentKind.SETTLEMENT,
        DocumentKind.REPAYMENT_REQUEST,
        DocumentKind.REPAYMENT_REMINDER,
    ):
        if party is None:
            raise RemedyError(_("Choose the person the document is for."), field="party")
        if not party.identified:
            raise RemedyError(
                _("%(party)s is not identified yet; there is no one to address.")
                % {"party": party.label},
                field="party",
            )
    if kind == DocumentKind.RECEIPT and (
        entry is None
        or entry.case_id != case.pk
        or entry.kind != EntryKind.PAYMENT
        or LedgerEntry.objects.filter(reverses=entry).exists()
    ):
        raise RemedyError(_("Choose the payment the receipt is for."), field="entry")
    if (
        kind in (DocumentKind.REPAYMENT_REQUEST, DocumentKind.REPAYMENT_REMINDER)
        and ledger.balance_of(party) >= 0
    ):
        raise RemedyError(
            _("%(party)s holds no excess to be repaid.") % {"party": party.label}, field="party"
        )
    if (
        kind == DocumentKind.SETTLEMENT
        and not LedgerEntry.objects.filter(party=party, kind=EntryKind.COLLECTION).exists()
    ):
        raise RemedyError(
            _("Nothing has been collected from %(party)s yet.") % {"party": party.label},
            field="party",
        )


# Never numbered as outgoing letters, whatever the municipality's setting.
NEVER_NUMBERED = (DocumentKind.CHECKLIST, DocumentKind.PRESS_RELEASE)


def is_numbered(municipality: Municipality, kind: str) -> bool:
    """Only outgoing letters take a document number; the municipality decides which kinds
    (Municipality.numbered_kinds)."""
    return kind not in NEVER_NUMBERED and municipality.numbers(kind)


def number_text(
    municipality: Municipality, number: int | None, version: int = 1, *, numbered: bool = True
) -> str:
    if not numbered:
        return f"（第{version}版）" if version > 1 else ""
    if number is None:
        return f"{municipality.document_symbol}第　　号"  # preview: the number is not given yet
    text = f"{municipality.document_symbol}第{number}号"
    return text + (f"（第{version}版）" if version > 1 else "")


def _freeze(
    kind: str,
    municipality: Municipality,
    *,
    dated: date,
    number: int | None,
    version: int,
    case: Case | None,
    party: Party | None,
    entry: LedgerEntry | None,
    cases: list[Case],
) -> dict:
    # Documents are the municipality's official Japanese, whoever issues them: labels
    # frozen into the data (kinds, stages, methods) must be Japanese too.
    with translation.override("ja"):
        body = module_for(kind).build(
            case=case,
            party=party,
            entry=entry,
            cases=cases,
            municipality=municipality,
            dated=dated,
        )
    return {
        "kind": kind,
        "number_text": number_text(
            municipality, number, version, numbered=is_numbered(municipality, kind)
        ),
        "dated": dated.isoformat(),
        "version": version,
        "municipality": frozen.municipality_data(municipality),
        **body,
    }


def render(data: dict, *, draft: bool = False) -> bytes:
    return module_for(data["kind"]).Renderer(data, draft=draft).render()


def _municipality(case: Case | None, cases: list[Case], by: User) -> Municipality:
    if case is not None:
        return case.municipality
    if cases:
        return cases[0].municipality
    m = membership_of(by)
    if m is None or m.municipality is None:
        raise PermissionDenied(_("Only the city's staff can issue documents."))
    return m.municipality


def document_preview(
    *,
    kind: str,
    by: User,
    case: Case | None = None,
    party: Party | None = None,
    entry: LedgerEntry | None = None,
    cases: list[Case] | None = None,
    dated: date | None = None,
) -> bytes:
    """The PDF as it would be issued today, marked as a draft; nothing is stored."""
    cases = list(cases or ([case] if case and kind == DocumentKind.PRESS_RELEASE else []))
    municipality = _municipality(case, cases, by)
    _require_city(municipality, by)
    if kind == DocumentKind.RECEIPT and entry is not None:
        party = entry.party  # a receipt is always from the person who was paid
    _check_subject(kind, case=case, party=party, entry=entry, cases=cases)
    data = _freeze(
        kind,
        municipality,
        dated=dated or today(),
        number=None,
        version=1,
        case=case,
        party=party,
        entry=entry,
        cases=cases,
    )
    return render(data, draft=True)


def _next_number(municipality: Municipality, year: int) -> int:
    return take_numbers(municipality, year, 1)


def take_numbers(municipality: Municipality, year: int, count: int) -> int:
    """Take the next `count` numbers of the year at once; returns the first of them."""
    DocumentSequence.objects.get_or_create(municipality=municipality, fiscal_year=year)
    # Locked: two documents issued at once never share a number.
    sequence = DocumentSequence.objects.select_for_update().get(
        municipality=municipality, fiscal_year=year
    )
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return sequence.last_number - count + 1


def _seal(document: Document, pdf: bytes | None = None) -> None:
    """`pdf`: the bytes already drawn from document.data (by a worker in a bulk issue)."""
    if pdf is None:
        pdf = render(document.data)
    store_pdf(document, pdf)
    document.status = DocumentStatus.ISSUED
    document.issued_at = timezone.now()


def store_pdf(document: Document, pdf: bytes) -> None:
    """Write the PDF to the documents storage (encrypted) and record its hash; the row is
    saved by the caller. Written before the row commits: a transaction that then fails
    leaves an unreferenced encrypted file behind, never a row without its file."""
    document.file.save(storage.random_name(".pdf"), ContentFile(pdf), save=False)
    document.sha256 = hashlib.sha256(pdf).hexdigest()


def _log(document: Document, action: str, text: str, by: User) -> None:
    audit_log(
        f"tadasu.document.{action}",
        by=by,
        case=document.case,
        obj=document,
        data={
            "kind": document.kind,
            "number": document.data["number_text"],
            "version": document.version,
            "sha256": document.sha256,
        },
    )
    # Issuing, approving and downloading are bookkeeping: the audit trail holds them, the
    # 経過 (the story a press release tells) does not.


def _label(document: Document) -> str:
    return f"{DocumentKind(document.kind).label}（{document.data['number_text']}）"


@transaction.atomic
def document_issue(
    *,
    kind: str,
    by: User,
    case: Case | None = None,
    party: Party | None = None,
    entry: LedgerEntry | None = None,
    cases: list[Case] | None = None,
    dated: date | None = None,
    supersedes: Document | None = None,
) -> Document:
    """Issue a document, or put it before a manager where the municipality requires 決裁."""
    cases = list(cases or ([case] if case and kind == DocumentKind.PRESS_RELEASE else []))
    municipality = _municipality(case, cases, by)
    _require_city(municipality, by)
    if kind == DocumentKind.RECEIPT and entry is not None:
        party = entry.party  # a receipt is always from the person who was paid
    _check_subject(kind, case=case, party=party, entry=entry, cases=cases)
    dated = dated or today()
    not_in_future(dated, "dated")
    if supersedes is not None:
        year, number, version = supersedes.fiscal_year, supersedes.number, supersedes.version + 1
    else:
        year = fiscal_year(dated)
        numbered = is_numbered(municipality, kind)
        number, version = (_next_number(municipality, year) if numbered else None), 1
    document = new_document(
        kind,
        municipality,
        by=by,
        dated=dated,
        year=year,
        number=number,
        version=version,
        supersedes=supersedes,
        case=case,
        party=party,
        entry=entry,
        cases=cases,
    )
    needs_approval = municipality.documents_need_approval
    if not needs_approval:
        _seal(document)
    document.save()
    if cases:
        document.cases.set(cases)
    record_issue(document, by=by)
    return document


def check_letters(kind: str, targets: list[tuple[Case, Party]], *, by: User, dated: date) -> None:
    """What document_issue checks of each letter, for letters to many people at once."""
    not_in_future(dated, "dated")
    for case, party in targets:
        _require_city(case.municipality, by)
        _check_subject(kind, case=case, party=party, entry=None, cases=[])


@transaction.atomic
def documents_issue(
    *, kind: str, by: User, targets: list[tuple[Case, Party]], dated: date
) -> list[Document]:
    """document_issue() for each (case, person) of `targets`, in order, in one transaction
    (the letters of one task in bulk, remedies/documents/tasks.py): each document is the one
    document_issue would issue, numbered in the order of `targets`. The cases' and people's
    data are read at once, the numbers taken under one lock per municipality, the audit
    heads locked once. Any refusal or error takes all of them back."""
    check_letters(kind, targets, by=by, dated=dated)
    year = fiscal_year(dated)
    with frozen.reuse_case_data():
        read_ahead = getattr(module_for(kind), "read_ahead", None)
        if read_ahead is not None:  # before the numbers: read while nothing is locked
            read_ahead(targets)
        # Each municipality's numbers under one lock, given in the order of `targets`;
        # municipalities locked in a fixed order, so that two batches cannot deadlock.
        municipalities = {case.municipality_id: case.municipality for case, _ in targets}
        following: dict[int, Iterator[int | None]] = {}
        for pk in sorted(municipalities):
            if is_numbered(municipalities[pk], kind):
                count = sum(1 for case, _ in targets if case.municipality_id == pk)
                following[pk] = itertools.count(take_numbers(municipalities[pk], year, count))
            else:
                following[pk] = itertools.repeat(None)
        documents = [
            new_document(
                kind,
                case.municipality,
                by=by,
                dated=dated,
                year=year,
                number=next(following[case.municipality_id]),
                case=case,
                party=party,
                cases=[],
            )
            for case, party in targets
        ]
    # Every PDF drawn before the first audit entry: the municipality's audit head (which
    # every write of the city takes) is then held for the rows only, not the drawing. It is
    # locked after the numbers, as document_issue locks it.
    for document in documents:
        if not document.municipality.documents_need_approval:
            _seal(document)
    with audit_batch():
        for document in documents:
            document.save()
            record_issue(document, by=by)
    return documents


def new_document(
    kind: str,
    municipality: Municipality,
    *,
    by: User,
    dated: date,
    year: int,
    number: int | None,
    version: int = 1,
    supersedes: Document | None = None,
    case: Case | None,
    party: Party | None,
    entry: LedgerEntry | None = None,
    cases: list[Case],
) -> Document:
    """The document with its data frozen, not yet sealed or saved."""
    return Document(
        municipality=municipality,
        case=case or (cases[0] if cases else None),
        party=party,
        kind=kind,
        fiscal_year=year,
        number=number,
        version=version,
        supersedes=supersedes,
        dated=dated,
        created_by=by,
        data=_freeze(
            kind,
            municipality,
            dated=dated,
            number=number,
            version=version,
            case=case,
            party=party,
            entry=entry,
            cases=cases,
        ),
        status=DocumentStatus.AWAITING_APPROVAL,
    )


def record_issue(document: Document, *, by: User) -> None:
    """The audit entry of a document just issued or put up for approval, and for an お詫び
    状 issued, the apology record of its person."""
    needs_approval = document.status == DocumentStatus.AWAITING_APPROVAL
    with translation.override("ja"):
        if needs_approval:
            text = _("%(document)s was put up for approval.") % {"document": _label(document)}
        else:
            text = _("%(document)s was issued.") % {"document": _label(document)}
    _log(document, "requested" if needs_approval else "issued", text, by)
    letter_for_issued_document(document, by=by)


@transaction.atomic
def document_approve(*, document: Document, by: User) -> Document:
    """A manager approves (決裁) a document; it is drawn and sealed from its frozen data."""
    _require_city(document.municipality, by, manager=True)
    document = Document.objects.select_for_update().get(pk=document.pk)
    if document.status != DocumentStatus.AWAITING_APPROVAL:
        raise RemedyError(_("This document is not awaiting approval."), conflict=True)
    document.approved_by = by
    _seal(document)
    document.save()
    with translation.override("ja"):
        text = _("%(document)s was approved and issued.") % {"document": _label(document)}
    _log(document, "approved", text, by)
    letter_for_issued_document(document, by=by)
    return document


def document_reissue(*, document: Document, by: User) -> Document:
    """A new version from today's data; the old one stays and still verifies."""
    # Fresh from the database: the point of a reissue is the corrected data.
    document = Document.objects.select_related("case", "party").get(pk=document.pk)
    if document.status != DocumentStatus.ISSUED:
        raise RemedyError(_("Only an issued document can be reissued."))
    if hasattr(document, "superseded_by"):
        raise RemedyError(_("A newer version of this document exists."), conflict=True)
    return document_issue(
        kind=document.kind,
        by=by,
        case=document.case,
        party=document.party,
        entry=_entry_of(document),
        cases=list(document.cases.all()),
        supersedes=document,
    )


def _entry_of(document: Document) -> LedgerEntry | None:
    entry_id = (
        document.data.get("entry", {}).get("id")
        if isinstance(document.data.get("entry"), dict)
        else None
    )
    return LedgerEntry.objects.filter(pk=entry_id).first() if entry_id else None


@transaction.atomic
def document_download(*, document: Document, by: User) -> bytes:
    """Hand out the stored bytes; who downloaded what is recorded."""
    if not can_read(membership_of(by), document):
        raise PermissionDenied(_("This document also covers cases you may not read."))
    if document.status != DocumentStatus.ISSUED:
        raise RemedyError(_("This document has not been issued yet."))
    with translation.override("ja"):
        text = _("%(document)s was downloaded.") % {"document": _label(document)}
    try:
        pdf = document.pdf
    except FileNotFoundError:
        logger.error("document %s: stored file %s is missing", document.pk, document.file.name)
        raise RemedyError(
            _(
                "The stored file of this document is missing. Ask the administrator to "
                "restore it from the backup."
            )
        ) from None
    _log(document, "downloaded", text, by)
    return pdf


def verify(document: Document) -> bool:
    """The stored PDF is there and still has the hash recorded when it was issued."""
    try:
        pdf = document.pdf
    except FileNotFoundError:
        return False
    return bool(pdf) and hashlib.sha256(pdf).hexdigest() == document.sha256


# ---- documents brought in by a case file ------------------------------------------------

PDF_MAX_BYTES = 20 * 1024 * 1024  # one PDF in a case file; Tadasu's own are under 1 MB


@transaction.atomic
def document_record_imported(
    *,
    case: Case,
    by: User,
    kind: str,
    fiscal_year: int,
    number: int | None,
    number_text: str,
    version: int,
    dated: date,
    party: Party | None,
    approved_by: User | None,
    sha256: str,
    pdf: bytes | None,
) -> Document:
    """A document issued by another Tadasu, recorded as it was issued: never drawn again
    (today's data would give other bytes). With its PDF, the bytes must have the SHA-256
    the file gives and the document is issued here too (stored encrypted, downloadable);
    without, it is listed as issued elsewhere with its number, date and hash. Either way
    its number is taken from this municipality's numbering, so it is never given again."""
    municipality = case.municipality
    _require_city(municipality, by)
    if not is_choice(kind, DocumentKind):
        raise RemedyError(_("This kind of document is not known."), field="kind")
    if party is not None and party.case_id != case.pk:
        raise RemedyError(_("This person is not part of the case."), field="party")
    if number is not None and number < 1:
        raise RemedyError(_("A document number is 1 or more."), field="number")
    if version < 1:
        raise RemedyError(_("A version is 1 or more."), field="version")
    not_in_future(dated, "dated")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise RemedyError(_("A SHA-256 is 64 characters, 0–9 and a–f."), field="sha256")
    if pdf is not None:
        if len(pdf) > PDF_MAX_BYTES:
            raise RemedyError(_("The PDF is too large."), field="pdf")
        if not pdf.startswith(b"%PDF-"):
            raise RemedyError(_("This is not a PDF."), field="pdf")
        if hashlib.sha256(pdf).hexdigest() != sha256:
            raise RemedyError(_("The PDF does not have the SHA-256 given with it."), field="sha256")
    if (
        number is not None
        and Document.objects.filter(
            municipality=municipality, fiscal_year=fiscal_year, number=number, version=version
        ).exists()
    ):
        raise RemedyError(
            _("Document number %(number)s (version %(version)s) is already used in this database.")
            % {"number": number_text or number, "version": version},
            field="number",
        )
    supersedes = None
    if version > 1:
        supersedes = (
            Document.objects.filter(
                case=case,
                kind=kind,
                fiscal_year=fiscal_year,
                number=number,
                version=version - 1,
                party=party,
                superseded_by__isnull=True,
            )
            .order_by("pk")
            .last()
        )
        if supersedes is None:
            raise RemedyError(
                _("The version this one replaces is not recorded for the case."),
                field="version",
            )
    if number is not None:
        # Reserve the number: the next one issued here comes after it.
        DocumentSequence.objects.get_or_create(municipality=municipality, fiscal_year=fiscal_year)
        sequence = DocumentSequence.objects.select_for_update().get(
            municipality=municipality, fiscal_year=fiscal_year
        )
        if sequence.last_number < number:
            sequence.last_number = number
            sequence.save(update_fields=["last_number"])
    document = Document(
        municipality=municipality,
        case=case,
        party=party,
        kind=kind,
        fiscal_year=fiscal_year,
        number=number,
        version=version,
        supersedes=supersedes,
        dated=dated,
        created_by=by,
        approved_by=approved_by,
        # Only what the file carries: the frozen data of the original stays with it.
        data={
            "kind": kind,
            "number_text": number_text,
            "dated": dated.isoformat(),
            "version": version,
            "imported": True,
        },
        sha256=sha256,
        status=DocumentStatus.ISSUED if pdf is not None else DocumentStatus.ISSUED_ELSEWHERE,
        issued_at=timezone.now() if pdf is not None else None,
    )
    if pdf is not None:
        store_pdf(document, pdf)  # encrypted in the documents storage, as an issue stores it
    document.save()
    if kind == DocumentKind.PRESS_RELEASE:
        document.cases.set([case])
    audit_log(
        "tadasu.document.imported",
        by=by,
        case=case,
        obj=document,
        data={
            "kind": kind,
            "number": number_text,
            "version": version,
            "sha256": sha256,
            "pdf": pdf is not None,
        },
    )
    # A new version of a letter takes over its predecessor's apology record, as issuing it
    # did at the source; the record itself comes with the file's letter (its own action).
    letter_takes_over(document, by=by)
    return document
