"""The case list as a file: CSV (UTF-8 with BOM, for Excel) or XLSX.

Built inside the request, while the tenant scope is open. Personal data (the parties'
labels and names) only for city staff and managers; contractors and auditors get the case
columns alone. Party.search_key is never exported.
"""

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from openpyxl import Workbook

from .models import Case, CaseKind, Membership, Party, Role, Stage

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def shows_names(membership: Membership) -> bool:
    return membership.role in (Role.STAFF, Role.MANAGER)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: str) -> str:
    """A cell starting with = + - @ (or a tab or a line break) is a formula to Excel and
    LibreOffice (CSV injection), and openpyxl writes a string starting with "=" as one. The
    start is read as those programs may read it: NFKC (full-width ＝＋－＠, small ﹦﹢﹣﹫),
    past invisible format characters and spaces. A leading apostrophe keeps the cell text."""
    start = value.lstrip(" \u3000")
    while start and unicodedata.category(start[0]) == "Cf":
        start = start[1:].lstrip(" \u3000")
    if unicodedata.normalize("NFKC", start[:1])[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


def _header(names: bool) -> list[str]:
    header = [
        _("Reference"),
        _("Kind"),
        _("Office / desk"),
        _("Contractor"),
        _("Discovered on"),
        _("Stage"),
        _("Assignee"),
    ]
    return [*header, _("Parties")] if names else header


def _rows(cases: QuerySet[Case], names: bool) -> Iterator[list]:
    # Plain values, not model instances, and every label looked up once: an export of ten
    # thousand rows is two queries and a loop (make bench measures it).
    kinds = {k: str(label) for k, label in CaseKind.choices}
    stages = {k: str(label) for k, label in Stage.choices}
    parties: dict[int, list[str]] = {}
    if names:
        rows = Party.objects.filter(case__in=cases.values("id")).order_by("case_id", "id")
        for case_id, label, name in rows.values_list("case_id", "label", "name"):
            parties.setdefault(case_id, []).append(f"{label} {name}".strip())
    values = cases.values_list(
        "id",
        "reference",
        "kind",
        "office__name",
        "contractor__name",
        "discovered_on",
        "stage",
        "assignee__last_name",
        "assignee__first_name",
        "assignee__username",
    )
    for pk, ref, kind, office, contractor, discovered, stage, last, first, user in values:
        # As the list shows a person: family name first, else the user name.
        assignee = f"{last or ''} {first or ''}".strip() or (user or "")
        row = [
            spreadsheet_safe(ref),
            kinds.get(kind, kind),
            spreadsheet_safe(office),
            spreadsheet_safe(contractor or ""),
            discovered,
            stages.get(stage, stage),
            spreadsheet_safe(assignee),
        ]
        if names:
            row.append(spreadsheet_safe("; ".join(parties.get(pk, []))))
        yield row


def export(cases: QuerySet[Case], membership: Membership, fmt: str) -> tuple[bytes, int]:
    """The file's bytes and its number of data rows."""
    names = shows_names(membership)
    rows = _rows(cases, names)
    if fmt == "csv":
        return _csv(_header(names), rows)
    return _xlsx(_header(names), rows)


def _csv(header: list[str], rows: Iterable[list]) -> tuple[bytes, int]:
    out = io.StringIO()
    out.write("\ufeff")  # BOM: Excel opens UTF-8 as such
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        count += 1
    return out.getvalue().encode("utf-8"), count


def _xlsx(header: list[str], rows: Iterable[list]) -> tuple[bytes, int]:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Cases"))
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append(row)
        count += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), count
