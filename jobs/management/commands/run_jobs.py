"""A job worker: `manage.py run_jobs` (`make serve` starts TADASU_JOB_WORKERS of them).

Any machine that reaches the database (and the cache, for progress) can run more workers;
each takes one task at a time. See jobs/worker.py for what a killed worker leaves behind.
"""

from django.core.management.base import BaseCommand

from jobs.worker import Worker


class Command(BaseCommand):
    help = "Run background jobs (reception imports, letters in bulk, reminders, checkpoints)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--batch", action="store_true", help="run what is queued, then stop")

    def handle(self, *args, interval: float, batch: bool, **options) -> None:
        worker = Worker(interval=interval, batch=batch)
        worker.configure_signals()  # SIGTERM: finish the current task, then stop
        worker.run()
