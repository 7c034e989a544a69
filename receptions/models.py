"""Reception sheets (受付表) kept at the desks, and the completion checklist per citizen.

Every model is tenant-scoped like the case file (cases/scoping.py): city users see their
municipality's receptions; contractor staff only the receptions of desks their company ran.
A reception's citizen name is personal data: it is kept for finding the counterpart of a
case, matched through a normalised key (cases/search.py), and never written to the audit
trail. No individual number is ever stored: a sheet holding one is refused whole.
"""

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import ScopedManager

from cases import storage
from cases.models import Case, Contractor, Municipality, Office, Party, User


class ReceptionSheet(models.Model):
    """One imported file: who imported what, when, and its fingerprint."""

    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="+", verbose_name=_("municipality")
    )
    # The company that ran the desks of this sheet; its staff see these receptions.
    contractor = models.ForeignKey(
        Contractor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contractor running the desk"),
    )
    file_name = models.CharField(_("file name"), max_length=120)
    sha256 = models.CharField("SHA-256", max_length=64)
    row_count = models.PositiveIntegerField(_("rows"))
    imported_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("imported by")
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    objects = ScopedManager(municipality="municipality", contractor="contractor")

    class Meta:
        verbose_name = _("reception sheet")
        verbose_name_plural = _("reception sheets")
        ordering = ["-imported_at", "-id"]
        constraints = [
            # The same file twice (a double click, a second upload) is refused, not doubled.
            models.UniqueConstraint(
                fields=["municipality", "sha256"], name="reception_sheet_unique_file"
            )
        ]

    def __str__(self) -> str:
        return self.file_name


class Outcome(models.TextChoices):
    COMPLETED = "completed", _("completed")  # 完了
    SUSPENDED = "suspended", _("suspended")  # 中断
    LEFT = "left", _("left mid-way")  # 途中退席


UNFINISHED = (Outcome.SUSPENDED, Outcome.LEFT)


class Reception(models.Model):
    """One citizen served at one desk terminal (one line of a 受付表)."""

    sheet = models.ForeignKey(
        ReceptionSheet,
        on_delete=models.PROTECT,
        related_name="receptions",
        verbose_name=_("reception sheet"),
    )
    row_number = models.PositiveIntegerField(_("row"))
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="+", verbose_name=_("municipality")
    )
    contractor = models.ForeignKey(
        Contractor, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="+", verbose_name=_("office / desk")
    )
    terminal = models.CharField(_("terminal"), max_length=30)  # 端末
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    citizen_name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    # Normalised name for kana-insensitive search (cases/search.py); never shown.
    search_key = models.CharField(max_length=110, editable=False)
    procedure = models.CharField(_("procedure"), max_length=100, blank=True)  # 手続
    outcome = models.CharField(
        pgettext_lazy("reception", "outcome"), max_length=20, choices=Outcome.choices
    )
    leader_checked = models.BooleanField(_("leader check done"), default=False)
    # From the sheet, then kept by checklist_record: all five items of the checklist done.
    checklist_signed = models.BooleanField(_("checklist signed"), default=False)

    objects = ScopedManager(municipality="municipality", contractor="contractor")

    class Meta:
        verbose_name = _("reception")
        verbose_name_plural = _("receptions")
        ordering = ["started_at", "id"]
        indexes = [
            # The counterpart search: the same desk and terminal, just before.
            models.Index(fields=["office", "terminal", "started_at"]),
            models.Index(fields=["municipality", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.terminal} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def unfinished(self) -> bool:
        return self.outcome in UNFINISHED


class ChecklistRecord(models.Model):
    """The desk completion checklist (完了チェック表) signed for one reception."""

    reception = models.OneToOneField(
        Reception,
        on_delete=models.PROTECT,
        related_name="checklist",
        verbose_name=_("reception"),
    )
    card_returned = models.BooleanField(_("card returned to the citizen"), default=False)
    portal_logged_out = models.BooleanField(_("logged out of the portal"), default=False)
    screen_closed = models.BooleanField(_("application screen closed"), default=False)
    citizen_signed = models.BooleanField(_("signed by the citizen"), default=False)
    staff_signed = models.BooleanField(_("signed by the desk staff"), default=False)
    recorded_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    objects = ScopedManager(
        municipality="reception__municipality", contractor="reception__contractor"
    )

    ITEMS = (
        "card_returned",
        "portal_logged_out",
        "screen_closed",
        "citizen_signed",
        "staff_signed",
    )

    class Meta:
        verbose_name = _("checklist record")
        verbose_name_plural = _("checklist records")

    def __str__(self) -> str:
        return str(self.reception)

    @property
    def complete(self) -> bool:
        return all(getattr(self, item) for item in self.ITEMS)


class Counterpart(models.Model):
    """A party of a case identified from the reception sheets: whose session was left open
    (candidate) before the affected person's reception."""

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="+", verbose_name=_("case")
    )
    affected = models.ForeignKey(
        Reception, on_delete=models.PROTECT, related_name="+", verbose_name=_("affected")
    )
    candidate = models.ForeignKey(
        Reception, on_delete=models.PROTECT, related_name="+", verbose_name=_("counterpart")
    )
    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="+", verbose_name=_("party")
    )
    rank = models.PositiveSmallIntegerField(_("rank"))
    reasons = models.JSONField(_("reasons"), default=list)
    added_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(municipality="case__municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("identified counterpart")
        verbose_name_plural = _("identified counterparts")
        ordering = ["added_at", "id"]
        constraints = [
            # A double click, or two clerks at once, add the counterpart once.
            models.UniqueConstraint(fields=["case", "candidate"], name="counterpart_once")
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.party}"


def _upload_stored_name(instance: "PendingUpload", filename: str) -> str:
    return storage.random_name(".csv")


class PendingUploadQuerySet(models.QuerySet):
    def discard(self) -> int:
        """Delete these uploads and their stored sheets (a queryset's delete() alone would
        leave the files behind)."""
        names = [name for name in self.values_list("file", flat=True) if name]
        count, _ = self.delete()

        def delete_files() -> None:
            for name in names:
                storage.uploads().delete(name)

        # After the commit: a transaction that rolls back (an import job that dies) keeps
        # both the row and its sheet, for the retry.
        transaction.on_commit(delete_files)
        return count


class PendingUpload(models.Model):
    """An uploaded sheet between its preview and the confirmation: the row in the database,
    the sheet in the "uploads" storage, encrypted (every app server sees both; no personal
    data in URLs, logs or the session), referenced from the uploader's session by a random
    token, and discarded on import or expiry."""

    token = models.CharField(max_length=64, unique=True)
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    uploaded_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=120)
    # An Excel sheet is kept as CSV (sheets.to_csv).
    file = models.FileField(storage=storage.uploads, upload_to=_upload_stored_name, editable=False)
    sha256 = models.CharField(max_length=64)  # of the file as uploaded
    row_count = models.PositiveIntegerField(default=0)  # counted when uploaded
    # Handed to an import job: the job discards it, a newer upload of the same user does
    # not (two sheets confirmed before the worker runs are both imported).
    queued = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(
        municipality="municipality",
        _manager_class=models.Manager.from_queryset(PendingUploadQuerySet),
    )

    def __str__(self) -> str:
        return self.file_name

    def read(self) -> bytes:
        with self.file.storage.open(self.file.name, "rb") as handle:
            return handle.read()
