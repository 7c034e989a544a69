"""The API's endpoints: a scoped look-up, the page's form, the page's service (api/README in
docs/API.md). Nothing here writes; the services do."""

import django_filters
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from cases import permissions, selectors, services
from cases.filters import CaseFilter
from cases.forms import CaseForm, ReportForm, TimelineForm
from cases.models import Membership, Party, Role
from remedies import forms as remedy_forms
from remedies import ledger
from remedies import services as remedy_services
from remedies.models import Side, Visit

from . import serializers as out
from .forms_bridge import body_serializer, cleaned
from .problems import PROBLEM_TYPE, Invalid
from .views_base import TadasuAPIView, etag_of, expected_head

PAGE_SIZE = 25


class Problem(serializers.Serializer):
    """RFC 9457 problem details."""

    class FieldError(serializers.Serializer):
        field = serializers.CharField(allow_null=True)
        message = serializers.CharField()

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldError(many=True, required=False)


def problems(*codes: int) -> dict:
    """The refusals an operation may answer, as problem details (api/problems.py)."""
    return {
        (code, PROBLEM_TYPE): OpenApiResponse(Problem, description="Problem details (RFC 9457)")
        for code in (401, 429, *codes)
    }


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The case\'s ETag (its ledger head) as last read, e.g. "42". A write after '
    "someone else's answers 409.",
)
ETAG = {"ETag": {"schema": {"type": "string"}, "description": "The case's ledger head."}}


class Page(PageNumberPagination):
    page_size = PAGE_SIZE


# ---- who am I -------------------------------------------------------------------------------


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    organisation = serializers.CharField()
    language = serializers.CharField()


class MeView(TadasuAPIView):
    @extend_schema(responses={200: MeSerializer, **problems(403)}, operation_id="me")
    def get(self, request: Request) -> Response:
        membership: Membership = request._request.membership
        return Response(
            {
                "username": request.user.username,
                "role": membership.role,
                "organisation": str(membership.organisation),
                "language": request.LANGUAGE_CODE,
            }
        )


# ---- cases ----------------------------------------------------------------------------------

FILTER_NAMES = [name for name in CaseFilter.base_filters if name != "q"]


def _offices_in_scope(request: Request, form) -> None:
    # A token a city made for a contractor's account opens cases for that city only.
    token = request._request.api_token
    if token is not None and token.municipality_id is not None:
        field = form.base_fields["office"] if isinstance(form, type) else form.fields["office"]
        field.queryset = field.queryset.filter(municipality_id=token.municipality_id)


def _filter_parameter(name: str, flt) -> OpenApiParameter:
    """The case list's filter as a query parameter of the schema."""
    kinds = {
        django_filters.BooleanFilter: OpenApiTypes.BOOL,
        django_filters.DateFilter: OpenApiTypes.DATE,
        django_filters.ModelChoiceFilter: OpenApiTypes.INT,
    }
    kind = next((t for cls, t in kinds.items() if isinstance(flt, cls)), OpenApiTypes.STR)
    enum = None
    if isinstance(flt, django_filters.ChoiceFilter) and "choices" in flt.extra:
        enum = [value for value, _label in flt.extra["choices"]]
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, enum=enum, description=str(flt.label or "")
    )


class ScopedReportForm(ReportForm):
    def __init__(self, *args, request: Request, **kwargs):
        super().__init__(*args, **kwargs)
        _offices_in_scope(request, self)


class ScopedCaseForm(CaseForm):
    def __init__(self, *args, request: Request, **kwargs):
        super().__init__(*args, **kwargs)
        _offices_in_scope(request, self)


