"""The case page's actions on one misregistration link: its correction, and a manager's
reason why it cannot be corrected (services in cases/links.py)."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from . import links, permissions
from .access import editable_case_for, member_required
from .forms import LinkCorrectionForm, LinkExcuseForm
from .models import Misregistration
from .views import _run


def _link_action(
    request: HttpRequest,
    ref: str,
    link_id: int,
    *,
    form_class: type,
    initial: Callable[[Misregistration], dict],
    service: Callable,
    title: str,
    done: str,
    managers_only: bool = False,
) -> HttpResponse:
    """A form about one link of the case (its correction, or why it cannot be corrected)."""
    case = editable_case_for(request, ref)
    link = get_object_or_404(
        Misregistration.objects.select_related("source", "target"), case=case, pk=link_id
    )
    if managers_only and not permissions.is_manager_of(request.membership, case):
        raise PermissionDenied(_("Only a manager can record why a link cannot be corrected."))
    form = form_class(request.POST or None, initial=initial(link))
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(form, service, link=link, by=request.user, **form.cleaned_data)
    ):
        messages.success(request, done)
        return redirect(reverse("cases:detail", kwargs={"ref": case.reference}) + "#links")
    context = {"form": form, "case": case, "link_text": link.sentence, "title": title}
    return render(request, "cases/link_action_form.html", context)


@member_required
def link_correct(request: HttpRequest, ref: str, link_id: int) -> HttpResponse:
    """Record when and how a link was corrected, or fix that record (city staff)."""
    return _link_action(
        request,
        ref,
        link_id,
        form_class=LinkCorrectionForm,
        initial=LinkCorrectionForm.initial_from,
        service=links.link_correct,
        title=_("Record the correction"),
        done=_("The correction was recorded."),
    )


@member_required
def link_excuse(request: HttpRequest, ref: str, link_id: int) -> HttpResponse:
    """A manager records why a link cannot be corrected."""
    return _link_action(
        request,
        ref,
        link_id,
        form_class=LinkExcuseForm,
        initial=lambda link: {"reason": link.uncorrectable_reason},
        service=links.link_excuse,
        title=_("Record why it cannot be corrected"),
        done=_("The reason was recorded."),
        managers_only=True,
    )
