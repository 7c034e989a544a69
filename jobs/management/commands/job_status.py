"""Where a job stands, for the jobs an administrator queued from the command line
(`import_cases FILE --background` prints its number): the installation's own jobs belong
to no municipality, so no member's job page shows them.

While the job runs, its progress is read from the cache the workers write it to (shared
between machines when the cache is Redis: see the README's production section).
"""

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from jobs.models import Job
from jobs.services import current_progress


class Command(BaseCommand):
    help = "Print a job's state and progress (e.g. a case file queued with --background)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_id", type=int, metavar="JOB")

    def handle(self, *args, job_id: int, **options) -> None:
        with scopes_disabled():
            job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"There is no job {job_id}.")
        done, total = current_progress(job)
        line = f"Job {job.pk} ({job.kind}): {job.state}"
        if total:
            line += f", {done:,} of {total:,}"
        self.stdout.write(line)
        for text in (job.summary, job.error):
            if text:
                self.stdout.write(text)
