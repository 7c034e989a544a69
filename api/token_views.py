"""The API tokens page: a user makes, lists and revokes their own tokens; a city manager
also those of contractors' service accounts (api/tokens.py says who may)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.access import member_required
from cases.errors import CaseError
from cases.models import Role

from .forms import TokenForm
from .tokens import service_accounts_for, token_create, token_revoke, tokens_visible_to


@member_required
def token_list(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    accounts = service_accounts_for(membership) if membership.role == Role.MANAGER else None
    form = TokenForm(request.POST or None, accounts=accounts)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            row, token = token_create(
                user=form.cleaned_data.get("account") or request.user,
                name=form.cleaned_data["name"],
                by=request.user,
            )
        except CaseError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            # Shown on this response only (never stored, never redirected to in a URL);
            # the page is not kept by the browser (NoStoreMiddleware).
            created = {"row": row, "token": token}
            form = TokenForm(accounts=accounts)
    return render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": list(tokens_visible_to(membership)), "created": created},
    )


@require_POST
@member_required
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(tokens_visible_to(request.membership), pk=token_id)
    token_revoke(token=token, by=request.user)
    messages.success(request, _("The token %(prefix)s… was revoked.") % {"prefix": token.prefix})
    return redirect("api_tokens")
