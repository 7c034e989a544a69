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
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scopes_disabled
from django_tasks.base import Task, TaskResultStatus

from cases.audit import audit_log
from cases.models import Municipality, User

from .models import FINISHED, Job, JobItem, JobState

logger = logging.getLogger("tadasu.jobs")

# A job that stopped this many times (its worker killed, e.g. out of memory) is not tried
# again: it is failed with a message instead of taking workers down in turn.
MAX_ATTEMPTS = 3
_UNEXPECTED = gettext_lazy(
    "The job stopped on an unexpected error and nothing was saved. "
    "The system administrators can find it in the log by its number."
)
PROGRESS_SECONDS = 24 * 3600


class JobRefused(Exception):
    """The work refused its input: `message` (translated) and what it names are shown on
    the job page; the work's transaction is rolled back. For one unit of a fanned-out job,
    `details` is that unit's row of the table on the job page."""

    def __init__(self, message: str, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


# What run_job_items() meets without telling the log: a unit refused, or another run first.
_EXPECTED = (JobRefused, IntegrityError)


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


def job_enqueue_many(
    *,
    kind: str,
    task: Task,
    by: User | None,
    municipality: Municipality | None,
    each: list[dict],
    total: int | None = None,
) -> Job:
    """A job fanned out: one task per dict of `each` (its keyword arguments), all in the
    caller's transaction. Workers take them in parallel; run_job_item() runs each once
    (run_job_items() each of a task's several units). `total`: the units, when a task does
    more than one."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            municipality=municipality,
            requested_by=by,
            total=len(each) if total is None else total,
        )
        for kwargs in each:
            task.enqueue(job_id=job.pk, **kwargs)
        audit_log(
            "tadasu.job.queued",
            by=by,
            obj=job,
            data={"kind": kind, "tasks": len(each)},
            municipality_id=municipality.pk if municipality else None,
        )
    return job


def run_job_item(
    job_id: int,
    *,
    key: str,
    work: Callable[[Job], int | None],
    finish: Callable[[Job, int], Outcome],
    describe: Callable[[], list[str]] | None = None,
) -> None:
    """One unit of a fanned-out job, once: `work(job)` (returning the id of what it made)
    and the item's JobItem row commit together, so a task run again finds the row and does
    nothing, and a task killed halfway left nothing behind. `finish(job, failed)` gives the
    outcome once every unit has been done or refused. `describe()`: what names the unit on
    the job page (a case and a person) should it fail on an unexpected error."""
    job = _start(job_id)
    if job is None:
        return
    error, row = "", []
    with translation.override(_language(job)):
        try:
            with transaction.atomic(), scopes_disabled():
                if JobItem.objects.filter(job_id=job_id, key=key).exists():
                    return  # done by an earlier run of this task
                result_id = work(job)
                JobItem.objects.create(job_id=job_id, key=key, result_id=result_id)
                _count_item(job_id, finish)
        except IntegrityError:
            return  # a second run of the same task committed it first: this one undid all
        except JobRefused as refused:
            error, row = refused.message, refused.details
        except Exception:
            logger.exception(
                "job item failed", extra={"event": "job.item_failed", "job_id": job_id}
            )
            error = str(_UNEXPECTED)
            names = _names(describe) if describe is not None else []
            row = [*names, error] if names else []
        if error:
            with transaction.atomic(), scopes_disabled():
                _, made = JobItem.objects.get_or_create(
                    job_id=job_id, key=key, defaults={"error": error, "row": row}
                )
                if made:
                    _count_item(job_id, finish)


def run_job_items(
    job_id: int,
    *,
    keys: list[str],
    work: Callable[[Job, list[int]], list[int | None]],
    one: Callable[[int], Callable[[Job], int | None]],
    finish: Callable[[Job, int], Outcome],
    describe: Callable[[int], list[str]] | None = None,
) -> None:
    """Several units of a fanned-out job (a task's letters), each once, together:
    `work(job, todo)` does the units at the positions `todo` of `keys` (those no earlier run
    did) in one transaction with their JobItem rows, and returns the id of what each made.

    Should anything go wrong there (a unit refused, an error, another run of the same units
    committing first), all of it is rolled back and each unit is run alone (run_job_item
    with `one(position)` as its work): a refusal or a failure is then its unit's own, and
    the others are done. `describe(position)`: as for run_job_item."""
    job = _start(job_id)
    if job is None:
        return
    with translation.override(_language(job)):
        try:
            with transaction.atomic(), scopes_disabled():
                done = set(
                    JobItem.objects.filter(job_id=job_id, key__in=keys).values_list(
                        "key", flat=True
                    )
                )
                todo = [i for i, key in enumerate(keys) if key not in done]
                if not todo:
                    return  # done by an earlier run of this task
                made = work(job, todo)
                JobItem.objects.bulk_create(
                    JobItem(job_id=job_id, key=keys[i], result_id=result_id)
                    for i, result_id in zip(todo, made, strict=True)
                )
                _count_item(job_id, finish, len(todo))
            return
        except Exception as error:
            # Refusals and a concurrent run are expected; anything else goes to the log (its
            # frames only: config/logs.py withholds the message), and is met again below
            # by the unit it belongs to.
            logger.log(
                logging.INFO if isinstance(error, _EXPECTED) else logging.WARNING,
                "job units run one by one",
                exc_info=not isinstance(error, _EXPECTED),
                extra={"event": "job.units_alone", "job_id": job_id, "units": len(keys)},
            )
    for i, key in enumerate(keys):
        run_job_item(
            job_id,
            key=key,
            work=one(i),
            finish=finish,
            describe=(lambda i=i: describe(i)) if describe is not None else None,
        )


def _names(describe: Callable[[], list[str]]) -> list[str]:
    """The names of a unit that failed, if they can still be read; else none."""
    try:
        with scopes_disabled():
            return describe()
    except Exception:
        logger.warning("job item unnamed", extra={"event": "job.item_unnamed"})
        return []


def _start(job_id: int) -> Job | None:
    """The job, marked running if it was queued; None once it is finished."""
    with scopes_disabled():
        job = Job.objects.select_related("requested_by").get(pk=job_id)
        if job.state in FINISHED:
            return None
        if job.state == JobState.QUEUED:
            Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
                state=JobState.RUNNING, started_at=timezone.now()
            )
    return job


def _count_item(job_id: int, finish: Callable[[Job, int], Outcome], units: int = 1) -> None:
    # The UPDATE locks the job's row until commit: of the tasks finishing together, exactly
    # one reads done == total.
    Job.objects.filter(pk=job_id).update(done=F("done") + units)
    job = Job.objects.select_related("requested_by").get(pk=job_id)
    if job.done < (job.total or 0):
        return
    failed = job.items.exclude(error="")
    failures = failed.count()
    outcome = finish(job, failures)
    job.state = JobState.FAILED if failures else JobState.DONE
    job.summary, job.link, job.finished_at = outcome.summary, outcome.link, timezone.now()
    job.details = [item.row or ["", "", item.error] for item in failed.order_by("id")[:200]]
    if failures == job.total:
        job.error = _("None could be done. They are listed below.")
    elif failures:
        job.error = _("%(count)s could not be done; the others were. They are listed below.") % {
            "count": failures
        }
    job.save(update_fields=["state", "summary", "error", "link", "finished_at", "details"])
    for step in outcome.then:
        transaction.on_commit(step)


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
        # of=("self",): PostgreSQL cannot lock the nullable side of the join.
        job = (
            Job.objects.select_for_update(of=("self",))
            .select_related("requested_by")
            .get(pk=job_id)
        )
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


def task_finished(sender, task_result, **kwargs) -> None:
    """django-tasks' task_finished signal: a task that failed outside run_job's own error
    handling (a database that went away, a bug before the work began) fails its job too,
    so that its page does not wait for ever."""
    if task_result.status != TaskResultStatus.FAILED:
        return
    job_id = task_result.kwargs.get("job_id")
    with scopes_disabled():
        job = Job.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is not None and job.state not in FINISHED:
        with translation.override(_language(job)):
            _fail(job.pk, str(_UNEXPECTED))


def _language(job: Job) -> str:
    return getattr(job.requested_by, "language", "") or "ja"


def run_job(job_id: int, work: Callable[[Job], Outcome]) -> None:
    """Run `work(job)` once for the job, in the requester's language; the work and the
    job's DONE state commit together. `work` raises JobRefused for bad input."""
    job = _claim(job_id)
    if job is None:
        logger.info("job already finished", extra={"event": "job.skipped", "job_id": job_id})
        return
    started = time.monotonic()
    with translation.override(_language(job)):
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
            _fail(job_id, str(_UNEXPECTED))
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
