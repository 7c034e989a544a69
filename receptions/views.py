"""Thin views: scoped lookups, a form, one service call. Rules live in services.py."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import permissions as case_permissions
from cases import searches
from cases.access import case_for, editable_case_for, member_required
from cases.errors import CaseError
from cases.forms_base import shows_wareki
from cases.models import Case, Office
from cases.search import normalise
from cases.selectors import with_parties

from . import permissions, selectors, services, sheets, tasks
from .errors import ReceptionError, SheetRefused
from .forms import ChecklistForm, CounterpartForm, MappingForm, ReceptionSearchForm, UploadForm
from .models import Counterpart, Reception, ReceptionSheet

SESSION_KEY = "receptions.upload"  # the token of the user's pending upload; never the bytes


def _require_importer(request: HttpRequest) -> None:
    if not permissions.can_import(request.membership):
        raise PermissionDenied(_("Only city staff and managers import reception sheets."))


@member_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "receptions/index.html",
        {
            "panel": selectors.completion_rates(),
            "sheets": list(ReceptionSheet.objects.select_related("imported_by")[:20]),
            "can_import": permissions.can_import(request.membership),
        },
    )


@member_required
def sheet_upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > sheets.max_bytes():
            form.add_error("file", _("The file is too large."))
        else:
            try:
                pending = services.upload_store(
                    data=upload.read(), file_name=upload.name, by=request.user
                )
            except ReceptionError as error:
                form.add_error("file", error.message)
            else:
                request.session[SESSION_KEY] = pending.token
                return redirect("receptions:preview")
    return render(request, "receptions/upload.html", {"form": form})


@member_required
def sheet_preview(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    pending = services.pending_upload(token=request.session.get(SESSION_KEY), by=request.user)
    if pending is None:
        messages.info(request, _("Upload the reception sheet first (an upload waits an hour)."))
        return redirect("receptions:upload")
    try:
        # The first rows only: the whole sheet was read (and screened) when uploaded, and
        # an Excel file of 100,000 rows takes seconds to read again.
        table = sheets.read_table(pending.read(), limit=sheets.PREVIEW_ROWS)
    except SheetRefused as error:
        messages.error(request, error.message)
        return redirect("receptions:upload")
    initial = {t: c for t, c in sheets.guess_mapping(table.header).items() if c is not None}
    form = MappingForm(
        request.POST or None,
        header=table.header,
        membership=request.membership,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        # The import runs as a job; this page hands over to the job's page, which waits
        # on it (a sheet of 100,000 rows takes longer than a request should). The job is
        # queued in this request's transaction: if the request fails, there is no job.
        try:
            with transaction.atomic():
                job = tasks.sheet_import_enqueue(
                    pending=pending,
                    mapping=form.mapping(),
                    contractor=form.cleaned_data["contractor"],
                    by=request.user,
                )
                response = redirect("jobs:detail", job_id=job.pk)
        except ReceptionError as error:
            form.add_error(None, error.message)
        else:
            request.session.pop(SESSION_KEY, None)
            return response
    return render(
        request,
        "receptions/preview.html",
        {
            "form": form,
            "file_name": pending.file_name,
            "header": table.header,
            "preview": table.preview(),
            "row_count": pending.row_count,
            "listed_max": services.MAX_LISTED_ERRORS,
        },
    )


@member_required
def sheet_detail(request: HttpRequest, sheet_id: int) -> HttpResponse:
    sheet = get_object_or_404(ReceptionSheet.objects.select_related("imported_by"), pk=sheet_id)
    receptions = Reception.objects.filter(sheet=sheet).select_related("office", "checklist")
    page = Paginator(receptions.order_by("started_at", "id"), 100).get_page(request.GET.get("page"))
    membership = request.membership
    return render(
        request,
        "receptions/sheet.html",
        {
            "sheet": sheet,
            "page": page,
            "can_record": any(permissions.can_record_checklist(membership, r) for r in page),
        },
    )


@member_required
def checklist(request: HttpRequest, reception_id: int) -> HttpResponse:
    reception = get_object_or_404(
        Reception.objects.select_related("office", "sheet", "checklist"), pk=reception_id
    )
    if not permissions.can_record_checklist(request.membership, reception):
        raise PermissionDenied(_("You may not record the checklist of this reception."))
    record = getattr(reception, "checklist", None)
    form = ChecklistForm(request.POST or None, initial=ChecklistForm.initial_from(record))
    if request.method == "POST" and form.is_valid():
        try:
            services.checklist_record(reception=reception, by=request.user, **form.cleaned_data)
        except ReceptionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The checklist was recorded."))
            return redirect("receptions:sheet", sheet_id=reception.sheet_id)
    return render(
        request,
        "receptions/checklist_form.html",
        {"form": form, "reception": reception, "record": record},
    )


@require_POST
@member_required
def counterpart_add(request: HttpRequest, ref: str, reception_id: int) -> HttpResponse:
    case = editable_case_for(request, ref)
    candidate = get_object_or_404(Reception, pk=reception_id, municipality=case.municipality)
    url = reverse("cases:detail", kwargs={"ref": case.reference})
    form = CounterpartForm(request.POST)
    affected = None
    if form.is_valid():
        affected = Reception.objects.filter(
            pk=form.cleaned_data["affected"], municipality=case.municipality
        ).first()
    if affected is None:
        messages.error(request, _("Choose the affected person's reception first."))
        return redirect(f"{url}#receptions")
    try:
        counterpart = services.counterpart_add(
            case=case, affected=affected, candidate=candidate, by=request.user
        )
    except (ReceptionError, CaseError) as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(label)s was added to the case from the reception sheets.")
            % {"label": counterpart.party.label},
        )
    return redirect(f"{url}?affected={affected.pk}#receptions")


# The name searched for never travels in a URL (cases/searches.py): the search form posts
# here, and the case page is shown with a token for the name (rs) beside the date and office.
SEARCH_FIELDS = ("rs", "ron", "roffice")


@require_POST
@member_required
def reception_search(request: HttpRequest, ref: str) -> HttpResponse:
    case = case_for(request, ref)  # the tenant scope's 404 for another city's case
    query = QueryDict(mutable=True)
    for name in ("ron", "roffice"):
        if request.POST.get(name):
            query[name] = request.POST[name]
    words = request.POST.get("rq", "").strip()
    if words:
        query["rs"] = searches.stash(request, words)
    if not query:
        query["ron"] = ""  # an empty search still shows as a search
    url = reverse("cases:detail", kwargs={"ref": case.reference})
    return HttpResponseRedirect(f"{url}?{query.urlencode()}#receptions", status=303)


def counterpart_section(request: HttpRequest, case: Case) -> dict:
    """Section of the case page: find the affected person's reception, see the ranking."""
    membership = request.membership
    searched = any(name in request.GET for name in SEARCH_FIELDS)
    data = None
    if searched:
        data = {name: request.GET.get(name, "") for name in ("ron", "roffice")}
        data["rq"] = searches.recall(request, request.GET.get("rs")) or ""
    on = case.occurred_on or case.discovered_on
    form, box = None, None
    if searched:
        initial = {"ron": on, "roffice": case.office_id}
        form = ReceptionSearchForm(data, municipality_id=case.municipality_id, initial=initial)
        found = form.is_valid()
        criteria = form.cleaned_data if found else {}
    else:
        # Not searched yet: the box is written out (receptions/search_box.html) with what
        # the form would start from, the case's day and office.
        box = {
            "on": on,
            "on_in_wareki": shows_wareki(on),
            "office_id": case.office_id,
            # One municipality's offices, whose names are unique in it (office_unique_name):
            # the order of Office's Meta (municipality, name) without joining the
            # municipality to sort by its code.
            "offices": list(
                Office.objects.filter(municipality_id=case.municipality_id).order_by("name")
            ),
        }
        found = True
        criteria = {"ron": on, "roffice": case.office}
    results = []
    if found:
        office = criteria.get("roffice")
        results = list(
            selectors.find_receptions(
                q=criteria.get("rq") or "",
                on=criteria.get("ron"),
                office_id=office.pk if office else None,
            )
        )
    affected, candidates = None, []
    wanted = request.GET.get("affected", "")
    if wanted.isascii() and wanted.isdigit() and len(wanted) < 18:
        affected = (
            Reception.objects.filter(pk=int(wanted), municipality_id=case.municipality_id)
            .select_related("office")
            .first()
        )
    if affected is not None:
        candidates = selectors.counterpart_candidates(affected)
    if candidates:
        # The case page has read the parties already (case.parties.all() is then prefetched).
        names = {normalise(p.name) for p in case.parties.all()}
        for candidate in candidates:
            candidate.already_party = normalise(candidate.reception.citizen_name) in names
    return {
        "case": case,
        "form": form,
        "box": box,
        "results": results,
        "affected": affected,
        "candidates": candidates,
        "counterparts": with_parties(
            list(Counterpart.objects.filter(case=case).select_related("candidate__office")), case
        ),
        "can_edit": case_permissions.can_edit_case(membership, case),
        "query": _search_query(request) if searched else "",
    }


def _search_query(request: HttpRequest) -> str:
    """The search as the links of the results carry it: the token, never the name."""
    query = QueryDict(mutable=True)
    for name in SEARCH_FIELDS:
        if name in request.GET:
            query[name] = request.GET[name]
    return query.urlencode()
