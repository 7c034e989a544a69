"""Writes for reception sheets. Views, load_demo and the benchmark call these.

Each is one transaction that checks the role, validates, writes and records one audit
entry (an import of 100,000 rows is one entry, not 100,000); naming a counterpart also
writes the case's 経過 through cases.services, under the case's row lock.
"""

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases import services as case_services
from cases.audit import audit_log
from cases.models import Case, Contractor, Office, Party, User
from cases.mynumber import contains_individual_number
from cases.search import normalise

from . import permissions, selectors, sheets
from .errors import ReceptionError, SheetRefused
from .models import ChecklistRecord, Counterpart, PendingUpload, Reception, ReceptionSheet

BATCH = 2000
MAX_LISTED_ERRORS = 200
Progress = Callable[[int, int], None]


def _importer(by: User):
    membership = case_services.require_member(by)
    if not permissions.can_import(membership):
        raise PermissionDenied(_("Only city staff and managers import reception sheets."))
    return membership


def clean_file_name(name: str) -> str:
    name = os.path.basename(str(name).replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", name).strip()
    if contains_individual_number(name):
        raise SheetRefused(
            _("The file name looks like it holds an individual number. Rename the file.")
        )
    return name[:120] or "sheet"


@transaction.atomic
def upload_store(*, data: bytes, file_name: str, by: User) -> PendingUpload:
    """Keep an uploaded sheet until its preview is confirmed. The whole sheet is read now,
    so a file holding an individual number is refused before it is stored at all."""
    membership = _importer(by)
    file_name = clean_file_name(file_name)
    table = sheets.read_table(data)
    digest = hashlib.sha256(data).hexdigest()
    if sheets.is_xlsx(data):
        data = sheets.to_csv(table)
    expiry = timezone.now() - timedelta(minutes=settings.TADASU_RECEPTION_UPLOAD_MINUTES)
    PendingUpload.objects.filter(created_at__lt=expiry).discard()
    # The user's upload still waiting for its confirmation is replaced; one already handed
    # to an import job is the job's to discard.
    PendingUpload.objects.filter(uploaded_by=by, queued=False).discard()
    pending = PendingUpload(
        token=secrets.token_urlsafe(32),
        municipality_id=membership.municipality_id,
        uploaded_by=by,
        file_name=file_name,
        sha256=digest,
        row_count=len(table.rows),
    )
    pending.file.save("sheet.csv", ContentFile(data), save=False)
    try:
        pending.save()
    except BaseException:
        pending.file.storage.delete(pending.file.name)
        raise
    return pending


def upload_discard(pending: PendingUpload) -> None:
    """The sheet was imported (or abandoned): its row and its stored file go."""
    PendingUpload.objects.filter(pk=pending.pk).discard()


def pending_upload(*, token: str | None, by: User) -> PendingUpload | None:
    """The user's own upload, if it has not expired."""
    if not token:
        return None
    expiry = timezone.now() - timedelta(minutes=settings.TADASU_RECEPTION_UPLOAD_MINUTES)
    return PendingUpload.objects.filter(token=token, uploaded_by=by, created_at__gte=expiry).first()


def _check_mapping(mapping: dict[str, int | None], width: int) -> None:
    for target in sheets.REQUIRED:
        if mapping.get(target) is None:
            raise ReceptionError(_("Choose the column that holds this."), field=target)
    seen: dict[int, str] = {}
    for target, column in mapping.items():
        if column is None:
            continue
        if not 0 <= column < width:
            raise ReceptionError(_("Choose a column of the sheet."), field=target)
        if column in seen:
            raise ReceptionError(_("This column is already used for another field."), field=target)
        seen[column] = target


def _cell(row: list, column: int | None) -> object:
    if column is None or column >= len(row):
        return None
    return row[column]


def _rows(table: sheets.Table, mapping: dict, offices: dict[str, int], base: dict):
    """Reception objects for every row, or the list of (line, column, message) errors."""
    made: list[Reception] = []
    errors: list[tuple[int, str, str]] = []
    labels = {t: str(label) for t, (label, _names) in sheets.TARGETS.items()}
    for line, row in enumerate(table.rows, start=2):  # line 1 is the header
        values: dict = {}
        for target in sheets.TARGETS:
            try:
                values[target] = _value(target, row, mapping, offices, values)
            except sheets.CellError as error:
                errors.append((line, labels[target], str(error)))
        if "start" in values and values.get("end") and values["end"] < values["start"]:
            errors.append((line, labels["end"], _("The end time is before the start time.")))
        if errors:
            # Nothing will be imported: keep checking only to list the bad rows.
            if len(errors) >= MAX_LISTED_ERRORS:
                break
            continue
        made.append(
            Reception(
                **base,
                row_number=line,
                office_id=values["office"],
                terminal=values["terminal"],
                started_at=values["start"],
                ended_at=values.get("end"),
                citizen_name=values["name"],
                search_key=normalise(values["name"])[:110],
                procedure=values.get("procedure") or "",
                outcome=values["outcome"],
                leader_checked=values.get("leader") or False,
                checklist_signed=values.get("checklist") or False,
            )
        )
    return made, errors


def _value(target: str, row: list, mapping: dict, offices: dict[str, int], values: dict):
    column = mapping.get(target)
    if column is None:
        return None
    raw = _cell(row, column)
    if target == "office":
        name = sheets.parse_text(raw, required=True, limit=100)
        office = offices.get(sheets.key(name))
        if office is None:
            raise sheets.CellError(_("This office is not registered: %(name)s") % {"name": name})
        return office
    if target in ("terminal", "name", "procedure"):
        limit = {"terminal": 30, "name": 100, "procedure": 100}[target]
        return sheets.parse_text(raw, required=target != "procedure", limit=limit)
    if target == "date":
        return sheets.parse_date(raw)
    if target in ("start", "end"):
        if target == "end" and sheets.cell_text(raw) == "":
            return None
        # An end written as a time alone ("10:25") is on the start's day.
        day = values.get("date")
        if day is None and target == "end" and values.get("start") is not None:
            day = values["start"].date()
        return sheets.parse_datetime(raw, day)
    if target == "outcome":
        return sheets.parse_outcome(raw)
    return sheets.parse_flag(raw)  # leader, checklist


def _insert(receptions: list[Reception], progress: Progress | None = None) -> None:
    """bulk_create's job without its per-value compiler: at 100,000 rows Django spends
    most of the import building SQL (SQLite caps a statement at 999 parameters, so
    bulk_create sends ~70 rows per statement). One parameterised INSERT run with
    executemany over batches is ~3x faster. Values are converted as the ORM would:
    datetimes through the backend's adapter, everything else as plain Python values."""
    fields = [f for f in Reception._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(Reception._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608  # nosec B608  # names from the model, values are parameters
    adapt = connection.ops.adapt_datetimefield_value
    dated = {f.attname for f in fields if f.get_internal_type() == "DateTimeField"}
    names = [f.attname for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(receptions), BATCH):
            cursor.executemany(
                sql,
                [
                    [adapt(getattr(r, n)) if n in dated else getattr(r, n) for n in names]
                    for r in receptions[start : start + BATCH]
                ],
            )
            if progress is not None:
                progress(min(start + BATCH, len(receptions)), len(receptions))


@transaction.atomic
def sheet_import(
    *,
    data: bytes,
    file_name: str,
    mapping: dict[str, int | None],
    by: User,
    contractor: Contractor | None = None,
    sha256: str = "",
    progress: Progress | None = None,
) -> ReceptionSheet:
    """Import every row of a sheet, or none: one bad row refuses the whole sheet.
    `sha256` is the uploaded file's when `data` is the CSV an Excel upload was kept as;
    `progress(rows written, rows)` is told as the rows are written (a job's page)."""
    membership = _importer(by)
    municipality = membership.municipality
    file_name = clean_file_name(file_name)
    if contractor is not None and not contractor.municipalities.filter(pk=municipality.pk).exists():
        raise ReceptionError(
            _("This contractor does not serve %(municipality)s.") % {"municipality": municipality},
            field="contractor",
        )
    digest = sha256 or hashlib.sha256(data).hexdigest()
    earlier = ReceptionSheet.objects.filter(municipality=municipality, sha256=digest).first()
    if earlier is not None:
        raise SheetRefused(
            _("This file was already imported on %(when)s.")
            % {"when": timezone.localtime(earlier.imported_at).strftime("%Y-%m-%d %H:%M")}
        )
    table = sheets.read_table(data)
    _check_mapping(mapping, len(table.header))
    offices = {sheets.key(o.name): o.pk for o in Office.objects.filter(municipality=municipality)}
    base = {"municipality_id": municipality.pk, "contractor": contractor}
    made, errors = _rows(table, mapping, offices, base)
    if errors:
        raise SheetRefused(
            _("Nothing was imported: correct the rows below and upload the sheet again."),
            rows=errors,
        )
    try:
        # A savepoint: a second confirmation racing this one fails on the unique file, and
        # the transaction around it stays usable for the message.
        with transaction.atomic():
            sheet = ReceptionSheet.objects.create(
                municipality=municipality,
                contractor=contractor,
                file_name=file_name,
                sha256=digest,
                row_count=len(made),
                imported_by=by,
            )
    except IntegrityError:
        raise SheetRefused(_("This file was already imported.")) from None
    for reception in made:
        reception.sheet = sheet
    _insert(made, progress)
    audit_log(
        "tadasu.reception.sheet_imported",
        by=by,
        obj=sheet,
        data={"file_name": file_name, "rows": len(made), "sha256": digest},
    )
    return sheet


@transaction.atomic
def checklist_record(*, reception: Reception, by: User, **items: bool) -> ChecklistRecord:
    """Record the completion checklist of one reception (again, to correct it)."""
    membership = case_services.require_member(by)
    if not permissions.can_record_checklist(membership, reception):
        raise PermissionDenied(_("You may not record the checklist of this reception."))
    unknown = set(items) - set(ChecklistRecord.ITEMS)
    if unknown:
        raise TypeError(f"unknown checklist items: {sorted(unknown)}")
    # Locked: two people recording the same citizen's checklist write one after the other.
    reception = Reception.objects.select_for_update().get(pk=reception.pk)
    values = {item: bool(items.get(item, False)) for item in ChecklistRecord.ITEMS}
    record, _created = ChecklistRecord.objects.update_or_create(
        reception=reception,
        defaults={**values, "recorded_by": by, "recorded_at": timezone.now()},
    )
    reception.checklist_signed = record.complete
    reception.save(update_fields=["checklist_signed"])
    audit_log(
        "tadasu.reception.checklist_recorded",
        by=by,
        obj=record,
        data={"reception": reception.pk, **values},
        municipality_id=reception.municipality_id,
    )
    return record


def _next_label(case: Case) -> str:
    used = set(Party.objects.filter(case=case).values_list("label", flat=True))
    letters = [label[0] for label in used if len(label) == 2 and label.endswith("氏")]
    start = max((ord(c) for c in letters if "A" <= c <= "Z"), default=ord("A") - 1) + 1
    for code in range(start, ord("Z") + 1):
        if f"{chr(code)}氏" not in used:
            return f"{chr(code)}氏"
    n = 1
    while f"相手方{n}" in used:
        n += 1
    return f"相手方{n}"


@transaction.atomic
def counterpart_add(
    *, case: Case, affected: Reception, candidate: Reception, by: User
) -> Counterpart:
    """Name a ranked candidate as the case's counterpart: identify the party not yet
    identified, or add a new one, and write the 経過 in the same transaction."""
    case = case_services.lock_for_edit(case, by)
    if affected.municipality_id != case.municipality_id:
        raise ReceptionError(_("Choose a reception of this case's municipality."), field="affected")
    ranked = {c.reception.pk: c for c in selectors.counterpart_candidates(affected)}
    chosen = ranked.get(candidate.pk)
    if chosen is None:
        raise ReceptionError(
            _("This reception is not a candidate for the chosen reception."), field="affected"
        )
    # Checked under the case's lock: a double click finds the first click's row.
    if Counterpart.objects.filter(case=case, candidate=candidate).exists():
        raise ReceptionError(_("This counterpart was already added to the case."))
    named = next(
        (
            p
            for p in Party.objects.filter(case=case, identified=True)
            if normalise(p.name) == normalise(candidate.citizen_name)
        ),
        None,
    )
    if named is not None:
        raise ReceptionError(
            _("This person is already a party of this case (%(label)s).") % {"label": named.label}
        )
    today = case_services.today()
    with translation.override("ja"):
        note = _("Identified from the reception sheets")
    unidentified = Party.objects.filter(case=case, identified=False).order_by("label").first()
    if unidentified is not None:
        party = case_services.party_update(
            party=unidentified,
            by=by,
            identified=True,
            name=candidate.citizen_name,
            identification_note=note,
            identified_on=today,
        )
    else:
        party = case_services.party_add(
            case=case,
            by=by,
            label=_next_label(case),
            name=candidate.citizen_name,
            identification_note=note,
            identified_on=today,
        )
    counterpart = Counterpart.objects.create(
        case=case,
        affected=affected,
        candidate=candidate,
        party=party,
        rank=chosen.rank,
        reasons=chosen.reasons,
        added_by=by,
    )
    candidate = chosen.reception  # with its office, from the ranking's query
    started = timezone.localtime(candidate.started_at)
    with translation.override("ja"):
        text = _(
            "From the reception sheets, %(label)s was identified as the citizen served before "
            "at the same terminal (%(office)s, terminal %(terminal)s, started %(when)s)."
        ) % {
            "label": party.label,
            "office": candidate.office.name,
            "terminal": candidate.terminal,
            "when": started.strftime("%Y-%m-%d %H:%M"),
        }
    case_services.add_timeline(
        case,
        on=today,
        actor=case_services.actor_of(by),
        text=text,
        action="reception.counterpart_added",
        by=by,
    )
    audit_log(
        "tadasu.reception.counterpart_added",
        by=by,
        case=case,
        obj=counterpart,
        data={"party": party.label, "rank": chosen.rank, "reception": candidate.pk},
    )
    return counterpart
