"""Deadline reminders as a background job (`send_reminders --background`, for a scheduler
that should not wait on the mail server).

The day is fixed when the job is queued, so a job run late still mails that day's list. The
job's DONE state and the reminders' audit entry commit together: a job run again after it
finished sends nothing. Mail cannot be taken back, though: a worker killed after the mail
server accepted the mails but before the commit leaves the job to be run again, and those
mails go out a second time (at least once, never lost).
"""

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from cases.models import Municipality
from jobs.models import Job, JobKind
from jobs.services import Outcome, job_enqueue, run_job

from . import reminders


def reminders_enqueue(*, days: int, municipality_code: str | None = None) -> Job:
    municipality = Municipality.objects.get(code=municipality_code) if municipality_code else None
    return job_enqueue(
        kind=JobKind.REMINDERS,
        task=reminders_task,
        by=None,
        municipality=municipality,
        days=days,
        municipality_code=municipality_code,
        day=timezone.localdate().isoformat(),
    )


@task()
def reminders_task(*, job_id: int, days: int, municipality_code: str | None, day: str) -> None:
    def work(job: Job) -> Outcome:
        result, messages = reminders.send(
            date.fromisoformat(day), days, municipality_code=municipality_code
        )
        return Outcome(
            summary=_("%(sent)s reminder mail(s) were sent about %(cases)s case(s).")
            % {"sent": result.sent, "cases": result.cases},
            done=result.sent,
            total=len(messages),
        )

    run_job(job_id, work)
