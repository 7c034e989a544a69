"""Workers: django-tasks-db's own worker loop, plus what it lacks for us.

django-tasks-db takes a ready task row under a lock, marks it RUNNING, runs it and records
the outcome; a worker killed meanwhile leaves the row RUNNING for ever. So each of our
workers also writes a heartbeat (JobWorker.seen_at) from a thread of its own, and puts back
in the queue every RUNNING task whose worker has not been heard of for
TADASU_JOB_LEASE_SECONDS. Running a task twice is safe by construction (jobs/services.py:
the work and the job's DONE state commit together; letters are keyed one by one).

- `manage.py run_jobs`: a worker process (`make serve` starts TADASU_JOB_WORKERS of them; any
  machine that reaches the database can run more).
- TADASU_JOBS_IN_PROCESS=1 (`make run`): the same loop in a thread of the development server.
- work_off(): runs what is queued, here and now (tests, `--wait` of the commands).
"""

import logging
import os
import socket
import sys
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_scopes import scopes_disabled
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as _DBWorker
from django_tasks_db.models import DBTaskResult

from .models import FINISHED, Job, JobState, JobWorker

logger = logging.getLogger("tadasu.jobs")


def lease() -> timedelta:
    return timedelta(seconds=settings.TADASU_JOB_LEASE_SECONDS)


def heartbeat(worker_id: str) -> None:
    JobWorker.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": socket.gethostname()[:100],
            "pid": os.getpid(),
            "seen_at": timezone.now(),
        },
    )


def requeue_stale() -> int:
    """Put back in the queue every running task whose worker has gone quiet; how many."""
    cutoff = timezone.now() - lease()
    alive = set(JobWorker.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True))
    requeued = 0
    with transaction.atomic():
        running = DBTaskResult.objects.running().select_for_update(skip_locked=True)
        for task in running.filter(started_at__lt=cutoff):
            if task.worker_ids and task.worker_ids[-1] in alive:
                continue
            task.status = TaskResultStatus.READY
            task.started_at = None
            task.save(update_fields=["status", "started_at"])
            job_id = task.args_kwargs.get("kwargs", {}).get("job_id")
            with scopes_disabled():
                Job.objects.filter(pk=job_id).exclude(state__in=FINISHED).update(
                    state=JobState.QUEUED
                )
            logger.warning("task requeued", extra={"event": "job.requeued", "job_id": job_id})
            requeued += 1
        JobWorker.objects.filter(seen_at__lt=cutoff - 10 * lease()).delete()
    return requeued


class Worker(_DBWorker):
    """django-tasks-db's worker with a heartbeat thread that also requeues stale tasks."""

    def __init__(self, **options):
        options.setdefault("queue_names", ["*"])
        options.setdefault("excluded_queue_names", [])
        options.setdefault("backend_name", "default")
        options.setdefault("startup_delay", True)
        options.setdefault("max_tasks", None)
        options.setdefault("worker_id", get_random_string(32))
        super().__init__(**options)
        self._stopped = threading.Event()

    def run(self) -> None:
        heartbeat(self.worker_id)
        beat = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
        beat.start()
        try:
            super().run()
        finally:
            self._stopped.set()
            # Stopped in good order: not counted as alive (/healthz) any longer.
            JobWorker.objects.filter(worker_id=self.worker_id).delete()

    def _beat(self) -> None:
        period = max(1.0, settings.TADASU_JOB_LEASE_SECONDS / 4)
        while not self._stopped.wait(period):
            try:
                close_old_connections()
                heartbeat(self.worker_id)
                requeue_stale()
            except Exception:
                # A locked SQLite file or a database restart: the next beat tries again.
                logger.warning("heartbeat failed", extra={"event": "job.heartbeat_failed"})
        connection.close()


def work_off(limit: int | None = None, *, job_id: int | None = None) -> int:
    """Run the queued tasks (of one job, or all) in this thread until none is left (or
    `limit`); how many ran. Workers elsewhere may take some of the same tasks meanwhile."""
    worker = Worker(interval=0, batch=True, startup_delay=False, max_tasks=None)
    ready = DBTaskResult.objects.ready()
    if job_id is not None:
        ready = ready.filter(args_kwargs__kwargs__job_id=job_id)
    ran = 0
    while limit is None or ran < limit:
        with transaction.atomic():
            task = ready.get_locked()
            if task is None:
                return ran
            task.claim(worker.worker_id)
        worker.run_task(task)
        ran += 1
    return ran


def start_in_process_worker_if_asked() -> None:
    """`make run`: a worker thread in the development server's serving process."""
    if not settings.TADASU_JOBS_IN_PROCESS or sys.argv[1:2] != ["runserver"]:
        return
    if os.environ.get("RUN_MAIN") != "true" and "--noreload" not in sys.argv:
        return  # the autoreloader's watching process serves nothing

    def loop() -> None:
        time.sleep(1)  # after the apps are ready
        Worker(interval=1, batch=False, startup_delay=False).run()

    threading.Thread(target=loop, name="jobs-in-process", daemon=True).start()
