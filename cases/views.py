"""Thin views: look up within the tenant scope, parse with a form, call a service."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Window
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import (
    exports,
    pagecache,
    permissions,
    reveal,
    searches,
    sections,
    selectors,
    services,
)
from .access import case_for, editable_case_for, member_required
from .audit import audit_log
from .errors import CaseError
from .forms import (
    CaseForm,
    LanguageForm,
    MisregistrationForm,
    PartyForm,
    ReportForm,
    RevealForm,
    TimelineForm,
)
from .models import RECORD_OF, Membership, Misregistration, Party, Role, link_sentence

# Rows per page of the case list: a screenful, as ticket trackers show.
PAGE_SIZE = 25
# Timeline entries on the case page; the rest are on the case's timeline page.
TIMELINE_WINDOW = 30


def _run(form, service: Callable, **kwargs):
    """Call a service; a broken rule becomes a message next to its field."""
    try:
        return service(**kwargs)
    except CaseError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None


# The case list's search words never travel in a URL (cases/searches.py): the filter form
# posts, and the list is shown at a URL carrying a token for them.
SEARCH_PARAM, SEARCH_TOKEN = "q", "s"


def _search_redirect(request: HttpRequest, params) -> HttpResponse:
    """The list at a URL with the filters as they are and the words as a token."""
    query = params.copy()
    for name in ("csrfmiddlewaretoken", "page", "format", SEARCH_TOKEN):
        query.pop(name, None)
    words = query.pop(SEARCH_PARAM, [""])[-1].strip()
    if words:
        query[SEARCH_TOKEN] = searches.stash(request, words)
    kept = QueryDict(mutable=True)
    for name, values in query.lists():
        if any(values):  # an empty filter is left out of the URL
            kept.setlist(name, values)
    url = reverse("cases:list")
    return HttpResponseRedirect(f"{url}?{kept.urlencode()}" if kept else url, status=303)


@member_required
def case_list(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership
    if request.method == "POST":
        return _search_redirect(request, request.POST)
    if SEARCH_PARAM in request.GET:
        # An old link or bookmark with the words in it: moved into a token at once.
        return _search_redirect(request, request.GET)
    params = request.GET.copy()
    token = params.get(SEARCH_TOKEN)
    if token:
        words = searches.recall(request, token)
        if words is None:
            messages.info(request, _("That search has expired. Search again."))
            params.pop(SEARCH_TOKEN)
        else:
            params[SEARCH_PARAM] = words
    filterset = selectors.case_filter(membership=membership, params=params)
    cases = selectors.filtered_cases(filterset)
    fmt = request.GET.get("format")
    if fmt in exports.FORMATS:
        if filterset.is_valid():
            return _export(request, cases, fmt)
        messages.error(request, _("Correct the filters before exporting."))

    def body() -> str:
        # The current filters, carried by the pager and the export links.
        query = request.GET.copy()
        for name in ("page", "format"):
            query.pop(name, None)
        page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
        page.object_list = selectors.mark_people(
            filterset.deadlines.mark(page.object_list), membership
        )
        context = {
            "page": page,
            "filter_form": filterset.form,
            "query": query.urlencode(),
            "can_open": permissions.can_open_case(membership),
        }
        return render_to_string("cases/case_list_body.html", context, request)

    if messages.get_messages(request):
        # A page with a message (e.g. refused export) is rendered afresh, not cached.
        return render(request, "cases/case_list.html", {"body": body()})
    return render(
        request, "cases/case_list.html", {"body": pagecache.cached_body(request, "list", body)}
    )


def _export(request: HttpRequest, cases, fmt: str) -> HttpResponse:
    # Built here, inside the request: the tenant scope closes when the request ends.
    content, rows = exports.export(cases, request.membership, fmt)
    audit_log("tadasu.case.exported", by=request.user, data={"format": fmt, "rows": rows})
    content_type, extension = exports.FORMATS[fmt]
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="tadasu-cases.{extension}"'
    response["Cache-Control"] = "no-store"
    return response


@member_required
def case_new(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership
    if not permissions.can_open_case(membership):
        raise PermissionDenied(_("Your role cannot open cases."))
    form_class = ReportForm if membership.role == Role.CONTRACTOR else CaseForm
    form = form_class(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        case = _run(form, services.case_open, by=request.user, **form.cleaned_data)
        if case is not None:
            messages.success(request, _("Case %(ref)s was opened.") % {"ref": case.reference})
            return redirect("cases:detail", ref=case.reference)
    return render(
        request,
        "cases/case_form.html",
        {
            "form": form,
            "is_report": membership.role == Role.CONTRACTOR,
        },
    )


# Where case_detail_body.html wants the index of its sections, filled in once the page (and
# so the list of sections this user sees) is rendered.
SECTION_INDEX_MARK = "<!-- section-index -->"


@member_required
def case_detail(request: HttpRequest, ref: str) -> HttpResponse:
    case = case_for(request, ref)

    def body() -> str:
        # Ordered as Party's Meta says (case, label, id) less the case, which is this one:
        # the same rows in the same order, without compiling the case's own ordering.
        parties_qs = case.parties.order_by("label", "id")
        parties = list(parties_qs)
        reveal_rule = reveal.rule_for(request.membership, case)
        for party in parties:
            party.can_reveal = reveal.offers_something(reveal_rule, party)
        # The sections read the same rows through case.parties.all() and
        # case.misregistrations.all(): held as prefetched, they cost no query again (and the
        # parties' contact details are decrypted once).
        case._prefetched_objects_cache = {"parties": parties_qs}
        links_qs = (
            Misregistration.objects.filter(case=case).select_related("excused_by").order_by("id")
        )
        links = selectors.with_parties(list(links_qs), case, "source", "target")
        case._prefetched_objects_cache["misregistrations"] = links_qs
        # The latest entries only: a long-running case's page stays as quick as a new one's;
        # the whole 経過 is one click away (case_timeline) and in the case report.
        # The total rides on the same query (a window count): one query, not two. The rows
        # are read as the values their table shows (cases/tables.py), not as model instances.
        latest = list(
            case.timeline.annotate(total=Window(Count("pk")))
            .order_by("-occurred_on", "-id")
            .values_list("pk", "occurred_on", "actor", "text", "public", "total", named=True)[
                :TIMELINE_WINDOW
            ]
        )
        timeline_total = latest[0].total if latest else 0
        timeline = latest[::-1]
        context = {
            "case": case,
            "parties": parties,
            "links": links,
            "timeline": timeline,
            "timeline_total": timeline_total,
            "can_edit": permissions.can_edit_case(request.membership, case),
            "is_manager": permissions.is_manager_of(request.membership, case),
            "reveal_rule": reveal_rule,
            "sections": sections.render_context(request, case),
        }
        html = render_to_string("cases/case_detail_body.html", context, request)
        index = render_to_string(
            "cases/section_index.html", {"index": sections.index_of(html)}, request
        )
        return html.replace(SECTION_INDEX_MARK, index, 1)

    return render(
        request,
        "cases/case_detail.html",
        {"case": case, "body": pagecache.cached_body(request, f"case:{case.pk}", body)},
    )


@member_required
def case_timeline(request: HttpRequest, ref: str) -> HttpResponse:
    """The whole 経過 of a case, oldest first."""
    case = case_for(request, ref)
    return render(
        request,
        "cases/timeline.html",
        {
            "case": case,
            "timeline": list(case.timeline.all()),
            "can_edit": permissions.can_edit_case(request.membership, case),
        },
    )


@require_POST
@member_required
def timeline_publish(request: HttpRequest, ref: str, event_id: int) -> HttpResponse:
    """Mark a 経過 entry for publication or internal."""
    case = editable_case_for(request, ref)
    event = get_object_or_404(case.timeline, pk=event_id)
    try:
        services.timeline_publish(
            event=event, by=request.user, public=request.POST.get("public") == "1"
        )
    except CaseError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The timeline entry was updated."))
    return redirect(reverse("cases:detail", kwargs={"ref": case.reference}) + "#timeline")


@member_required
def case_edit(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    form = CaseForm(
        request.POST or None, membership=request.membership, initial=CaseForm.initial_from(case)
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(form, services.case_update, case=case, by=request.user, **form.cleaned_data)
    ):
        messages.success(request, _("The case was updated."))
        return redirect("cases:detail", ref=case.reference)
    return render(request, "cases/case_form.html", {"form": form, "case": case})


@require_POST
@member_required
def case_take(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    services.case_take(case=case, by=request.user)
    messages.success(request, _("You are now the assignee of this case."))
    return redirect("cases:detail", ref=case.reference)


@member_required
def party_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    form = PartyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        party = _run(form, services.party_add, case=case, by=request.user, **form.cleaned_data)
        if party is not None:
            messages.success(request, _("%(label)s was added.") % {"label": party.label})
            return redirect("cases:detail", ref=case.reference)
    return render(request, "cases/party_form.html", {"form": form, "case": case})


@require_POST
@member_required
def party_reveal(request: HttpRequest, ref: str, party_id: int) -> HttpResponse:
    """A person's details in clear, as far as the role may see them (cases/reveal.py), on
    an explicit request that is audited. On a closed case the reason is asked first."""
    case = case_for(request, ref)
    party = get_object_or_404(Party, case=case, pk=party_id)
    rule = reveal.rule_for(request.membership, case)
    context = {"case": case, "party": party, "rule": rule}
    form = None
    if rule.needs_reason:
        # The case page's button arrives without a reason: ask for it, show nothing yet.
        form = RevealForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return render(request, "cases/party_reveal_reason.html", {**context, "form": form})
    try:
        fields = services.party_reveal(
            party=party, by=request.user, reason=form.cleaned_data["reason"] if form else ""
        )
    except CaseError as error:
        form.add_error("reason", error.message)
        return render(request, "cases/party_reveal_reason.html", {**context, "form": form})
    rows = reveal.rows(reveal.Rule(fields), party)
    return render(request, "cases/party_reveal.html", {**context, "rows": rows})


@member_required
def party_edit(request: HttpRequest, ref: str, party_id: int) -> HttpResponse:
    case = editable_case_for(request, ref)
    party = get_object_or_404(Party, case=case, pk=party_id)
    if request.method == "GET":
        # The edit form shows the details in clear: that is a reveal too.
        services.party_reveal(party=party, by=request.user, purpose="edit")
    form = PartyForm(request.POST or None, initial=PartyForm.initial_from(party))
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(form, services.party_update, party=party, by=request.user, **form.cleaned_data)
    ):
        messages.success(request, _("%(label)s was updated.") % {"label": party.label})
        return redirect("cases:detail", ref=case.reference)
    return render(request, "cases/party_form.html", {"form": form, "case": case, "party": party})


@member_required
def link_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    parties = Party.objects.filter(case=case)
    form = MisregistrationForm(request.POST or None, parties=parties, case_kind=case.kind)
    if request.method == "POST" and form.is_valid():
        link = _run(
            form, services.misregistration_add, case=case, by=request.user, **form.cleaned_data
        )
        if link is not None:
            messages.success(request, _("The misregistration was recorded."))
            return redirect("cases:detail", ref=case.reference)
    # For the live preview (static/js/link_sentence.js): the sentence per data kind with
    # the two people left to fill in, and the people by label only (no names).
    kinds = [kind for kind, _label in form.fields["data_kind"].choices]
    sentence_data = {
        "sentences": {
            kind: link_sentence(source="{source}", data_kind=kind, target="{target}")
            for kind in kinds
        },
        "records": {kind: str(RECORD_OF[kind]) for kind in kinds},
        "labels": {str(p.pk): p.label for p in parties},
        "empty": _("Choose the two people and the data."),
    }
    kind = form["data_kind"].value()
    return render(
        request,
        "cases/link_form.html",
        {
            "form": form,
            "case": case,
            "enough_parties": parties.count() >= 2,
            "sentence_data": sentence_data,
            "record": RECORD_OF.get(kind, ""),
            "preview": form.preview(),
        },
    )


@member_required
def timeline_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    form = TimelineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        event = _run(form, services.timeline_add, case=case, by=request.user, **form.cleaned_data)
        if event is not None:
            messages.success(request, _("The timeline entry was added."))
            return redirect(reverse("cases:detail", kwargs={"ref": case.reference}) + "#timeline")
    return render(
        request,
        "cases/timeline_form.html",
        {
            "form": form,
            "case": case,
            "suggestions": TimelineForm.actor_suggestions(case),
        },
    )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the UI language; remembered on the user (and in a cookie before log-in)."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if form.is_valid():
        language = form.cleaned_data["language"]
        if request.user.is_authenticated:
            request.user.language = language
            request.user.save(update_fields=["language"])
        response.set_cookie(
            "django_language",
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,
        )
    return response
