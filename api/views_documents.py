"""A case's documents: list, issue (the case page's document form and service), download
(the same access check and audit line as the page's download)."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from cases.models import Role
from remedies.documents import services as documents
from remedies.documents.forms import CASE_KINDS, CaseDocumentForm
from remedies.models import Document, DocumentStatus

from .forms_bridge import BIGINT_MAX, cleaned
from .problems import Invalid
from .views import problems
from .views_base import TadasuAPIView

# The documents a case's page issues (a press release covers several cases: not here).
ISSUABLE = [(k.value, k.label) for k in CASE_KINDS]


class DocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.ChoiceField(choices=DocumentStatus.choices)
    number = serializers.IntegerField(allow_null=True)
    fiscal_year = serializers.IntegerField()
    version = serializers.IntegerField()
    dated = serializers.DateField()
    party_label = serializers.CharField(source="party.label", allow_null=True, default=None)
    sha256 = serializers.CharField(allow_blank=True)


class DocumentIssue(serializers.Serializer):
    """Which document, and for whom: the fields each kind asks for, as on the case page
    (an apology letter names the person; a receipt names the payment)."""

    kind = serializers.ChoiceField(choices=ISSUABLE)
    party = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, required=False)
    entry = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, required=False)
    dated = serializers.DateField(required=False)


def _documents_of(request: Request, case):
    # The page's section: the case's own documents and press releases over it, less any the
    # user may not read (one that also covers another city's case).
    covering = Document.objects.filter(Q(case=case) | Q(cases=case))
    return documents.readable(
        Document.objects.filter(pk__in=covering.values("pk")), request._request.membership
    ).select_related("party")


class DocumentsView(TadasuAPIView):
    @extend_schema(
        operation_id="documents_list",
        responses={200: DocumentSerializer(many=True), **problems(403, 404)},
    )
    def get(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        found = _documents_of(request, case).order_by("-created_at", "-id")
        return Response(DocumentSerializer(found, many=True).data)

    @extend_schema(
        operation_id="document_issue",
        request=DocumentIssue,
        responses={201: DocumentSerializer, **problems(400, 403, 404)},
        description="Issue a document of the case, or put it before a manager where the "
        "municipality requires 決裁 (status awaiting_approval).",
    )
    def post(self, request: Request, ref: str) -> Response:
        case = self.case(request, ref)
        if request._request.membership.role not in (Role.STAFF, Role.MANAGER):
            raise PermissionDenied(_("Only the city's staff can issue documents."))
        body = request.data if isinstance(request.data, dict) else None
        kind = body.get("kind") if body else None
        if kind not in {k.value for k in CASE_KINDS}:
            raise Invalid([("kind", _("Choose the document to prepare."))])
        data = cleaned(CaseDocumentForm, body, name="DocumentIssue", case=case, kind=kind)
        document = documents.document_issue(
            kind=kind,
            by=request.user,
            case=case,
            party=data.get("party"),
            entry=data.get("entry"),
            dated=data.get("dated"),
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDownloadView(TadasuAPIView):
    @extend_schema(
        operation_id="document_download",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            **problems(400, 403, 404),
        },
    )
    def get(self, request: Request, ref: str, document_id: int) -> HttpResponse:
        case = self.case(request, ref)
        document = get_object_or_404(_documents_of(request, case), pk=document_id)
        if not documents.can_read(request._request.membership, document):
            raise Http404
        pdf = documents.document_download(document=document, by=request.user)
        tag = f"{document.fiscal_year}-{document.number or document.pk}-v{document.version}"
        response = HttpResponse(pdf, content_type="application/pdf")
        # ASCII only, no names of people: the file name may reach logs and proxies.
        response["Content-Disposition"] = f'attachment; filename="tadasu-{document.kind}-{tag}.pdf"'
        return response
