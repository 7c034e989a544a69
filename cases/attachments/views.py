"""Attachments: the upload page, the download (the only way a stored file goes out) and the
case page's section."""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from ..access import case_for, member_required
from ..errors import CaseError
from ..models import Attachment, Case
from .forms import AttachmentForm
from .services import SIGNATURES, attachment_add, attachment_open, can_add_attachment

logger = logging.getLogger(__name__)


@member_required
def attachment_new(request: HttpRequest, ref: str) -> HttpResponse:
    case = case_for(request, ref)
    if not can_add_attachment(request.membership, case):
        raise PermissionDenied(_("You may read this case but not change it."))
    form = AttachmentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            attachment_add(
                case=case,
                by=request.user,
                upload=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            )
        except CaseError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The file was attached."))
            return redirect(
                reverse("cases:detail", kwargs={"ref": case.reference}) + "#attachments"
            )
    return render(request, "cases/attachment_form.html", {"case": case, "form": form})


@member_required
def attachment_download(request: HttpRequest, ref: str, attachment_id: int) -> HttpResponse:
    case = case_for(request, ref)
    # Through the scoped case: an attachment of another case is not found here either.
    attachment = get_object_or_404(Attachment, case=case, pk=attachment_id)
    try:
        handle = attachment_open(attachment=attachment, by=request.user)
    except FileNotFoundError:
        logger.error("attachment %s: stored file %s is missing", attachment.pk, attachment.file)
        raise Http404 from None
    extension = SIGNATURES[attachment.content_type][1]
    response = FileResponse(
        handle,
        as_attachment=True,
        # ASCII only, like documents: names of people stay out of logs and proxies.
        filename=f"tadasu-attachment-{case.reference}-{attachment.pk}.{extension}",
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def attachments_section(request: HttpRequest, case: Case) -> dict:
    """Context of the case page's attachments section (registered in apps.py)."""
    can_add = can_add_attachment(request.membership, case)
    return {
        "case": case,
        "attachments": list(
            Attachment.objects.filter(case=case).select_related("uploaded_by").order_by("id")
        ),
        "can_add": can_add,
        "form": AttachmentForm() if can_add else None,
    }
