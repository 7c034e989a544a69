"""The web layer's shared look-ups: signed in as a member, and a case found inside the
user's tenant scope (as healthchecks keeps `_get_rw_check_for_user` beside its views).

Every app's views use these; a case outside the user's scope is a 404, one the user may read
but not change a 403.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from . import permissions
from .models import Case, Membership


def member_required(view: Callable) -> Callable:
    """Signed in and acting for an organisation; otherwise log-in page or 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.membership is None:
            raise PermissionDenied(_("Your account is not attached to any organisation."))
        return view(request, *args, **kwargs)

    return wrapper


def case_for(request: HttpRequest, ref: str) -> Case:
    # Case.objects is scoped to the user's organisation: a foreign case is a 404.
    case = get_object_or_404(
        Case.objects.select_related("municipality", "office", "contractor", "assignee"),
        reference=ref,
    )
    membership = getattr(request, "membership", None)
    if membership is not None:
        _hold_organisation(membership, case)
    return case


def _hold_organisation(membership: Membership, case: Case) -> None:
    """Every page's header names the user's organisation (membership.organisation): when it
    is this case's city or company, it is the row just read with the case, not read again."""
    if membership.municipality_id is not None:
        if membership.municipality_id == case.municipality_id:
            membership.municipality = case.municipality
    elif membership.contractor_id is not None and membership.contractor_id == case.contractor_id:
        membership.contractor = case.contractor


def editable_case_for(request: HttpRequest, ref: str) -> Case:
    case = case_for(request, ref)
    if not permissions.can_edit_case(request.membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    return case
