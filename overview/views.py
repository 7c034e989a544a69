"""The dashboard, the work queues and the deadline settings: thin views over selectors."""

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.access import member_required
from cases.audit import municipality_version
from cases.deadlines import DEFAULT_DAYS, days_by_stage
from cases.errors import CaseError
from cases.models import ClosedDay, Membership, Role
from cases.selectors import deadline_book

from . import services
from .dashboard import dashboard as build_dashboard
from .forms import ClosedDayForm, DeadlinesForm, PeriodForm
from .queues import queues_for

DASHBOARD_ROLES = (Role.MANAGER, Role.AUDITOR)
DASHBOARD_CACHE_SECONDS = 3600


def _city_reader(request: HttpRequest) -> Membership:
    membership: Membership = request.membership
    if membership.role not in DASHBOARD_ROLES:
        raise PermissionDenied(_("The dashboard is for managers and auditors."))
    return membership


def _city_manager(request: HttpRequest) -> Membership:
    membership: Membership = request.membership
    if membership.role != Role.MANAGER:
        raise PermissionDenied(_("Only a manager can change deadlines."))
    return membership


@member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = _city_reader(request)
    municipality = membership.municipality
    today = timezone.localdate()
    # The period: this 年度 unless the reader chose another, or a range of dates. A bad
    # choice is answered next to its field and the current 年度 is shown meanwhile.
    form = PeriodForm(request.GET or None, today=today)
    period = form.period()
    # The figures are the same for every reader of the municipality: they are computed
    # once per change (the audit version), per day (deadlines move with it), period and
    # language.
    key = ":".join(
        [
            "dashboard",
            str(municipality.pk),
            str(municipality_version(municipality.pk)),
            today.isoformat(),
            period.key,
            get_language() or "ja",
        ]
    )
    parts = cache.get(key)
    if parts is None:
        board = build_dashboard(municipality, today, period)
        parts = {
            name: render_to_string(f"overview/{template}.html", {"board": board}, request)
            for name, template in (("now", "dashboard_body"), ("period", "dashboard_period"))
        }
        cache.set(key, parts, DASHBOARD_CACHE_SECONDS)
    return render(
        request,
        "overview/dashboard.html",
        {
            "body": mark_safe(parts["now"]),  # noqa: S308  # nosec B308 B703  # our template
            "period_body": mark_safe(parts["period"]),  # noqa: S308  # nosec B308 B703
            "municipality": municipality,
            "today": today,
            "period_form": form,
            "period": period,
        },
    )


@member_required
def queues(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership
    book = deadline_book(membership)
    return render(
        request,
        "overview/queues.html",
        {"q": queues_for(request.user, membership, book), "membership": membership},
    )


def _settings_page(request, membership, form, closed_form, status=200) -> HttpResponse:
    return render(
        request,
        "overview/deadlines.html",
        {
            "form": form,
            "closed_form": closed_form,
            "closed_days": list(
                ClosedDay.objects.filter(municipality=membership.municipality_id).order_by("day")
            ),
            "can_change": membership.role == Role.MANAGER,
            "defaults": DEFAULT_DAYS,
        },
        status=status,
    )


def _form_error(form, error: CaseError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@member_required
def deadlines(request: HttpRequest) -> HttpResponse:
    membership = _city_reader(request)
    current = days_by_stage(membership.municipality_id)
    form = DeadlinesForm(request.POST or None, current=current)
    if request.method == "POST":
        _city_manager(request)
        if form.is_valid():
            try:
                services.deadlines_set(
                    municipality=membership.municipality, days=form.cleaned_data, by=request.user
                )
            except CaseError as error:
                _form_error(form, error)
            else:
                messages.success(request, _("The deadlines were saved."))
                return redirect("overview:deadlines")
    return _settings_page(request, membership, form, ClosedDayForm())


@require_POST
@member_required
def closed_day_new(request: HttpRequest) -> HttpResponse:
    membership = _city_manager(request)
    form = ClosedDayForm(request.POST)
    if form.is_valid():
        try:
            services.closed_day_add(
                municipality=membership.municipality, by=request.user, **form.cleaned_data
            )
        except CaseError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("The closed day was added."))
            return redirect("overview:deadlines")
    current = days_by_stage(membership.municipality_id)
    return _settings_page(request, membership, DeadlinesForm(current=current), form)


@require_POST
@member_required
def closed_day_delete(request: HttpRequest, day_id: int) -> HttpResponse:
    membership = _city_manager(request)
    closed = get_object_or_404(
        ClosedDay.objects.select_related("municipality"),
        pk=day_id,
        municipality=membership.municipality_id,
    )
    services.closed_day_remove(closed_day=closed, by=request.user)
    messages.success(request, _("The closed day was removed."))
    return redirect("overview:deadlines")
