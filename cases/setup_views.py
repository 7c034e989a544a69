"""The superuser's page for setting up a municipality (cases/setup.py does the work)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import crypto
from .models import Municipality, User
from .setup import SetupError, municipality_set_up
from .setup_checks import setup_problems
from .setup_forms import FirstUserFormSet, MunicipalitySetupForm, setup_spec, show_problems

# The session key under which the set-up's initial passwords wait, encrypted, for the one
# page that shows them (and removes them).
DONE_KEY = "tadasu_setup_done"


def superuser_required(view: Callable) -> Callable:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied(_("Only a superuser sets up a municipality."))
        return view(request, *args, **kwargs)

    return wrapper


@sensitive_post_parameters("payment_number")
@superuser_required
def municipality_setup(request: HttpRequest) -> HttpResponse:
    form = MunicipalitySetupForm(request.POST or None, request.FILES or None)
    users = FirstUserFormSet(request.POST or None, prefix="users")
    if request.method == "POST":
        # Both checked, so that one submission lists every mistake.
        valid = form.is_valid() & users.is_valid()
        spec, rows = setup_spec(form, users)
        seal = form.seal_bytes()
        if not valid:
            show_problems(setup_problems(spec, seal=seal), form, users, rows)
            return render(request, "cases/municipality_setup.html", {"form": form, "users": users})
        try:
            done = municipality_set_up(spec=spec, seal=seal, by=request.user, via="page")
        except SetupError as error:
            show_problems(error.problems, form, users, rows)
        else:
            request.session[DONE_KEY] = {
                "municipality": done.municipality.pk,
                "passwords": {u: crypto.encrypt(p) for u, p in done.passwords.items()},
            }
            return redirect("municipality_setup_done")
    return render(request, "cases/municipality_setup.html", {"form": form, "users": users})


@never_cache  # the page shows initial passwords: never kept by a browser or a proxy
@superuser_required
def municipality_setup_done(request: HttpRequest) -> HttpResponse:
    done = request.session.pop(DONE_KEY, None)
    if not isinstance(done, dict):
        # Shown once: reloaded, or never set up, the form is where to go.
        return redirect("municipality_setup")
    municipality = get_object_or_404(Municipality, pk=done["municipality"])
    passwords = done["passwords"]
    users = (
        User.objects.filter(username__in=list(passwords))
        .select_related("membership__contractor")
        .order_by("membership__role", "username")
    )
    context = {
        "m": municipality,
        "offices": municipality.offices.order_by("name"),
        "contractors": municipality.contractors.order_by("name"),
        "users": [{"user": u, "password": crypto.decrypt(passwords[u.username])} for u in users],
        "masked_account": crypto.mask(municipality.payment_account_number),
    }
    return render(request, "cases/municipality_setup_done.html", context)
