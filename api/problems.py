"""Errors as RFC 9457 problem details (`application/problem+json`).

Every refusal of the API reads the same way: `type` (a URI naming the kind of problem),
`title` and `detail` in the user's language, `status`, and for bad input `errors`, a list
of {field, message} with the message the page would show beside that field. Rules broken in
a service (CaseError, RemedyError) arrive here as they reach the pages' field messages; a
RemedyError marked as a conflict (someone else changed the case) is a 409.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.errors import CaseError
from cases.middleware import BUSY_RETRY_AFTER_SECONDS, is_lock_wait_timeout
from remedies.errors import RemedyError

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "/api/problems/"


class Invalid(exceptions.APIException):
    """Input that a form or a service refused: [(field or None, message), …]."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: list[tuple[str | None, str]]):
        self.errors = errors
        super().__init__(detail=errors[0][1] if errors else "")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED


def _titles() -> dict[int, tuple[str, str]]:
    # (type slug, title) per status; built per call so that the titles are translated.
    return {
        400: ("invalid", _("The request has mistakes.")),
        401: ("unauthenticated", _("A valid API token is needed.")),
        403: ("forbidden", _("You may not do this.")),
        404: ("not-found", _("Not found.")),
        405: ("method-not-allowed", _("This method is not allowed here.")),
        406: ("not-acceptable", _("This format cannot be returned.")),
        409: ("conflict", _("Someone else changed this case.")),
        412: ("precondition-failed", _("Someone else changed this case.")),
        415: ("unsupported-media-type", _("Send the body as JSON.")),
        428: ("precondition-required", _("Send the If-Match header.")),
        429: ("throttled", _("Too many requests.")),
        503: ("busy", _("Not saved: the system is busy")),
    }


def problem(
    status_code: int, detail: str = "", errors: list[tuple[str | None, str]] | None = None
) -> dict:
    slug, title = _titles().get(status_code, ("error", _("The request could not be handled.")))
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail or title,
    }
    if errors is not None:
        body["errors"] = [{"field": field, "message": message} for field, message in errors]
    return body


def _flatten(detail, prefix: str = "") -> list[tuple[str | None, str]]:
    """DRF's nested error detail as (field, message) pairs; non_field_errors → None."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else str(key)
            if prefix:
                name = f"{prefix}.{name}" if name else prefix
            pairs += _flatten(value, name or "")
        return pairs
    if isinstance(detail, list):
        pairs = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                pairs += _flatten(value, f"{prefix}.{index}" if prefix else str(index))
            else:
                pairs.append((prefix or None, str(value)))
        return pairs
    return [(prefix or None, str(detail))]


def exception_handler(exc, context) -> Response | None:
    if is_lock_wait_timeout(exc):
        # As on the pages (cases.middleware.BusyDatabaseMiddleware): the write gave up
        # waiting for another transaction's lock (an import holding the city's rows) and
        # its transaction rolled back: nothing was saved, send it again later.
        body = problem(
            503,
            _(
                "Another piece of work for your municipality is using the same records. "
                "Nothing was saved: send the request again in a minute or two."
            ),
        )
        return Response(
            body,
            status=503,
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
            content_type=PROBLEM_TYPE,
        )
    if isinstance(exc, CaseError | RemedyError):
        if getattr(exc, "conflict", False):
            exc = Conflict(detail=exc.message)
        else:
            exc = Invalid([(exc.field, exc.message)])
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's own 500 handling (and it is logged)
    code = response.status_code
    if isinstance(exc, Invalid):
        body = problem(code, _("Correct the fields listed in errors."), exc.errors)
    elif isinstance(exc, exceptions.ValidationError):
        body = problem(code, _("Correct the fields listed in errors."), _flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else ""
        body = problem(code, str(detail) if isinstance(detail, str) else "")
    response.data = body
    response.content_type = PROBLEM_TYPE
    return response


def https_required(request: HttpRequest) -> JsonResponse:
    body = problem(403, _("The API answers over HTTPS only."))
    body["type"] = TYPE_BASE + "https-required"
    return JsonResponse(body, status=403, content_type=PROBLEM_TYPE)
