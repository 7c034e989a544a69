"""A job worker: `manage.py run_jobs` (`make serve` starts TADASU_JOB_WORKERS of them).

Any machine that reaches the database (and the cache, for progress) can run more workers;
each takes one task at a time. See jobs/worker.py for what a killed worker leaves behind.

A worker runs at a lower scheduling priority than the web server (TADASU_JOB_NICE, default
10; 0 keeps the priority it was started with): on a machine that runs both, a clerk's page
gets the processor before an import or a letter run does, and the jobs take the time the
pages leave. The jobs' database work runs in PostgreSQL's own processes, unaffected.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.worker import Worker


class Command(BaseCommand):
    help = "Run background jobs (reception imports, letters in bulk, reminders, checkpoints)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--batch", action="store_true", help="run what is queued, then stop")

    def handle(self, *args, interval: float, batch: bool, **options) -> None:
        if settings.JOB_NICE and hasattr(os, "nice"):
            os.nice(settings.JOB_NICE)
        worker = Worker(interval=interval, batch=batch)
        worker.configure_signals()  # SIGTERM: finish the current task, then stop
        worker.run()
