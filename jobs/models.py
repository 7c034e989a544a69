"""A job: what a user asked to run in the background, and how far it got.

The task engine (django-tasks, jobs/worker.py) keeps its own row per task; this row is the
user's side of it: who asked, for which municipality, the state, the progress and a result
or error message. Messages are written in the language of the user who asked (the job runs
in it), as every message the services raise is already translated. Nothing here holds
personal data: counts, messages about rows and columns, ids.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from cases.models import Municipality, User


class JobKind(models.TextChoices):
    RECEPTION_IMPORT = "reception_import", _("Reception sheet import")
    CASE_IMPORT = "case_import", _("Case file import")
    LETTERS = "letters", _("Letters in bulk")
    REMINDERS = "reminders", _("Deadline reminders")
    AUDIT_CHECKPOINT = "audit_checkpoint", _("Audit checkpoint")


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


FINISHED = (JobState.DONE, JobState.FAILED)


class Job(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=JobKind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    # None: a job of the whole installation (a case file spans municipalities), started
    # from the command line; no city's page lists it.
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), null=True, blank=True)
    summary = models.TextField(_("result"), blank=True)
    error = models.TextField(_("error"), blank=True)
    # What the error names, e.g. a refused sheet's bad rows: [[line, column, message], ...].
    details = models.JSONField(default=list, blank=True)
    link = models.CharField(max_length=200, blank=True)  # the result's page (a path)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(municipality="municipality")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["municipality", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)


class JobItem(models.Model):
    """One unit of a job fanned out over many tasks (a letter to one person): written in the
    same transaction as the unit's own work, so a task run twice finds it and does nothing."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=120)  # e.g. "apology:case=12:party=34"
    result_id = models.BigIntegerField(null=True, blank=True)  # e.g. the document's id
    error = models.TextField(blank=True)  # why this unit was refused (no personal data)
    row = models.JSONField(default=list, blank=True)  # its row on the job page, if refused

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="job_item_once")]

    def __str__(self) -> str:
        return self.key


class JobWorker(models.Model):
    """A worker process and when it was last heard of (jobs/worker.py): a running task whose
    worker has gone quiet goes back to the queue."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=100)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"
