"""Background jobs: enqueued with the request's transaction, run once even when a worker
dies halfway, shown on a page to the municipality that asked and to nobody else."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from cases.scoping import tenant_scope
from jobs import services as job_services
from jobs.models import Job, JobState, JobWorker
from jobs.worker import heartbeat, requeue_stale, work_off
from receptions import services as reception_services
from receptions import tasks as reception_tasks
from receptions.models import PendingUpload, Reception, ReceptionSheet

from ..receptions.conftest import MAPPING
from ..receptions.sheets import reception_csv

pytestmark = pytest.mark.django_db


def _rows(world, n=5):
    return [
        (world.office.name, "2", f"2023-02-07 10:{i:02d}", "", f"受付 {i}郎", "完了", "済", "済")
        for i in range(n)
    ]


def _pending(world, n=5) -> PendingUpload:
    with tenant_scope(world.staff):
        return reception_services.upload_store(
            data=reception_csv(_rows(world, n)), file_name="uketsuke.csv", by=world.staff
        )


def _enqueue(world, pending) -> Job:
    with tenant_scope(world.staff):
        return reception_tasks.sheet_import_enqueue(
            pending=pending, mapping=MAPPING, contractor=None, by=world.staff
        )


def test_the_job_and_its_task_commit_with_the_request_or_not_at_all(world, monkeypatch):
    pending = _pending(world)

    def failing_audit(*args, **kwargs):
        raise RuntimeError("the request fails after the task was enqueued")

    # The audit entry is written after the task row, in the same transaction.
    monkeypatch.setattr(job_services, "audit_log", failing_audit)
    with pytest.raises(RuntimeError), transaction.atomic():
        _enqueue(world, pending)
    with scopes_disabled():
        assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()
    # And a caller failing later in its own transaction takes both back too.
    monkeypatch.undo()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        _enqueue(world, pending)
        1 / 0  # noqa: B018
    with scopes_disabled():
        assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_an_import_killed_halfway_is_run_again_and_imports_the_sheet_once(
    world, monkeypatch, settings
):
    settings.TADASU_JOB_LEASE_SECONDS = 60
    pending = _pending(world, n=5)
    job = _enqueue(world, pending)
    # A worker takes the task and dies after writing part of the rows (as a killed process:
    # its transaction never commits, and the task row stays RUNNING).
    task = DBTaskResult.objects.get()
    task.claim("dead-worker")
    real_insert = reception_services._insert

    def insert_then_die(receptions, progress=None):
        real_insert(receptions[:2], progress)
        raise SystemExit("killed")

    monkeypatch.setattr(reception_services, "_insert", insert_then_die)
    with pytest.raises(SystemExit):
        task.task.call(**task.args_kwargs["kwargs"])
    monkeypatch.undo()
    with scopes_disabled():
        assert Reception.objects.count() == 0  # rolled back with the dead connection
        assert Job.objects.get().state == JobState.RUNNING
    # While the dead worker's lease runs, nothing is taken back ...
    assert requeue_stale() == 0
    # ... after it (the worker was never heard of again), the task goes back to the queue.
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(seconds=61))
    heartbeat("live-worker")  # another worker, alive: its tasks are not touched
    assert requeue_stale() == 1
    assert DBTaskResult.objects.get().status == TaskResultStatus.READY
    assert work_off() == 1
    with scopes_disabled():
        job.refresh_from_db()
        assert job.state == JobState.DONE and job.attempts == 2
        assert ReceptionSheet.objects.count() == 1
        assert Reception.objects.count() == 5
    # Run once more (a duplicate delivery): the job is done, nothing is imported again.
    task = DBTaskResult.objects.get()
    task.task.call(**task.args_kwargs["kwargs"])
    with scopes_disabled():
        assert Reception.objects.count() == 5


def test_a_task_whose_worker_is_alive_is_left_running(world, settings):
    settings.TADASU_JOB_LEASE_SECONDS = 60
    _enqueue(world, _pending(world))
    task = DBTaskResult.objects.get()
    task.claim("busy-worker")
    heartbeat("busy-worker")
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(hours=1))
    assert requeue_stale() == 0
    assert DBTaskResult.objects.get().status == TaskResultStatus.RUNNING
    # Gone quiet for longer than the lease: taken back.
    JobWorker.objects.update(seen_at=timezone.now() - timedelta(seconds=61))
    assert requeue_stale() == 1


def test_a_job_stopped_too_often_is_given_up_with_a_message(world):
    job = _enqueue(world, _pending(world))
    with scopes_disabled():
        Job.objects.filter(pk=job.pk).update(attempts=job_services.MAX_ATTEMPTS)
    work_off()
    with scopes_disabled():
        job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "3回止まった" in job.error
    with scopes_disabled():
        assert not Reception.objects.exists()


def test_the_uploader_waits_on_the_job_page_which_shows_the_outcome(client, world):
    job = _enqueue(world, _pending(world, n=3))
    client.force_login(world.staff)
    url = reverse("jobs:detail", kwargs={"job_id": job.pk})
    waiting = client.get(url).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in waiting
    assert "待機中" in waiting and "0 / 3" in waiting
    work_off()
    done = client.get(url).content.decode()
    assert 'http-equiv="refresh"' not in done
    assert "完了" in done and "3件の受付を取り込みました" in done
    with scopes_disabled():
        sheet = ReceptionSheet.objects.get()
    assert reverse("receptions:sheet", kwargs={"sheet_id": sheet.pk}) in done
    listed = client.get(reverse("jobs:list")).content.decode()
    assert "受付簿の取込み" in listed and f">{job.pk}</a>" in listed


def test_a_refused_sheet_lists_its_bad_rows_on_the_job_page_in_the_users_language(client, world):
    world.staff.language = "en"
    world.staff.save()
    rows = [*_rows(world, 2), (world.office.name, "2", "2023-02-07 25:00", "", "誰か", "完了")]
    with tenant_scope(world.staff):
        pending = reception_services.upload_store(
            data=reception_csv(rows), file_name="bad.csv", by=world.staff
        )
    job = _enqueue(world, pending)
    work_off()
    client.force_login(world.staff)
    text = client.get(reverse("jobs:detail", kwargs={"job_id": job.pk})).content.decode()
    assert "Failed" in text and "Nothing was imported" in text and "Line 4" in text
    with scopes_disabled():
        assert not Reception.objects.exists()


def test_another_city_cannot_see_the_job(client, world):
    job = _enqueue(world, _pending(world))
    client.force_login(world.staff_other_city)
    assert client.get(reverse("jobs:detail", kwargs={"job_id": job.pk})).status_code == 404
    assert f">{job.pk}</a>" not in client.get(reverse("jobs:list")).content.decode()


def test_the_job_page_reads_a_bounded_number_of_queries(
    client, world, django_assert_max_num_queries
):
    job = _enqueue(world, _pending(world))
    client.force_login(world.staff)
    client.get(reverse("jobs:detail", kwargs={"job_id": job.pk}))
    with django_assert_max_num_queries(8):
        client.get(reverse("jobs:detail", kwargs={"job_id": job.pk}))


def test_a_task_that_fails_before_its_work_fails_its_job_with_a_message(world, monkeypatch):
    job = _enqueue(world, _pending(world))

    def broken_claim(job_id):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(job_services, "_claim", broken_claim)
    work_off()
    with scopes_disabled():
        job.refresh_from_db()
    assert job.state == JobState.FAILED and "予期しないエラー" in job.error
    assert DBTaskResult.objects.get().status == TaskResultStatus.FAILED


def test_an_import_queues_an_audit_checkpoint_that_a_worker_writes(
    world, settings, tmp_path, django_capture_on_commit_callbacks
):
    from ..cases.tamper import new_checkpoint_key, use_checkpoints

    pem = new_checkpoint_key(tmp_path / "checkpoint.pem")
    folder = use_checkpoints(settings, pem, tmp_path / "checkpoints")
    job = _enqueue(world, _pending(world, n=2))
    with django_capture_on_commit_callbacks(execute=True):
        work_off(job_id=job.pk)
    with scopes_disabled():
        checkpoint = Job.objects.get(kind="audit_checkpoint")
    assert checkpoint.municipality_id == world.city.pk and checkpoint.state == JobState.QUEUED
    work_off(job_id=checkpoint.pk)
    with scopes_disabled():
        checkpoint.refresh_from_db()
    assert checkpoint.state == JobState.DONE and "監査証跡のチェックポイント" in checkpoint.summary
    assert len(list(folder.iterdir())) == 1


def test_without_a_checkpoint_key_no_checkpoint_job_is_queued(
    world, django_capture_on_commit_callbacks
):
    job = _enqueue(world, _pending(world, n=2))
    with django_capture_on_commit_callbacks(execute=True):
        work_off(job_id=job.pk)
    with scopes_disabled():
        assert not Job.objects.filter(kind="audit_checkpoint").exists()
