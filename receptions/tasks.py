"""A reception sheet imported in the background (the upload page waits on the job's page).

Thin on purpose: the job wraps the one service call, services.sheet_import, which is
already all-or-nothing; jobs/services.py commits the import and the job's DONE state
together, so a run repeated after a crash imports the sheet once.
"""

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django_tasks import task

from cases.models import Contractor, User
from cases.scoping import tenant_scope
from cases.tasks import checkpoint_enqueue_if_keyed
from jobs.models import Job, JobKind
from jobs.services import JobRefused, Outcome, job_enqueue, progress, run_job

from . import permissions, services
from .errors import ReceptionError, SheetRefused
from .models import PendingUpload


def sheet_import_enqueue(
    *,
    pending: PendingUpload,
    mapping: dict[str, int | None],
    contractor: Contractor | None,
    by: User,
) -> Job:
    """The import of an uploaded sheet as a job, in this transaction."""
    if not permissions.can_import(by.membership):
        raise ReceptionError(_("Only city staff and managers import reception sheets."))
    with transaction.atomic():
        PendingUpload.objects.filter(pk=pending.pk).update(queued=True)
        return job_enqueue(
            kind=JobKind.RECEPTION_IMPORT,
            task=sheet_import_task,
            by=by,
            municipality=pending.municipality,
            total=pending.row_count,
            pending_id=pending.pk,
            mapping=mapping,
            contractor_id=contractor.pk if contractor else None,
        )


@task()
def sheet_import_task(
    *, job_id: int, pending_id: int, mapping: dict, contractor_id: int | None
) -> None:
    def work(job: Job) -> Outcome:
        by = job.requested_by
        with tenant_scope(by):
            pending = PendingUpload.objects.filter(pk=pending_id, uploaded_by=by).first()
            if pending is None:
                raise JobRefused(_("The uploaded sheet is no longer kept: upload it again."))
            contractor = Contractor.objects.filter(pk=contractor_id).first()
            try:
                sheet = services.sheet_import(
                    data=pending.read(),
                    sha256=pending.sha256,
                    file_name=pending.file_name,
                    mapping=mapping,
                    contractor=contractor,
                    by=by,
                    progress=lambda done, total: progress(job, done, total),
                )
            except SheetRefused as refused:
                raise JobRefused(refused.message, [list(row) for row in refused.rows]) from None
            except ReceptionError as error:
                raise JobRefused(error.message) from None
            services.upload_discard(pending)
        return Outcome(
            summary=_("%(count)s receptions were imported.") % {"count": f"{sheet.row_count:,}"},
            link=reverse("receptions:sheet", kwargs={"sheet_id": sheet.pk}),
            done=sheet.row_count,
            total=sheet.row_count,
            # The sheet's entries covered by a checkpoint at once (after the commit).
            then=[lambda: checkpoint_enqueue_if_keyed(by=by, municipality=job.municipality)],
        )

    run_job(job_id, work)
