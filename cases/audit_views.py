"""The audit trail for auditors (and managers): read it and export it, for their municipality."""

import csv
import json

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .access import member_required
from .audit import audit_log
from .exports import spreadsheet_safe
from .models import AuditEntry, Role


def _entries(request: HttpRequest):
    if request.membership.role not in (Role.AUDITOR, Role.MANAGER):
        raise PermissionDenied(_("Only auditors and managers read the audit trail."))
    entries = (
        AuditEntry.objects.filter(municipality_id=request.membership.municipality_id)
        .select_related("user", "case")
        .order_by("-id")
    )
    # Found by tests/test_fuzz_all_forms.py, both a 500 where the filter should simply match
    # nothing: PostgreSQL refuses NUL in a query (DataError), and SQLite a LIKE pattern over
    # 50,000 bytes. Cut to the longest value the column holds.
    action = request.GET.get("action", "").replace("\x00", "").strip()[:60]
    if action:
        entries = entries.filter(action__startswith=action)
    ref = request.GET.get("case", "").replace("\x00", "").strip()[:32]
    if ref:
        entries = entries.filter(case__reference=ref)
    return entries, action, ref


@member_required
def audit_list(request: HttpRequest) -> HttpResponse:
    entries, action, ref = _entries(request)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "cases/audit_list.html", {"page": page, "action": action, "ref": ref})


class _Echo:
    def write(self, value: str) -> str:
        return value


@member_required
def audit_export(request: HttpRequest) -> HttpResponse:
    entries, action, ref = _entries(request)
    audit_log("tadasu.audit.exported", by=request.user, data={"action": action, "case": ref})
    writer = csv.writer(_Echo())
    header = [
        "id",
        "at",
        "user",
        "role",
        "action",
        "case",
        "object_type",
        "object_id",
        "client_address",
        "data",
        "chain",
        "seq",
        "mac",
    ]

    def rows():
        yield "\ufeff"  # BOM: Excel opens UTF-8 as such
        yield writer.writerow(header)
        for e in entries.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    e.pk,
                    e.at.isoformat(),
                    spreadsheet_safe(e.user.username if e.user else ""),
                    e.role,
                    e.action,
                    e.case.reference if e.case else "",
                    e.object_type,
                    e.object_id,
                    e.client_address or "",
                    spreadsheet_safe(json.dumps(e.data, ensure_ascii=False)),
                    e.chain,
                    e.seq,
                    e.mac,
                ]
            )

    # Materialised inside the request, so the tenant scope and the query stay in force.
    response = HttpResponse("".join(rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="tadasu-audit.csv"'
    response["Cache-Control"] = "no-store"
    return response
