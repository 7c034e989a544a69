"""django-axes hooks: the lockout page, and the client address behind a proxy."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .mynumber import mask_individual_numbers


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    # 429 Too Many Requests, axes' own default; the page says how long, in the user's language.
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
        status=429,
    )


def client_ip_behind_proxy(request: HttpRequest) -> str | None:
    """The address our one reverse proxy saw: the right-most X-Forwarded-For entry.

    Entries to its left come from the client and can be forged; the proxy appends the
    address it accepted the connection from. Without a proxy REMOTE_ADDR is used instead.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-1] if addresses else request.META.get("REMOTE_ADDR")


def username_of(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The user name axes records, cut to the longest a user can have (150): axes keeps it in
    a varchar(255), and PostgreSQL refuses a longer one with an error, a 500 on the log-in
    page (found by tests/test_fuzz_all_forms.py). Django's log-in form passes any length.

    An individual number typed as the user name (a citizen's card at the desk) is kept
    masked: axes stores and looks up the name through this one callable, so the lock-out
    still counts the attempts, and the number itself is never written."""
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    name = credentials.get(field) if credentials else request.POST.get(field)
    return mask_individual_numbers(name[:150]) if isinstance(name, str) else name
