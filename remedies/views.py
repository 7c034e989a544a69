"""Thin views for remedies: scoped lookup, a form, one service call."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cases import permissions
from cases.access import case_for, editable_case_for, member_required
from cases.errors import CaseError
from cases.models import Case, Party, Role, Stage
from cases.wareki import wareki, yen

from . import forms, ledger, plans, selectors, services
from .errors import RemedyError
from .models import AgencyContact, ApologyLetter, EntryKind, LedgerEntry, Side
from .workflow import STEPS, case_transition


def _back(case: Case, anchor: str = "") -> HttpResponse:
    url = reverse("cases:detail", kwargs={"ref": case.reference})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _form_page(
    request: HttpRequest,
    case: Case,
    form: Form,
    service: Callable,
    *,
    title: str,
    done: str,
    anchor: str,
    lead: str = "",
    call: dict,
) -> HttpResponse:
    """Show the form; on a valid POST call the service. A broken rule is shown next to its
    field; a conflict (someone else changed the case) answers 409 and asks for a reload."""
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            service(by=request.user, **call, **form.cleaned_data)
        except (CaseError, RemedyError) as error:
            if getattr(error, "conflict", False):
                status = 409
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            messages.success(request, done)
            return _back(case, anchor)
    return render(
        request,
        "remedies/form.html",
        {
            "case": case,
            "form": form,
            "title": title,
            "lead": lead,
        },
        status=status,
    )


def _parties(case: Case):
    return Party.objects.filter(case=case).order_by("label")


def _initial(case: Case, **extra) -> dict:
    return {"expected_head": ledger.ledger_head(case), **extra}


@member_required
def contact_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    form = forms.ContactForm(request.POST or None, initial={"contacted_on": timezone.localdate()})
    return _form_page(
        request,
        case,
        form,
        services.contact_add,
        call={"case": case},
        title=_("Record an agency contact"),
        done=_("The contact was recorded."),
        anchor="contacts",
    )


@member_required
def contact_answer(request: HttpRequest, ref: str, contact_id: int) -> HttpResponse:
    case = editable_case_for(request, ref)
    contact = get_object_or_404(AgencyContact, case=case, pk=contact_id)
    form = forms.AnswerForm(request.POST or None, initial={"answered_on": timezone.localdate()})
    return _form_page(
        request,
        case,
        form,
        services.contact_answer,
        call={"contact": contact},
        title=_("Record the agency's answer"),
        lead=contact.request,
        done=_("The answer was recorded."),
        anchor="contacts",
    )


@member_required
def agreement_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = editable_case_for(request, ref)
    form = forms.AgreementForm(
        request.POST or None,
        parties=_parties(case),
        initial={"agreed_on": timezone.localdate(), **selectors.agreement_initial(case)},
    )
    return _form_page(
        request,
        case,
        form,
        services.agreement_add,
        call={"case": case},
        title=_("Record a compensation agreement"),
        done=_("The agreement was recorded."),
        anchor="agreements",
    )


@member_required
def visit_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = case_for(request, ref)
    if not permissions.can_record_visit(request.membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    # Contractor staff book only their own company's money (a choice of one); city staff
    # say who paid or received it, which is not assumed.
    contractor_only = request.membership.role == Role.CONTRACTOR
    sides = {"hand_over_side": Side.CONTRACTOR, "collected_by": Side.CONTRACTOR}
    form = forms.VisitForm(
        request.POST or None,
        parties=_parties(case),
        initial=_initial(
            case, visited_on=timezone.localdate(), **(sides if contractor_only else {})
        ),
        contractor_only=contractor_only,
    )
    return _form_page(
        request,
        case,
        form,
        services.visit_record,
        call={"case": case},
        title=_("Record a visit"),
        done=_("The visit was recorded."),
        anchor="visits",
        lead=_(
            "Money handed over or collected at the visit is entered in the ledger at the same time."
        ),
    )


@member_required
def letter_delivery(request: HttpRequest, ref: str, letter_id: int) -> HttpResponse:
    case = editable_case_for(request, ref)
    letter = get_object_or_404(
        ApologyLetter.objects.select_related("party", "document"),
        case=case,
        pk=letter_id,
        document__isnull=False,
    )
    form = forms.LetterDeliveryForm(
        request.POST or None,
        # How it was sent is asked, not assumed (post is usual, but a hand-over is not post).
        initial={"sent_on": letter.sent_on, "delivery": letter.delivery},
    )
    return _form_page(
        request,
        case,
        form,
        services.letter_delivery_record,
        call={"letter": letter},
        title=_("Record when the apology letter was sent"),
        lead=_("Apology letter %(number)s to %(party)s, dated %(date)s.")
        % {
            "number": services.document_number(letter.document),
            "party": letter.party.label,
            "date": wareki(letter.document.dated),
        },
        done=_("The sending of the letter was recorded."),
        anchor="visits",
    )


LEDGER_FORMS = {
    "misallocation": (
        forms.MisallocationForm,
        ledger.ledger_post_misallocation,
        gettext_lazy("Record a misallocation"),
    ),
    "payment": (
        forms.PaymentForm,
        ledger.ledger_post_payment,
        gettext_lazy("Record a payment to a person"),
    ),
    "collection": (
        forms.CollectionForm,
        ledger.ledger_post_collection,
        gettext_lazy("Record a collection from a person"),
    ),
    "regrant": (
        forms.RegrantForm,
        ledger.ledger_post_regrant,
        gettext_lazy("Record points re-granted by the national system"),
    ),
    "national_correction": (
        forms.NationalCorrectionForm,
        ledger.ledger_post_national_correction,
        gettext_lazy("Record a correction by the national points system"),
    ),
    "write_off": (forms.WriteOffForm, ledger.ledger_write_off, gettext_lazy("Write off a balance")),
}

# What each ledger form starts from (remedies/selectors.py): the facts already recorded.
LEDGER_CARRIED = {
    "misallocation": selectors.misallocation_initial,
    "payment": selectors.payment_initial,
    "collection": selectors.collection_initial,
}

LEDGER_LEADS = {
    "national_correction": gettext_lazy(
        "The national points system took the points granted by mistake back from the person "
        "who held them and granted them to the person owed. Both sides are entered together; "
        "it is a correction, not a cost to anyone and not a write-off."
    ),
}


@member_required
def ledger_new(request: HttpRequest, ref: str, kind: str) -> HttpResponse:
    if kind not in LEDGER_FORMS:
        raise PermissionDenied(_("Unknown kind of entry."))
    case = editable_case_for(request, ref)
    if kind == "write_off" and not permissions.is_manager_of(request.membership, case):
        raise PermissionDenied(_("Only a manager can approve a write-off."))
    form_class, service, title = LEDGER_FORMS[kind]
    if kind == "national_correction" and not ledger.points_involved(case):
        # Refused before the clerk fills anything in, with the message saving would give.
        return render(
            request,
            "remedies/form.html",
            {"case": case, "title": str(title), "refused": ledger.not_points_message()},
        )
    carried = LEDGER_CARRIED.get(kind)
    form = form_class(
        request.POST or None,
        parties=_parties(case),
        initial=_initial(case, on=timezone.localdate(), **(carried(case) if carried else {})),
    )
    return _form_page(
        request,
        case,
        form,
        service,
        call={"case": case},
        title=str(title),
        lead=str(LEDGER_LEADS.get(kind, "")),
        done=_("The ledger entry was recorded."),
        anchor="ledger",
    )


@member_required
def ledger_reverse(request: HttpRequest, ref: str, entry_id: int) -> HttpResponse:
    case = editable_case_for(request, ref)
    entry = get_object_or_404(LedgerEntry.objects.select_related("party"), case=case, pk=entry_id)
    if entry.kind == EntryKind.WRITE_OFF and not permissions.is_manager_of(
        request.membership, case
    ):
        raise PermissionDenied(_("Only a manager can approve a write-off."))
    form = forms.ReverseForm(request.POST or None, initial=_initial(case, on=timezone.localdate()))
    lead = _("Reverse %(kind)s of %(amount)s for %(party)s dated %(date)s.") % {
        "kind": entry.get_kind_display(),
        "amount": yen(abs(entry.delta)),
        "party": entry.party.label,
        "date": wareki(entry.on),
    }
    return _form_page(
        request,
        case,
        form,
        ledger.ledger_reverse,
        call={"entry": entry},
        title=_("Reverse a ledger entry"),
        lead=lead,
        done=_("The entry was reversed."),
        anchor="ledger",
    )


@require_POST
@member_required
def transition(request: HttpRequest, ref: str, step: str) -> HttpResponse:
    case = case_for(request, ref)
    if step not in STEPS:
        raise PermissionDenied(_("Unknown step."))
    form = forms.TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The request was incomplete. Reload the page."))
        return _back(case, "stage")
    try:
        case_transition(
            case=case,
            step=step,
            by=request.user,
            expected_stage=form.cleaned_data["expected_stage"],
            on=form.cleaned_data["on"],
            note=form.cleaned_data["note"],
        )
    except (CaseError, RemedyError) as error:
        if getattr(error, "conflict", False):
            return render(
                request,
                "remedies/conflict.html",
                {"case": case, "message": error.message},
                status=409,
            )
        messages.error(request, error.message)
    else:
        messages.success(request, _("The case moved on: %(step)s.") % {"step": STEPS[step].label})
    return _back(case, "stage")


@member_required
def plan_new(request: HttpRequest, ref: str) -> HttpResponse:
    """Agree a repayment plan with a person who holds an excess (or renegotiate theirs).
    "Fill in" proposes an even monthly split into the rows, saving nothing; "Save" records
    the rows as they stand."""
    case = editable_case_for(request, ref)
    parties = _parties(case)
    initial = _initial(case, agreed_on=timezone.localdate())
    excess = _excesses(case)
    if len(excess) == 1:
        initial["party"] = excess[0][0].pk
    form = forms.PlanForm(request.POST or None, parties=parties, initial=initial)
    status = 200
    if request.method == "POST" and "fill" in request.POST:
        # The rows are about to be replaced: only what the split needs must be valid.
        form.is_valid()
        if not any(name in form.errors for name in forms.PlanForm.SPLIT_FIELDS):
            form = _filled_plan_form(form, parties)
    elif request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            plans.plan_agree(
                case=case,
                party=d["party"],
                agreed_on=d["agreed_on"],
                instalments=form.instalments(),
                note=d["note"],
                expected_head=d["expected_head"],
                by=request.user,
            )
        except (CaseError, RemedyError) as error:
            if getattr(error, "conflict", False):
                status = 409
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The repayment plan was recorded."))
            return _back(case, "plans")
    return render(
        request,
        "remedies/plan_form.html",
        {"case": case, "form": form, "excess": excess},
        status=status,
    )


def _excesses(case: Case) -> list[tuple[Party, int]]:
    """Who holds an excess, and how much (as a positive amount)."""
    return [(b.party, -b.amount) for b in ledger.balances(case) if b.amount < 0]


def _filled_plan_form(form: forms.PlanForm, parties) -> forms.PlanForm:
    """The same form with its rows replaced by an even monthly split of the person's excess
    (nothing is saved); a missing count or first date is said next to its field."""
    d = form.cleaned_data
    if not d.get("count"):
        form.add_error("count", _("Enter the number of instalments."))
    if not d.get("first_due"):
        form.add_error("first_due", _("Enter the first due date."))
    excess = -ledger.balance_of(d["party"])
    if excess <= 0:
        form.add_error(
            "party", _("%(party)s holds no excess to be repaid.") % {"party": d["party"].label}
        )
    if any(name in form.errors for name in forms.PlanForm.SPLIT_FIELDS):
        return form
    data = form.data.copy()
    for n in range(1, forms.MAX_INSTALMENTS + 1):
        data[f"due_{n}"] = data[f"amount_{n}"] = ""
    for n, (due, amount) in enumerate(
        plans.split_evenly(excess, min(d["count"], excess), d["first_due"]), start=1
    ):
        data[f"due_{n}"] = due.isoformat()
        data[f"amount_{n}"] = str(amount)
    return forms.PlanForm(data, parties=parties)


# ---- sections of the case page (registered in apps.py) ----------------------------------


def visit_shortcut_section(request: HttpRequest, case: Case) -> dict:
    """Contractor staff open the case at the citizen's door to record a visit: the form is
    the first thing under the title. City staff get it too while visits are the stage."""
    membership = request.membership
    can_visit = permissions.can_record_visit(membership, case)
    is_contractor = membership is not None and membership.role == Role.CONTRACTOR
    return {
        "case": case,
        "show": can_visit and (is_contractor or case.stage == Stage.VISIT),
    }


def stage_section(request: HttpRequest, case: Case) -> dict:
    return selectors.stage_panel(case, request.user)


def remedies_section(request: HttpRequest, case: Case) -> dict:
    return selectors.remedies_overview(case, request.membership)
