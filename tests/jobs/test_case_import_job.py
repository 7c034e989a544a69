"""A case file imported by a job worker (`import_cases FILE --background`): once, even when
the worker dies halfway through the file."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult

from cases import crypto
from cases.models import Case
from jobs.models import Job, JobState
from jobs.services import current_progress
from jobs.worker import requeue_stale, work_off
from remedies import tasks as remedy_tasks
from remedies.demo import DEMO_CASES, _organisations, _users
from remedies.interchange import replay

pytestmark = pytest.mark.django_db

# The demo's case file: every case in it, once.
IN_FILE = len(json.loads(DEMO_CASES.read_text(encoding="utf-8"))["cases"])


@pytest.fixture
def inputs(settings, tmp_path):
    folder = tmp_path / "job-inputs"
    settings.STORAGES = {
        **settings.STORAGES,
        "job_inputs": {
            "BACKEND": "cases.storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    with scopes_disabled():
        _users(_organisations())
    return folder


def _queue() -> Job:
    out = io.StringIO()
    call_command("import_cases", str(DEMO_CASES), "--background", stdout=out)
    assert "queued" in out.getvalue()
    with scopes_disabled():
        return Job.objects.get(kind="case_import")


def test_a_queued_case_file_is_imported_by_a_worker_and_then_removed(
    inputs, django_capture_on_commit_callbacks
):
    job = _queue()
    with scopes_disabled():
        assert not Case.objects.exists()
    (waiting,) = inputs.iterdir()
    # The file holds names and accounts: while it waits it is as unreadable as a letter.
    stored = waiting.read_bytes()
    assert crypto.is_encrypted(stored) and "cases" not in stored.decode("ascii")
    assert waiting.stat().st_mode & 0o077 == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert work_off(job_id=job.pk) == 1
    with scopes_disabled():
        job.refresh_from_db()
        assert Case.objects.count() == IN_FILE
    assert job.state == JobState.DONE and job.summary == f"{IN_FILE}件の事案を取り込みました。"
    assert list(inputs.iterdir()) == []


def test_a_worker_killed_halfway_through_the_file_leaves_one_set_of_cases(
    inputs, monkeypatch, settings
):
    settings.TADASU_JOB_LEASE_SECONDS = 60
    job = _queue()
    task = DBTaskResult.objects.get()
    task.claim("dead-worker")
    real_import = remedy_tasks.import_case_file

    class Dying(io.RawIOBase):
        """The file, until the worker is killed after the first cases were replayed."""

        def __init__(self, stream):
            self.stream, self.read_so_far = stream, 0

        def readable(self):
            return True

        def readinto(self, buffer):
            if self.read_so_far > 20_000:
                raise SystemExit("killed")
            data = self.stream.read(min(len(buffer), 4096))
            buffer[: len(data)] = data
            self.read_so_far += len(data)
            return len(data)

    def import_then_die(stream, **kwargs):
        return real_import(io.BufferedReader(Dying(stream)), **kwargs)

    monkeypatch.setattr(remedy_tasks, "import_case_file", import_then_die)
    with pytest.raises(SystemExit):
        task.task.call(**task.args_kwargs["kwargs"])
    monkeypatch.undo()
    with scopes_disabled():
        assert not Case.objects.exists()  # the transaction died with the worker
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(seconds=61))
    assert requeue_stale() == 1
    assert work_off() == 1
    with scopes_disabled():
        job.refresh_from_db()
        assert job.state == JobState.DONE and job.attempts == 2
        assert Case.objects.count() == IN_FILE


def test_a_broken_file_fails_its_job_with_the_reason_and_imports_nothing(inputs, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    call_command("import_cases", str(broken), "--background", stdout=io.StringIO())
    work_off()
    with scopes_disabled():
        job = Job.objects.get()
        assert not Case.objects.exists()
    assert job.state == JobState.FAILED and "JSON" in job.error


def test_a_case_file_job_shows_how_far_it_has_got(inputs, monkeypatch):
    """The job's page reads the cases done of the file's while the import runs."""
    monkeypatch.setattr(replay, "PROGRESS_EVERY", 1)
    seen, status = [], io.StringIO()
    report = remedy_tasks.progress

    def watched(job, done, total):
        report(job, done, total)
        seen.append(current_progress(job))  # what the job's page shows at that moment
        if done == 2:  # an administrator asks meanwhile
            call_command("job_status", str(job.pk), stdout=status)

    monkeypatch.setattr(remedy_tasks, "progress", watched)
    job = _queue()
    assert work_off(job_id=job.pk) == 1
    assert seen == [(n, IN_FILE) for n in range(1, IN_FILE + 1)]
    assert status.getvalue() == f"Job {job.pk} (case_import): running, 2 of {IN_FILE}\n"
    with scopes_disabled():
        job.refresh_from_db()
    assert job.state == JobState.DONE
    done = io.StringIO()
    call_command("job_status", str(job.pk), stdout=done)
    assert done.getvalue().splitlines() == [
        f"Job {job.pk} (case_import): done, {IN_FILE} of {IN_FILE}",
        f"{IN_FILE}件の事案を取り込みました。",
    ]
