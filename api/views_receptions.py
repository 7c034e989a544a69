"""Reception sheets (受付表) through the API: the upload page, its preview's column mapping
and its confirmation in one multipart request (receptions/views.py sheet_upload and
sheet_preview), through the same forms and services, so the same rules and messages apply.

The page keeps an upload between its steps in the session; an API client has no session,
so one request carries the file and the mapping. Without a complete mapping nothing is
kept: the answer lists the columns to map, and the client sends the file again with them.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from receptions import permissions, services, sheets, tasks
from receptions.errors import ReceptionError, SheetRefused
from receptions.forms import MappingForm, UploadForm
from receptions.models import PendingUpload

from . import serializers as out
from .problems import Invalid
from .views import problems
from .views_base import TadasuAPIView
from .views_more import _job


def _column_field(target: str) -> serializers.Field:
    label, _names = sheets.TARGETS[target]
    return serializers.IntegerField(
        min_value=0,
        max_value=999,
        required=False,
        allow_null=True,
        help_text=f"{label}: the column's number counted from 0 (the page's select). "
        "Guessed from the header when not sent; send an empty value for 'not in this sheet'.",
    )


# The request as the schema documents it; the forms validate it (the page's messages).
ReceptionSheetUpload = type(
    "ReceptionSheetUpload",
    (serializers.Serializer,),
    {
        "file": serializers.FileField(
            help_text="The sheet: CSV (UTF-8 or Shift_JIS) or Excel .xlsx, header on line 1."
        ),
        **{target: _column_field(target) for target in sheets.TARGETS},
        "contractor": serializers.IntegerField(
            min_value=1,
            required=False,
            allow_null=True,
            help_text="The contractor running the desk (its staff see these receptions).",
        ),
    },
)

LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[202],
    description="The job importing the sheet (/api/v1/jobs/<id>/): poll it for progress.",
)


def _form_errors(form) -> list[tuple[str | None, str]]:
    return [
        (None if name == "__all__" else name, message)
        for name, messages in form.errors.items()
        for message in messages
    ]


class ReceptionSheetsView(TadasuAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="reception_sheet_import",
        request={"multipart/form-data": ReceptionSheetUpload},
        parameters=[LOCATION],
        responses={202: out.JobSerializer, **problems(400, 403, 415)},
        description=(
            "Upload a reception sheet and start its import, as the upload page, its column "
            "mapping and its confirmation do. The columns are guessed from the header as on "
            "the page; fields sent override the guess. Answers 202 with the job; without a "
            "complete mapping, 400 listing the columns to map (nothing is kept)."
        ),
    )
    def post(self, request: Request) -> Response:
        membership = request._request.membership
        if not permissions.can_import(membership):
            raise PermissionDenied(_("Only city staff and managers import reception sheets."))
        upload_form = UploadForm(request.data, request.FILES)
        if not upload_form.is_valid():
            raise Invalid(_form_errors(upload_form))
        upload = upload_form.cleaned_data["file"]
        if upload.size > sheets.max_bytes():
            raise Invalid([("file", _("The file is too large."))])
        # The upload and the job in one transaction: a refusal leaves no job and no upload.
        with transaction.atomic():
            try:
                pending = services.upload_store(
                    data=upload.read(), file_name=upload.name, by=request.user
                )
            except ReceptionError as error:
                raise Invalid([("file", error.message)]) from None
            try:
                job = self._enqueue(request, pending)
            except BaseException:
                # The row goes with the rollback; its stored file would stay behind.
                pending.file.storage.delete(pending.file.name)
                raise
        response = Response(out.JobSerializer(_job(job)).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api:job", kwargs={"job_id": job.pk})
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_415_UNSUPPORTED_MEDIA_TYPE:
            # The other writes take JSON, and the 415 title says so; this one takes a file.
            response.data["title"] = _(
                "Send the sheet as multipart/form-data, the file in the field “file”."
            )
        return response

    def _enqueue(self, request: Request, pending: PendingUpload):
        membership = request._request.membership
        try:
            # The header only, as the preview page reads it (the whole sheet was screened).
            table = sheets.read_table(pending.read(), limit=sheets.PREVIEW_ROWS)
        except SheetRefused as error:
            raise Invalid([("file", error.message)]) from None
        # The page's form, bound as if its selects were left as guessed and then changed
        # where the client sent a field.
        guessed = sheets.guess_mapping(table.header)
        data = {t: "" if c is None else str(c) for t, c in guessed.items()}
        for name in [*sheets.TARGETS, "contractor"]:
            if name in request.data:
                data[name] = request.data[name]
        form = MappingForm(data, header=table.header, membership=membership)
        if not form.is_valid():
            raise Invalid(_form_errors(form))
        try:
            return tasks.sheet_import_enqueue(
                pending=pending,
                mapping=form.mapping(),
                contractor=form.cleaned_data["contractor"],
                by=request.user,
            )
        except ReceptionError as error:
            raise Invalid([(error.field, error.message)]) from None
