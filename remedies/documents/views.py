"""Document pages: prepare (preview), issue, approve, reissue, download."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import permissions
from cases.access import case_for, member_required
from cases.errors import CaseError
from cases.models import Case, Role
from cases.selectors import with_parties

from ..errors import RemedyError
from ..models import Document, DocumentKind, DocumentStatus
from . import services
from .forms import CASE_KINDS, KIND_HELP, CaseDocumentForm, PressReleaseForm


def _require_city(request: HttpRequest) -> None:
    if request.membership.role not in (Role.STAFF, Role.MANAGER):
        raise PermissionDenied(_("Only the city's staff can issue documents."))


def _pdf(content: bytes, filename: str, *, inline: bool) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    # Personal data: never cached by the browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


def _file_name(kind: str, tag: str) -> str:
    # ASCII only: the file name may reach logs and proxies; no names of people in it.
    return f"tadasu-{kind}-{tag}.pdf"


@member_required
def case_document(request: HttpRequest, ref: str) -> HttpResponse:
    """Prepare a document for this case. First the kind (a link per kind: ?kind=…), then that
    kind's fields only; "Preview" and "Issue" are both POSTs with the CSRF token in the body,
    so no token and no choice about a person ever lands in a URL, a log or the history."""
    _require_city(request)
    case = case_for(request, ref)
    source = request.POST if request.method == "POST" else request.GET
    kind = source.get("kind", "")
    context = {"case": case, "kinds": _kind_choices(case, kind), "kind": kind}
    if kind not in CASE_KINDS:
        if request.method == "POST":
            context["kind_error"] = _("Choose the document to prepare.")
        return render(request, "remedies/document_form.html", context)
    initial = {"kind": kind}
    # The reminder link next to a missed instalment names the person (by its row id).
    if request.method == "GET" and request.GET.get("party", "").isdigit():
        initial["party"] = int(request.GET["party"])
    data = request.POST if request.method == "POST" else None
    form = CaseDocumentForm(data, case=case, kind=kind, initial=initial)
    context["form"] = form
    if data is not None and form.is_valid():
        d = form.cleaned_data
        kwargs = {
            "kind": kind,
            "by": request.user,
            "case": case,
            "party": d.get("party"),
            "entry": d.get("entry"),
            "dated": d.get("dated"),
        }
        try:
            if "preview" in request.POST:
                pdf = services.document_preview(**kwargs)
                return _pdf(pdf, _file_name(kind, "preview"), inline=True)
            document = services.document_issue(**kwargs)
            if document.status == DocumentStatus.ISSUED:
                messages.success(request, _("The document was issued."))
            else:
                messages.success(request, _("The document awaits a manager's approval."))
            return redirect(reverse("cases:detail", kwargs={"ref": case.reference}) + "#documents")
        except (CaseError, RemedyError) as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    return render(request, "remedies/document_form.html", context)


def _kind_choices(case: Case, chosen: str) -> list[dict]:
    base = reverse("remedies:document_new", kwargs={"ref": case.reference})
    return [
        {
            "value": k.value,
            "label": k.label,
            "help": KIND_HELP[k],
            "href": f"{base}?kind={k.value}",
            "current": k.value == chosen,
        }
        for k in CASE_KINDS
    ]


@member_required
def document_list(request: HttpRequest) -> HttpResponse:
    """All documents the user may see; press releases and checklists are issued here."""
    documents = services.readable(
        Document.objects.select_related("case", "party"), request.membership
    ).order_by("-created_at")[:200]
    form = None
    if request.membership.role in (Role.STAFF, Role.MANAGER):
        form = PressReleaseForm(cases=Case.objects.order_by("-discovered_on"))
    return render(request, "remedies/document_list.html", {"documents": documents, "form": form})


@member_required
def municipal_document(request: HttpRequest, kind: str) -> HttpResponse:
    """A press release over chosen cases, or a blank desk checklist: preview or issue."""
    _require_city(request)
    if kind not in (DocumentKind.PRESS_RELEASE, DocumentKind.CHECKLIST):
        raise PermissionDenied(_("Unknown kind of document."))
    if request.method != "POST":
        # Preview and issue are POSTs (the CSRF token stays out of the URL): a GET, from an
        # old bookmark, goes back to the page with the forms.
        return redirect("documents:list")
    cases = Case.objects.order_by("-discovered_on")
    data = request.POST
    chosen: list[Case] = []
    if kind == DocumentKind.PRESS_RELEASE:
        form = PressReleaseForm(data, cases=cases)
        if not form.is_valid():
            return render(
                request,
                "remedies/document_list.html",
                {
                    "documents": services.readable(
                        Document.objects.select_related("case", "party"), request.membership
                    )[:200],
                    "form": form,
                },
                status=200,
            )
        chosen = list(form.cleaned_data["cases"])
    kwargs = {"kind": kind, "by": request.user, "cases": chosen}
    if kind == DocumentKind.PRESS_RELEASE:
        kwargs["dated"] = form.cleaned_data.get("dated")  # the date chosen on the page
    try:
        if "preview" in request.POST:
            pdf = services.document_preview(**kwargs)
            return _pdf(pdf, _file_name(kind, "preview"), inline=True)
        services.document_issue(**kwargs)
        messages.success(request, _("The document was issued."))
        return redirect("documents:list")
    except (CaseError, RemedyError) as error:
        messages.error(request, error.message)
        return redirect("documents:list")


def _document_for(request: HttpRequest, document_id: int) -> Document:
    # Document.objects is tenant-scoped: another company's or city's document is a 404; so is
    # one that also covers a case the user may not read (the scope sees only its first case).
    document = get_object_or_404(
        Document.objects.select_related("case", "municipality"), pk=document_id
    )
    if not services.can_read(request.membership, document):
        raise Http404
    return document


def _back(document: Document) -> HttpResponse:
    if document.case is not None:
        return redirect(
            reverse("cases:detail", kwargs={"ref": document.case.reference}) + "#documents"
        )
    return redirect("documents:list")


@member_required
def document_download(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    try:
        pdf = services.document_download(document=document, by=request.user)
    except RemedyError as error:
        messages.error(request, error.message)
        return _back(document)
    tag = f"{document.fiscal_year}-{document.number or document.pk}-v{document.version}"
    return _pdf(pdf, _file_name(document.kind, tag), inline=False)


@require_POST
@member_required
def document_approve(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document_for(request, document_id)
    try:
        services.document_approve(document=document, by=request.user)
        messages.success(request, _("The document was approved and issued."))
    except RemedyError as error:
        messages.error(request, error.message)
    return _back(document)


@require_POST
@member_required
def document_reissue(request: HttpRequest, document_id: int) -> HttpResponse:
    _require_city(request)
    document = _document_for(request, document_id)
    try:
        services.document_reissue(document=document, by=request.user)
        messages.success(request, _("A new version was issued."))
    except (CaseError, RemedyError) as error:
        messages.error(request, error.message)
    return _back(document)


def case_documents_section(request: HttpRequest, case: Case) -> dict:
    # Its own documents and the press releases over it, less any the user may not read.
    # The press releases' ids from the link table, in a subquery of the scoped query (not
    # the documents joined to their links, then picked by id again).
    linked = Document.cases.through.objects.filter(case=case).values("document_id")
    documents = with_parties(
        list(
            services.readable(
                Document.objects.filter(Q(case=case) | Q(pk__in=linked)), request.membership
            )
            .select_related("apology_record")
            # Whether a newer version exists is all the section shows of it: its id, not
            # the whole row (and its frozen data) joined.
            .annotate(superseded_id=F("superseded_by__id"))
            .order_by("-created_at", "-id")
        ),
        case,
    )
    return {
        "case": case,
        "documents": [(d, services.verify(d)) for d in documents],
        "can_issue": request.membership.role in (Role.STAFF, Role.MANAGER),
        "is_manager": request.membership.role == Role.MANAGER,
        "can_edit_case": permissions.can_edit_case(request.membership, case),
    }
