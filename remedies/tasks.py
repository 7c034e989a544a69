"""A case file (docs/interchange.md) imported in the background: `import_cases FILE
--background`. A thin wrapper around the one service call, import_case_file, which is all
cases or none in one transaction: jobs/services.py commits that transaction with the job's
DONE state, so a run repeated after a crash imports the file once.

The file waits in the "job_inputs" storage (settings.STORAGES; a folder under var/ by
default) until its job has imported it: a worker on another machine needs that storage
shared (a network folder, or a bucket through django-storages).
"""

import secrets

from django.core.files.base import File
from django.core.files.storage import storages
from django.db import transaction
from django.utils.translation import gettext as _
from django_tasks import task

from cases.tasks import checkpoint_enqueue_if_keyed
from jobs.models import Job, JobKind
from jobs.services import JobRefused, Outcome, job_enqueue, progress, run_job

from .interchange import InterchangeError, NotJSONError, import_case_file


def case_import_enqueue(*, path: str, skip_existing: bool = False, amend: bool = False) -> Job:
    """Copy the file to the job inputs and queue its import (the installation's own job:
    no municipality, no user; the command line starts it)."""
    storage = storages["job_inputs"]
    with open(path, "rb") as source:
        name = storage.save(f"case-file-{secrets.token_hex(16)}.json", File(source))
    try:
        with transaction.atomic():
            return job_enqueue(
                kind=JobKind.CASE_IMPORT,
                task=case_import_task,
                by=None,
                municipality=None,
                name=name,
                skip_existing=skip_existing,
                amend=amend,
            )
    except BaseException:
        storage.delete(name)  # no job will ever read it
        raise


@task()
def case_import_task(*, job_id: int, name: str, skip_existing: bool, amend: bool = False) -> None:
    storage = storages["job_inputs"]

    def work(job: Job) -> Outcome:
        if not storage.exists(name):
            raise JobRefused(_("The case file is no longer kept: queue its import again."))
        try:
            with storage.open(name, "rb") as stream:
                imported = import_case_file(
                    stream,
                    skip_existing=skip_existing,
                    amend=amend,
                    # Cases read so far, of the file's (manage.py job_status) while it runs.
                    progress=lambda done, total: progress(job, done, total),
                )
        except NotJSONError:
            raise JobRefused(_("This is not a JSON file in UTF-8.")) from None
        except InterchangeError as error:
            raise JobRefused(f"{error} " + _("Nothing was imported.")) from None
        return Outcome(
            summary=_("%(count)s cases were imported.") % {"count": f"{len(imported):,}"},
            done=len(imported),
            total=len(imported),
            then=[
                lambda: storage.delete(name),
                lambda: checkpoint_enqueue_if_keyed(by=None, municipality=None),
            ],
        )

    run_job(job_id, work)
