"""Jobs: enqueue in the caller's transaction, run once, report progress and the outcome.

- job_enqueue() writes the job row and its task row (django-tasks' database backend) in the
  transaction of the request or command that asks for them: both commit, or neither.
- run_job() is what a task calls. The work and the job's DONE state commit in one
  transaction, so a task run again after a crash (jobs/worker.py puts the task of a dead
  worker back in the queue) either finds the job done and does nothing, or finds nothing of
  the first run (it was rolled back with the connection) and does the work once.
- Progress while the work's transaction is open cannot be read from the database by anyone
  else, so it goes to the cache (Redis in production, shared by every process).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled
from django_tasks.base import Task

from cases.audit import audit_log
from cases.models import Municipality, User

from .models import FINISHED, Job, JobState

logger = logging.getLogger("tadasu.jobs")

# A job that stopped this many times (its worker killed, e.g. out of memory) is not tried
# again: it is failed with a message instead of taking workers down in turn.
MAX_ATTEMPTS = 3
PROGRESS_SECONDS = 24 * 3600


class JobRefused(Exception):
    """The work refused its input: `message` (translated) and what it names are shown on
    the job page; the work's transaction is rolled back."""

    def __init__(self, message: str, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


@dataclass
class Outcome:
    summary: str
    link: str = ""
    done: int | None = None
    total: int | None = None
    then: list[Callable[[], None]] = field(default_factory=list)  # after the commit


def job_enqueue(
    *,
    kind: str,
    task: Task,
    by: User | None,
    municipality: Municipality | None,
    total: int | None = None,
    **task_kwargs,
) -> Job:
    """A job and its task, in the caller's transaction (or a transaction of their own)."""
    with transaction.atomic():
        job = Job.objects.create(kind=kind, municipality=municipality, requested_by=by, total=total)
        task.enqueue(job_id=job.pk, **task_kwargs)
        audit_log(
            "tadasu.job.queued",
            by=by,
            obj=job,
            data={"kind": kind},
            municipality_id=municipality.pk if municipality else None,
        )
    return job


def progress(job: Job, done: int, total: int | None = None) -> None:
    """Where a running job stands, for its page (readable while its transaction is open)."""
    cache.set(
        _progress_key(job.pk), (done, total if total is not None else job.total), PROGRESS_SECONDS
    )


def current_progress(job: Job) -> tuple[int, int | None]:
    if job.state == JobState.RUNNING:
        found = cache.get(_progress_key(job.pk))
        if found is not None:
            return found
    return job.done, job.total


def _progress_key(job_id: int) -> str:
    return f"job:{job_id}:progress"


def _claim(job_id: int) -> Job | None:
    """Mark the job running (its own transaction: the page shows it at once); None when it
    is already finished, as when a task is run again after its job was done."""
    with transaction.atomic(), scopes_disabled():
        job = Job.objects.select_for_update().select_related("requested_by").get(pk=job_id)
        if job.state in FINISHED:
            return None
        job.attempts += 1
        job.state = JobState.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["attempts", "state", "started_at"])
    return job


def _fail(job_id: int, message: str, details: list | None = None) -> None:
    with transaction.atomic(), scopes_disabled():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.state in FINISHED:
            return
        job.state, job.error, job.details = JobState.FAILED, message, details or []
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "error", "details", "finished_at"])


def run_job(job_id: int, work: Callable[[Job], Outcome]) -> None:
    """Run `work(job)` once for the job, in the requester's language; the work and the
    job's DONE state commit together. `work` raises JobRefused for bad input."""
    job = _claim(job_id)
    if job is None:
        logger.info("job already finished", extra={"event": "job.skipped", "job_id": job_id})
        return
    language = getattr(job.requested_by, "language", "") or "ja"
    started = time.monotonic()
    with translation.override(language):
        if job.attempts > MAX_ATTEMPTS:
            _fail(job_id, _("The job stopped %(n)s times and was given up.") % {"n": MAX_ATTEMPTS})
            _log(job, "job.given_up", started)
            return
        try:
            with transaction.atomic(), scopes_disabled():
                locked = Job.objects.select_for_update().get(pk=job_id)
                if locked.state in FINISHED:  # another run finished it meanwhile
                    return
                outcome = work(job)
                locked.state, locked.summary, locked.link = (
                    JobState.DONE,
                    outcome.summary,
                    outcome.link,
                )
                locked.done = outcome.done if outcome.done is not None else locked.done
                locked.total = outcome.total if outcome.total is not None else locked.total
                locked.finished_at = timezone.now()
                locked.save()
                for step in outcome.then:
                    transaction.on_commit(step)
        except JobRefused as refused:
            _fail(job_id, refused.message, refused.details)
            _log(job, "job.refused", started)
            return
        except Exception:
            # The frames go to the log (config/logs.py withholds the exception's message);
            # the page says that nothing was saved.
            logger.exception("job failed", extra=_fields(job, "job.failed", started))
            _fail(
                job_id,
                _(
                    "The job stopped on an unexpected error and nothing was saved. "
                    "The system administrators can find it in the log by its number."
                ),
            )
            return
    _log(job, "job.done", started)


def _fields(job: Job, event: str, started: float) -> dict:
    return {
        "event": event,
        "job_id": job.pk,
        "kind": job.kind,
        "municipality_id": job.municipality_id,
        "attempt": job.attempts,
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _log(job: Job, event: str, started: float) -> None:
    logger.info(event, extra=_fields(job, event, started))
