"""Making it right: agency contacts, compensation agreements, visits, apology letters, and
the ledger of who is owed and who holds an excess.

Depends on cases/, never the reverse at import time (DESIGN.md, Boundaries). Every model
here belongs to a case and is scoped through it like the case file itself.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import ScopedManager

from cases import storage
from cases.crypto import EncryptedJSONField
from cases.models import Agency, Case, Contractor, Municipality, Party

MAX_AMOUNT = 10_000_000  # yen; anything larger in one entry is a typing error


def scoped(manager_class=models.Manager):
    return ScopedManager(
        manager_class, municipality="case__municipality", contractor="case__contractor"
    )


class Side(models.TextChoices):
    """Who acted, paid or collected: the city or the contractor (or the national system)."""

    MUNICIPALITY = "municipality", pgettext_lazy("side", "municipality")
    CONTRACTOR = "contractor", pgettext_lazy("side", "contractor")
    NATIONAL = "national", _("national points system")


class Method(models.TextChoices):
    CASH = "cash", _("cash")
    BANK_TRANSFER = "bank_transfer", _("bank transfer")
    GIFT_CERTIFICATE = "gift_certificate", _("gift certificates")  # 商品券
    POINTS = "points", _("points re-granted by the national system")


class Channel(models.TextChoices):
    PHONE = "phone", pgettext_lazy("channel", "phone")
    EMAIL = "email", _("e-mail")
    LETTER = "letter", _("letter")
    MEETING = "meeting", _("in person")
    ONLINE = "online", _("online form")
    OTHER = "other", _("other")


class AgencyContact(models.Model):
    """A report or question to one or more agencies, and their answer (関係機関照会)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="agency_contacts")
    # The case's municipality (which never changes), kept here so that a city's unanswered
    # requests are found from their own index, without reading every case first.
    municipality = models.ForeignKey(
        "cases.Municipality", on_delete=models.PROTECT, related_name="+", editable=False
    )
    agencies = models.ManyToManyField(Agency, related_name="contacts", verbose_name=_("agencies"))
    made_by = models.CharField(_("contacted by"), max_length=20, choices=Side.choices[:2])
    contacted_on = models.DateField(_("contacted on"))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    request = models.TextField(_("what was asked"))
    answered_on = models.DateField(_("answered on"), null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(municipality="municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("agency contact")
        verbose_name_plural = _("agency contacts")
        ordering = ["contacted_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(answered_on__isnull=True)
                | Q(answered_on__gte=models.F("contacted_on")),
                name="contact_answer_after_request",
            )
        ]
        indexes = [
            # Requests still waiting for an answer, oldest first (dashboard, work queues):
            # a small index, since most requests are answered.
            models.Index(
                fields=["municipality", "contacted_on", "id"],
                condition=Q(answered_on__isnull=True),
                name="contact_unanswered_idx",
            ),
            # The same requests by case: the work queue counts a city's unanswered requests
            # of open cases from this index and each request's case (its stage), not from
            # the requests' rows (at 100,000 cases 1,700 rows read: 10 ms of SQLite, against
            # 2). `answered_on`, null in every entry, is a column only so that SQLite finds
            # every column the count reads in the index: it does not count a column of the
            # condition as covered.
            models.Index(
                fields=["municipality", "case", "answered_on"],
                condition=Q(answered_on__isnull=True),
                name="contact_open_case_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contacted_on} {self.request[:30]}"

    @property
    def answered(self) -> bool:
        return self.answered_on is not None


class CompensationAgreement(models.Model):
    """What was agreed with the contractor: who pays, how much, in what form (補償協議)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="agreements")
    payer = models.CharField(_("who pays"), max_length=20, choices=Side.choices[:2])
    amount = models.PositiveIntegerField(_("amount (yen)"))
    form = models.CharField(_("form"), max_length=20, choices=Method.choices)
    agreed_on = models.DateField(_("agreed on"))
    party = models.ForeignKey(
        Party,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("for whom"),
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped()

    class Meta:
        verbose_name = _("compensation agreement")
        verbose_name_plural = _("compensation agreements")
        ordering = ["agreed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="agreement_amount_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreed_on} {self.amount}"


class Purpose(models.TextChoices):
    APOLOGY = "apology", _("apology")
    HAND_OVER = "hand_over", _("hand-over")
    COLLECTION = "collection", _("collection")
    JOINT_CHECK = "joint_check", _("joint check")


class Visit(models.Model):
    """A visit to an affected person (訪問・謝罪), by city staff, contractor staff or both."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="visits")
    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, related_name="visits", verbose_name=_("person visited")
    )
    visited_on = models.DateField(_("visited on"))
    place = models.CharField(_("place"), max_length=200)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    city_attendees = models.CharField(_("city attendees"), max_length=200, blank=True)
    contractor_attendees = models.CharField(_("contractor attendees"), max_length=200, blank=True)
    apologised = models.BooleanField(_("apologised in person"), default=True)
    outcome = models.TextField(_("outcome"), blank=True)
    recorded_by_side = models.CharField(max_length=20, choices=Side.choices[:2])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["visited_on", "id"]
        indexes = [
            # The work queues' visits of this week, read by day: without it the week's few
            # visits are found by walking every case of the city (1-7 ms at 100,000 cases).
            models.Index(fields=["visited_on"], name="visit_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.visited_on} {self.party}"


class Delivery(models.TextChoices):
    """How an apology letter reached the person."""

    POST = "post", _("sent by post")  # 郵送
    HAND = "hand", _("handed over")  # 手渡し


class ApologyLetter(models.Model):
    """An apology in writing (お詫び状): the record that the person was apologised to.

    Written by hand for a letter made outside Tadasu, or by issuing the お詫び状 in Tadasu
    (`document` then names it): issuing is the apology, dated the document's date until
    staff record when it was actually sent or handed over (`delivery`)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="apology_letters")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="apology_letters")
    sent_on = models.DateField(_("sent on"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    # The お詫び状 issued in Tadasu (its newest version, after a reissue).
    document = models.OneToOneField(
        "Document",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="apology_record",
        verbose_name=_("document"),
    )
    # Empty until staff record how and when the issued letter reached the person.
    delivery = models.CharField(
        _("how it was sent"), max_length=10, choices=Delivery.choices, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped()

    class Meta:
        verbose_name = _("apology letter")
        verbose_name_plural = _("apology letters")
        ordering = ["sent_on", "id"]

    def __str__(self) -> str:
        return f"{self.sent_on} {self.party}"


class EntryKind(models.TextChoices):
    MISALLOCATION = "misallocation", _("misallocation")
    PAYMENT = "payment", _("payment to the person")
    COLLECTION = "collection", _("collection from the person")
    REGRANT = "regrant", _("points re-granted")
    # The national points system moved wrongly granted points back: withdrawn from the
    # person who held them (+), restored to the person owed (−). Posted as a pair; a
    # correction, not a cost or a write-off (国による是正).
    NATIONAL_CORRECTION = "national_correction", _("corrected by the national system")
    WRITE_OFF = "write_off", _("write-off")
    REVERSAL = "reversal", _("reversal")


class LedgerQuerySet(models.QuerySet):
    # Append-only: corrections are reversing entries, never edits or deletions.
    def update(self, **kwargs):
        raise TypeError("ledger entries are append-only")

    def delete(self):
        raise TypeError("ledger entries are append-only")


class LedgerManager(models.Manager.from_queryset(LedgerQuerySet)):
    pass


class LedgerEntry(models.Model):
    """One posting, in integer yen (1 point = 1 yen). Balance = sum of a party's deltas:
    above zero the person is still owed, below zero the person holds an excess."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="ledger")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    delta = models.IntegerField(_("amount (yen)"))
    # Payment: who paid. Collection: who received the money. Regrant: the national system.
    side = models.CharField(
        _("paid or collected by"), max_length=20, choices=Side.choices, blank=True
    )
    method = models.CharField(_("method"), max_length=20, choices=Method.choices, blank=True)
    on = models.DateField(_("date"))
    note = models.TextField(_("note"), blank=True)
    group = models.UUIDField(_("posting group"), null=True, blank=True)  # entries posted together
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped(LedgerManager)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "party"]),
            # The dashboard's corrections by the national system: a few rows in any ledger.
            models.Index(
                fields=["case"],
                condition=Q(kind="national_correction"),
                name="ledger_national_correction_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(delta=0) & Q(delta__gte=-MAX_AMOUNT, delta__lte=MAX_AMOUNT),
                name="ledger_delta_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind="payment") | Q(delta__lt=0), name="ledger_payment_sign"
            ),
            models.CheckConstraint(
                condition=~Q(kind="regrant") | Q(delta__lt=0), name="ledger_regrant_sign"
            ),
            models.CheckConstraint(
                condition=~Q(kind="collection") | Q(delta__gt=0), name="ledger_collection_sign"
            ),
            models.CheckConstraint(
                condition=~Q(kind="write_off") | Q(approved_by__isnull=False),
                name="ledger_write_off_approved",
            ),
            # A correction by the national system costs nobody: no side bears it.
            models.CheckConstraint(
                condition=~Q(kind="national_correction") | Q(side="") & Q(group__isnull=False),
                name="ledger_national_correction_no_side",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.party} {self.delta:+d}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("ledger entries are append-only")
        # Always an INSERT: an instance carrying an existing pk must fail, not overwrite.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are append-only")


class DocumentKind(models.TextChoices):
    APOLOGY = "apology", _("apology letter")  # お詫び状
    RECEIPT = "receipt", _("receipt")  # 受領書
    SETTLEMENT = "settlement", _("settlement and return confirmation")  # 精算・返還確認書
    REPAYMENT_REQUEST = "repayment_request", _("repayment request")  # 返還請求書
    REPORT = "report", _("case report")  # 経過報告書
    PRESS_RELEASE = "press_release", _("press release")  # 報道発表資料
    CHECKLIST = "checklist", _("desk completion checklist")  # 完了チェック表
    REPAYMENT_REMINDER = "repayment_reminder", _("repayment reminder")  # 督促状


class DocumentStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("awaiting approval")  # 決裁待ち
    ISSUED = "issued", _("issued")
    # Issued by another Tadasu and brought in by a case file without its PDF: the number,
    # date and SHA-256 are known (and the number is reserved), the bytes are not here.
    ISSUED_ELSEWHERE = "issued_elsewhere", _("issued elsewhere")


class DocumentSequence(models.Model):
    """The last document number given per municipality and fiscal year (文書番号)."""

    municipality = models.ForeignKey("cases.Municipality", on_delete=models.PROTECT)
    fiscal_year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "fiscal_year"], name="document_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.municipality_id}/{self.fiscal_year}: {self.last_number}"


def _document_stored_name(instance: "Document", filename: str) -> str:
    return storage.random_name(".pdf")


class Document(models.Model):
    """An issued PDF. Its data is frozen into `data` before the PDF is drawn; once issued,
    neither is ever changed. A reissue is a new row (version + 1) that supersedes this one."""

    municipality = models.ForeignKey(
        "cases.Municipality", on_delete=models.PROTECT, related_name="documents"
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    # A press release may cover several cases; the first is also `case`.
    cases = models.ManyToManyField(Case, related_name="+", blank=True)
    party = models.ForeignKey(
        Party, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=DocumentKind.choices)
    fiscal_year = models.PositiveSmallIntegerField()
    # The outgoing document number (文書番号); None for kinds the municipality does not
    # number (blank forms and press releases never are).
    number = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveSmallIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    status = models.CharField(max_length=20, choices=DocumentStatus.choices)
    dated = models.DateField(_("date of the document"))
    # Both name people: encrypted at rest like every other personal detail.
    data = EncryptedJSONField(default=dict)
    # The PDF, encrypted, in the "documents" storage (cases/storage.py) under a random name.
    file = models.FileField(
        storage=storage.documents, upload_to=_document_stored_name, blank=True, editable=False
    )
    sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(municipality="municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "fiscal_year", "number", "version"],
                name="document_number_version_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="issued") | (~Q(file="") & ~Q(sha256="")),
                name="document_issued_has_pdf",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number or '-'}-{self.version}"

    def save(self, *args, **kwargs):
        # Issued documents are immutable (STYLE 7): only a row awaiting approval may change,
        # and only into an issued one.
        if not self._state.adding and getattr(self, "_stored_status", None) == "issued":
            raise TypeError("issued documents are immutable")
        super().save(*args, **kwargs)
        self._stored_status = self.status

    def delete(self, *args, **kwargs):
        raise TypeError("documents are never deleted")

    @property
    def pdf(self) -> bytes | None:
        """The stored PDF's bytes (read and decrypted once per instance), or None before
        it is issued."""
        if not self.file:
            return None
        cached = self.__dict__.get("_pdf")
        if cached is None or cached[0] != self.file.name:
            with self.file.storage.open(self.file.name, "rb") as handle:
                cached = (self.file.name, handle.read())
            self.__dict__["_pdf"] = cached
        return cached[1]

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_status = instance.status
        return instance


class LedgerTotal(models.Model):
    """One case's ledger in five numbers, kept by ledger._post in the same transaction as
    each entry (the case row is locked there), so that the dashboard sums one row per case
    instead of every ledger entry. Derived data, never edited by hand: the entries stay the
    truth, and `manage.py ledger_totals --check` compares the two (`--rebuild` repairs)."""

    case = models.OneToOneField(
        Case, on_delete=models.PROTECT, primary_key=True, related_name="ledger_total"
    )
    owed = models.BigIntegerField(default=0)  # Σ of the positive party balances
    held = models.BigIntegerField(default=0)  # Σ of the negative party balances, negated
    cost_municipality = models.BigIntegerField(default=0)
    cost_contractor = models.BigIntegerField(default=0)
    cost_national = models.BigIntegerField(default=0)

    objects = scoped()

    class Meta:
        verbose_name = _("ledger total")
        verbose_name_plural = _("ledger totals")

    def __str__(self) -> str:
        return f"{self.case_id} owed={self.owed} held={self.held}"


class CityLedgerTotal(models.Model):
    """The LedgerTotal rows of a municipality's cases summed per contractor of the case
    (no contractor: the cases without one), so that the dashboard's money figures read a
    row per contractor, not a row per case. Kept in the same transactions as LedgerTotal:
    by ledger._post for each entry, and by case_update when a case changes contractor.
    Derived data: `manage.py ledger_totals --check` compares it too (`--rebuild` repairs)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    contractor = models.ForeignKey(
        Contractor, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owed = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    cost_municipality = models.BigIntegerField(default=0)
    cost_contractor = models.BigIntegerField(default=0)
    cost_national = models.BigIntegerField(default=0)

    objects = ScopedManager(municipality="municipality", contractor="contractor")

    class Meta:
        verbose_name = _("city ledger total")
        verbose_name_plural = _("city ledger totals")
        constraints = [
            # One row per (municipality, contractor); NULLs are distinct in a plain unique
            # constraint, so the no-contractor row has a constraint of its own.
            models.UniqueConstraint(
                fields=["municipality", "contractor"],
                condition=Q(contractor__isnull=False),
                name="city_total_contractor_uniq",
            ),
            models.UniqueConstraint(
                fields=["municipality"],
                condition=Q(contractor__isnull=True),
                name="city_total_no_contractor_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.municipality_id}/{self.contractor_id} owed={self.owed} held={self.held}"


MAX_INSTALMENTS = 36  # three years of monthly instalments; more is a typing error


class RepaymentPlan(models.Model):
    """An agreed schedule by which a person returns an excess in instalments (分割納付).

    Agreed on a date with the person; its instalments sum to the excess the person held at
    that moment (`total`). Whether an instalment is paid is never stored: it is derived from
    the ledger, the person's entries after `ledger_head` (what they returned since the
    agreement) allocated to the instalments in due order (remedies/plans.py). A plan that is
    renegotiated is kept, marked superseded, and points at its replacement's `replaces`."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="repayment_plans")
    party = models.ForeignKey(
        Party,
        on_delete=models.PROTECT,
        related_name="repayment_plans",
        verbose_name=_("person repaying"),
    )
    agreed_on = models.DateField(_("agreed on"))
    total = models.BigIntegerField(_("amount to repay (yen)"))
    # The newest ledger entry of the case when the plan was agreed: what the person returns
    # after it counts towards this plan.
    ledger_head = models.BigIntegerField(default=0)
    note = models.TextField(_("note"), blank=True)
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    superseded_on = models.DateField(_("superseded on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped()

    class Meta:
        verbose_name = _("repayment plan")
        verbose_name_plural = _("repayment plans")
        ordering = ["agreed_on", "id"]
        constraints = [
            # One plan in force per person; a renegotiated one is superseded first.
            models.UniqueConstraint(
                fields=["party"],
                condition=Q(superseded_on__isnull=True),
                name="repayment_plan_one_active",
            ),
            models.CheckConstraint(condition=Q(total__gte=1), name="repayment_plan_total"),
        ]

    def __str__(self) -> str:
        return f"{self.agreed_on} {self.party} {self.total}"

    @property
    def active(self) -> bool:
        return self.superseded_on is None


class Instalment(models.Model):
    """One instalment of a repayment plan: its number, due date and amount (分割納付 第n回).
    `cumulative` is the plan's amount up to and including this instalment, frozen with it,
    so that "not paid by now" is one comparison with what the person has returned."""

    plan = models.ForeignKey(RepaymentPlan, on_delete=models.PROTECT, related_name="instalments")
    number = models.PositiveSmallIntegerField(_("instalment"))
    due_on = models.DateField(_("due on"))
    amount = models.PositiveIntegerField(_("amount (yen)"))
    cumulative = models.BigIntegerField()

    objects = ScopedManager(
        municipality="plan__case__municipality", contractor="plan__case__contractor"
    )

    class Meta:
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        ordering = ["plan", "number"]
        indexes = [models.Index(fields=["due_on"])]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_unique"),
            models.CheckConstraint(
                condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="instalment_amount_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.number} {self.due_on} {self.amount}"
