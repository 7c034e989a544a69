"""The audit trail for auditors (and managers): read it and export it, for their municipality.

The page and the CSV show the same columns, made by the same function (`row`), so that
what an auditor reads on screen is what the file holds."""

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_scopes import scope

from . import audit_describe
from .access import member_required
from .audit import audit_log
from .audit_filters import AuditFilterForm, entries_of
from .exports import spreadsheet_safe
from .models import AuditEntry, Role
from .scoping import scope_for

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    at: str
    case: str
    user: str
    action: str
    details: str
    client_address: str

    def cells(self) -> list[str]:
        return [self.at, self.case, self.user, self.action, self.details, self.client_address]


def header() -> list[str]:
    return [_("Date and time"), _("Case"), _("User"), _("Action"), _("Details"), _("Terminal")]


def _roles() -> dict[str, str]:
    return {value: str(label) for value, label in Role.choices}


def row(entry: AuditEntry, roles: dict[str, str], found: dict) -> Row:
    """One entry as the page and the CSV show it; `found`: audit_describe.lookups()."""
    user = entry.user
    if user is not None:
        name = f"{user.last_name} {user.first_name}".strip() or user.username
        role = roles.get(entry.role, entry.role)
        who = _("%(name)s (%(role)s)") % {"name": name, "role": role} if role else name
    elif entry.action == "tadasu.auth.login_failed":
        who = _("(not logged in)")
    else:  # a scheduled job, a management command
        who = _("(system)")
    return Row(
        at=timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
        case=entry.case.reference if entry.case_id else "",
        user=who,
        action=audit_describe.label_of(entry.action),
        details=audit_describe.describe(
            entry.action, entry.data, found.get((entry.object_type, entry.object_id))
        ),
        client_address=entry.client_address or "",
    )


def _form(request: HttpRequest) -> AuditFilterForm:
    if request.membership.role not in (Role.AUDITOR, Role.MANAGER):
        raise PermissionDenied(_("Only auditors and managers read the audit trail."))
    form = AuditFilterForm(request.GET or None, municipality_id=request.membership.municipality_id)
    form.is_valid()  # errors go next to their fields; the valid filters still apply
    return form


def _query(request: HttpRequest) -> str:
    """The filters as typed, for the pager and the export link (never personal data: a
    reference, a user id, an action code, dates)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@member_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    entries = form.filter(entries_of(request.membership.municipality_id))
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    roles = _roles()
    entries = list(page.object_list)
    found = audit_describe.lookups(entries)
    context = {
        "form": form,
        "page": page,
        "header": header(),
        "rows": [row(e, roles, found) for e in entries],
        "query": _query(request),
    }
    return render(request, "cases/audit_list.html", context)


CHUNK = 2000


def _chunks(entries: Iterator[AuditEntry], size: int) -> Iterator[list[AuditEntry]]:
    chunk: list[AuditEntry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Echo:
    def write(self, value: str) -> str:
        return value


@member_required
def audit_export(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    entries = form.filter(entries_of(request.membership.municipality_id))
    audit_log("tadasu.audit.exported", by=request.user, data=form.used())
    language = translation.get_language()
    tenant = scope_for(request.membership)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        # Streamed: the rows are written after the view returned, so the reader's language
        # and tenant scope are opened again around them.
        with translation.override(language), scope(**tenant):
            yield "\ufeff"  # BOM: Excel opens UTF-8 as such (as the case list's CSV)
            yield writer.writerow(header())
            roles = _roles()
            for chunk in _chunks(entries.iterator(chunk_size=CHUNK), CHUNK):
                found = audit_describe.lookups(chunk)
                for entry in chunk:
                    cells = row(entry, roles, found).cells()
                    yield writer.writerow([spreadsheet_safe(c) for c in cells])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tadasu-audit.csv"'
    response["Cache-Control"] = "no-store"
    return response