class CaseListView(TadasuAPIView):
    @extend_schema(
        operation_id="cases_list",
        parameters=[
            *[_filter_parameter(name, CaseFilter.base_filters[name]) for name in FILTER_NAMES],
            OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses={200: out.CasePageSerializer, **problems(400, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        membership = request._request.membership
        # The case list's filters, except the name search: names never travel in a URL.
        params = {name: request.query_params.get(name) for name in FILTER_NAMES}
        params = {name: value for name, value in params.items() if value is not None}
        del membership  # the list reads it from the request, as the page does
        return self.listed(request, params)

    @staticmethod
    def listed(request: Request, params: dict) -> Response:
        """One page of the case list for these filters (a 400 naming the wrong ones)."""
        filterset = selectors.case_filter(membership=request._request.membership, params=params)
        if not filterset.is_valid():
            raise Invalid(
                [(name, message) for name, errs in filterset.errors.items() for message in errs]
            )
        cases = filterset.qs.select_related("municipality")
        paginator = Page()
        page = paginator.paginate_queryset(cases, request, view=None)
        return paginator.get_paginated_response(out.CaseSerializer(page, many=True).data)

    @extend_schema(
        operation_id="cases_open",
        request=body_serializer(ReportForm, "CaseReport"),
        responses={201: out.CaseDetailSerializer, **problems(400, 403)},
        description="Contractor staff report an error from one of their desks (the report "
        "page's fields); city staff and managers open a case (also contractor, prevention, "
        "assignee).",
    )
    def post(self, request: Request) -> Response:
        membership: Membership = request._request.membership
        if not permissions.can_open_case(membership):
            raise PermissionDenied(_("Your role cannot open cases."))
        is_report = membership.role == Role.CONTRACTOR
        data = cleaned(
            ScopedReportForm if is_report else ScopedCaseForm,
            request.data,
            name="CaseReport" if is_report else "CaseOpen",
            membership=membership,
            request=request,
        )
        case = services.case_open(by=request.user, **data)
        return _case_response(case, status.HTTP_201_CREATED)


def _case_response(case, code: int = status.HTTP_200_OK) -> Response:
    case.party_list = list(Party.objects.filter(case=case).order_by("label", "id"))
    case.ledger_head = ledger.ledger_head(case)
    response = Response(out.CaseDetailSerializer(case).data, status=code)
    response["ETag"] = f'"{case.ledger_head}"'
    if code == status.HTTP_201_CREATED:
        response["Location"] = reverse("api:case", kwargs={"ref": case.reference})
    return response


class CaseSearchSerializer(serializers.Serializer):
    q = serializers.CharField(
        help_text="A case reference or a person's name (kana-insensitive), as the case "
        "list's search box.",
        allow_blank=False,
    )
    stage = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    office = serializers.IntegerField(required=False)
    contractor = serializers.IntegerField(required=False)
    overdue = serializers.BooleanField(required=False)
    discovered_from = serializers.DateField(required=False)
    discovered_to = serializers.DateField(required=False)
    sort = serializers.CharField(required=False)


class CaseSearchView(TadasuAPIView):
    """The case list's name search. A name typed into a search is a citizen's name, so it
    travels in the body of a POST, never in a URL (the page keeps it in the session for the
    same reason, cases/searches.py); the other filters may come along in the body."""

    @extend_schema(
        operation_id="cases_search",
        request=CaseSearchSerializer,
        parameters=[OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY)],
        responses={200: out.CasePageSerializer, **problems(400, 403, 404)},
        description="The case list (its filters and paging) searched by reference or name. "
        "Reads only: nothing is written.",
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        words = body.get("q")
        if not isinstance(words, str) or not words.strip():
            raise Invalid([("q", _("Enter a case reference or a name to search for."))])
        params = {"q": words}
        for name in FILTER_NAMES:
            value = body.get(name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            if not isinstance(value, str | int):
                raise Invalid([(name, _("Enter a single value."))])
            params[name] = str(value)
        return CaseListView.listed(request, params)


class CaseView(TadasuAPIView):
    @extend_schema(
        operation_id="case_read",
        responses={200: out.CaseDetailSerializer, **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        return _case_response(self.case(request, ref))


# ---- 経過 ----------------------------------------------------------------------------------


class TimelineView(TadasuAPIView):
    @extend_schema(
        operation_id="timeline_list",
        responses={200: out.TimelineEventSerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        events = case.timeline.order_by("occurred_on", "id")
        return Response(out.TimelineEventSerializer(events, many=True).data)

    @extend_schema(
        operation_id="timeline_add",
        request=body_serializer(TimelineForm, "TimelineEntry"),
        responses={201: out.TimelineEventSerializer, **problems(400, 403, 404)},
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.editable_case(request, ref)
        data = cleaned(TimelineForm, request.data, name="TimelineEntry")
        event = services.timeline_add(case=case, by=request.user, **data)
        return Response(out.TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)


# ---- visits ---------------------------------------------------------------------------------


class VisitsView(TadasuAPIView):
    @extend_schema(
        operation_id="visits_list",
        responses={200: out.VisitSerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        visits = (
            Visit.objects.filter(case=case).select_related("party").order_by("visited_on", "id")
        )
        return Response(out.VisitSerializer(visits, many=True).data)

    @extend_schema(
        operation_id="visit_record",
        parameters=[IF_MATCH],
        request=body_serializer(remedy_forms.VisitForm, "VisitRecord", exclude=("expected_head",)),
        responses={201: out.VisitSerializer, **problems(400, 403, 404, 409, 428)},
        description="Record a visit, as the visit form does: money handed over or collected "
        "there is entered in the ledger in the same step. Contractor staff book their own "
        "company's side only.",
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        membership: Membership = request._request.membership
        if not permissions.can_record_visit(membership, case):
            raise PermissionDenied(_("You may read this case but not change it."))
        contractor_only = membership.role == Role.CONTRACTOR
        body = request.data
        if contractor_only and isinstance(body, dict):
            # The visit form offers contractor staff their own company's side only, chosen
            # in advance (remedies/views.py visit_new): the same default here.
            body = {"hand_over_side": Side.CONTRACTOR, "collected_by": Side.CONTRACTOR, **body}
        head = expected_head(request)
        data = cleaned(
            remedy_forms.VisitForm,
            body,
            name="VisitRecord",
            exclude=("expected_head",),
            extra={"expected_head": head},
            parties=Party.objects.filter(case=case).order_by("label"),
            contractor_only=contractor_only,
        )
        visit = remedy_services.visit_record(case=case, by=request.user, **data)
        response = Response(out.VisitSerializer(visit).data, status=status.HTTP_201_CREATED)
        response["ETag"] = etag_of(case)
        return response


class NotFoundView(TadasuAPIView):
    """Any other address under /api/v1/: a problem document, not the pages' HTML 404."""

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise NotFound

    get = post = put = patch = delete = extend_schema(exclude=True)(_not_found)
