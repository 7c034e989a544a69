"""The case list as a file: CSV (UTF-8 with BOM, for Excel) or XLSX.

Built inside the request, while the tenant scope is open. Personal data (the parties'
labels and names) only for city staff and managers; contractors and auditors get the case
columns alone. Party.search_key is never exported.
"""

import csv
import io
from collections.abc import Iterable, Iterator

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from openpyxl import Workbook

from .models import Case, Membership, Party, Role
from .templatetags.tadasu import person

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def shows_names(membership: Membership) -> bool:
    return membership.role in (Role.STAFF, Role.MANAGER)


def _safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to Excel (CSV injection), and openpyxl
    # writes a string starting with "=" as one. A leading apostrophe keeps it text.
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
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
    if names:
        cases = cases.prefetch_related(
            Prefetch("parties", queryset=Party.objects.only("id", "case_id", "label", "name"))
        )
    for case in cases:
        row = [
            _safe(case.reference),
            str(case.get_kind_display()),
            _safe(str(case.office)),
            _safe(str(case.contractor or "")),
            case.discovered_on,
            str(case.get_stage_display()),
            _safe(person(case.assignee)),
        ]
        if names:
            row.append(_safe("; ".join(f"{p.label} {p.name}".strip() for p in case.parties.all())))
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
