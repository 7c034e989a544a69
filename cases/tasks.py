"""An audit checkpoint as a background job: queued when a bulk job (a reception sheet,
letters in bulk) has committed its many entries, so that they are covered at once.

The checkpoint itself is the one `manage.py audit_checkpoint` writes (cases/audit_verify.py);
it is queued only where this deployment holds a checkpoint key (the worker that takes the job
must hold it too: keep TADASU_AUDIT_CHECKPOINT_KEY the same on every worker, or leave the
checkpoints to the scheduled command on the machine that has it).
"""

from django.conf import settings
from django.utils.translation import gettext as _
from django_tasks import task

from jobs.models import Job, JobKind
from jobs.services import JobRefused, Outcome, job_enqueue, run_job

from .audit_verify import CheckpointError, write_checkpoint
from .models import Municipality, User


def checkpoint_enqueue_if_keyed(
    *, by: User | None, municipality: Municipality | None
) -> Job | None:
    if not settings.AUDIT_CHECKPOINT_KEY:
        return None
    return job_enqueue(
        kind=JobKind.AUDIT_CHECKPOINT, task=checkpoint_task, by=by, municipality=municipality
    )


@task()
def checkpoint_task(*, job_id: int) -> None:
    def work(job: Job) -> Outcome:
        try:
            name, body = write_checkpoint()
        except CheckpointError as error:
            raise JobRefused(str(error)) from None
        entries = sum(chain["count"] for chain in body["chains"])
        return Outcome(
            summary=_("Audit checkpoint %(name)s was written (%(entries)s entries).")
            % {"name": name, "entries": entries}
        )

    run_job(job_id, work)
