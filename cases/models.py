"""The case file: organisations, people, cases, who got whose data, and the 経過.

Every model that belongs to a case is tenant-scoped with django-scopes: a query of cases,
parties, links or timeline entries outside an active scope raises ScopeError instead of
returning other municipalities' rows (see cases/scoping.py for how a scope is chosen).
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransitionMixin, FSMField
from django_scopes import ScopedManager

from .crypto import EncryptedBinaryField, EncryptedTextField
from .issuer import MunicipalityKind, suggest_kind, validate_code


class User(AbstractUser):
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=[("ja", "日本語"), ("en", "English")],
        default="ja",
    )


class Municipality(models.Model):
    # 地方公共団体コード (6 digits with check digit), e.g. 401005 for 北九州市.
    code = models.CharField(
        _("local government code"), max_length=6, unique=True, validators=[validate_code]
    )
    name = models.CharField(_("name"), max_length=100)
    # 都道府県・市・町・村・特別区: the words every document uses for its issuer
    # (cases/issuer.py). Left blank, it is set from the code when saved.
    kind = models.CharField(
        _("kind of local government"),
        max_length=20,
        choices=MunicipalityKind.choices,
        blank=True,
        help_text=_("Suggested from the local government code when left blank."),
    )
    department = models.CharField(
        _("responsible department"), max_length=100, blank=True
    )  # e.g. デジタル市役所推進室
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    # How this municipality's documents are headed and signed.
    contact_people = models.CharField(
        _("contact people"), max_length=200, blank=True
    )  # e.g. 担当課長：須山 担当係長：三浦（雄）
    sender_title = models.CharField(
        _("sender title"), max_length=100, blank=True
    )  # e.g. 北九州市長, or デジタル市役所推進室長
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True)
    document_symbol = models.CharField(
        _("document number symbol"), max_length=20, blank=True
    )  # 文書番号の記号: "デ推" gives デ推第12号
    show_gregorian_year = models.BooleanField(
        _("show the Gregorian year beside the era year"), default=False
    )
    documents_need_approval = models.BooleanField(
        _("documents need a manager's approval (決裁) before issue"), default=False
    )
    # Letters to citizens (DOCUMENTS.md): sealed with the official seal, or （公印省略）.
    letters_sealed = models.BooleanField(
        _("letters carry the official seal (otherwise 公印省略)"), default=False
    )
    # The official seal's image (公印の印影), PNG or JPEG, checked and size-limited when set
    # (cases/setup.py); kept encrypted in the database like an issued PDF.
    seal_image = EncryptedBinaryField(_("official seal image"), null=True, blank=True)
    # Which kinds of document take an outgoing document number (文書番号); blank forms and
    # press releases never do. Comma-separated DocumentKind values.
    numbered_kinds = models.CharField(
        _("kinds of document numbered as outgoing letters"),
        max_length=200,
        default="apology,repayment_request,repayment_reminder",
        blank=True,
    )
    # The citizen's contact in letters: the department handling cases, not the press
    # contact of the press release.
    citizen_department = models.CharField(
        _("department handling citizens' enquiries"), max_length=100, blank=True
    )
    citizen_phone = models.CharField(_("phone for citizens' enquiries"), max_length=20, blank=True)
    citizen_person = models.CharField(
        _("person in charge of citizens' enquiries"), max_length=100, blank=True
    )
    # Money asked back: how a person repays (the designated account, or a payment slip).
    payment_bank = models.CharField(
        _("designated account: bank and branch"), max_length=100, blank=True
    )
    payment_account_type = models.CharField(
        _("designated account: type"), max_length=10, blank=True, default="普通"
    )
    # Encrypted at rest and masked on screen, as every account number Tadasu keeps.
    payment_account_number = EncryptedTextField(_("designated account: number"), blank=True)
    payment_account_holder = models.CharField(
        _("designated account: holder"), max_length=100, blank=True
    )
    payment_by_slip = models.BooleanField(
        _("repayment by payment slip (納付書) instead of transfer"), default=False
    )
    repayment_days = models.PositiveSmallIntegerField(
        _("days given to repay (due date of a request)"), default=30
    )

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.kind and self.code:
            self.kind = suggest_kind(self.code, self.name)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "kind"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if not self.kind and self.code:
            self.kind = suggest_kind(self.code, self.name)

    def numbers(self, kind: str) -> bool:
        """Whether documents of this kind take an outgoing document number."""
        return kind in {k.strip() for k in self.numbered_kinds.split(",") if k.strip()}


class Office(models.Model):
    """A ward office or a support desk run for the municipality (区役所・支援窓口)."""

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        related_name="offices",
        verbose_name=_("municipality"),
    )
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("office / desk")
        verbose_name_plural = _("offices / desks")
        ordering = ["municipality", "name"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "name"], name="office_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Contractor(models.Model):
    """A company that staffed desks for one or more municipalities (委託事業者)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    municipalities = models.ManyToManyField(
        Municipality,
        related_name="contractors",
        blank=True,
        verbose_name=_("municipalities served"),
    )

    class Meta:
        verbose_name = _("contractor")
        verbose_name_plural = _("contractors")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agency(models.Model):
    """A body the city reports to or asks: デジタル庁, 総務省, a payment operator…"""

    class Kind(models.TextChoices):
        NATIONAL = "national", _("national government")
        HELPDESK = "helpdesk", _("programme help desk")
        PAYMENT_OPERATOR = "payment_operator", _("payment operator")
        OTHER = "other", _("other")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    STAFF = "staff", _("city staff")
    MANAGER = "manager", _("city manager")
    CONTRACTOR = "contractor", _("contractor staff")
    AUDITOR = "auditor", _("auditor")


class Membership(models.Model):
    """Which organisation a user acts for, and in which role. One per user."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("municipality"),
    )
    contractor = models.ForeignKey(
        Contractor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("contractor"),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            # Contractor staff belong to a company; everyone else to a municipality.
            models.CheckConstraint(
                condition=(
                    Q(role="contractor", contractor__isnull=False, municipality__isnull=True)
                    | (
                        Q(role__in=["staff", "manager", "auditor"])
                        & Q(municipality__isnull=False, contractor__isnull=True)
                    )
                ),
                name="membership_role_matches_organisation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organisation})"

    @property
    def organisation(self) -> Municipality | Contractor:
        return self.contractor if self.role == Role.CONTRACTOR else self.municipality

    @property
    def is_city(self) -> bool:
        return self.role in (Role.STAFF, Role.MANAGER, Role.AUDITOR)

    @property
    def can_work_cases(self) -> bool:
        return self.role in (Role.STAFF, Role.MANAGER)


class CaseKind(models.TextChoices):
    ACCOUNT_MISREGISTRATION = "account", _("public-fund account misregistration")
    CASHLESS_LINK = "cashless", _("cashless payment link error")
    OTHER = "other", _("other")


class CauseCategory(models.TextChoices):
    LOGOUT_OMITTED = "logout_omitted", _("logout omitted")
    ID_MISTYPED = "id_mistyped", _("payment-service ID mistyped")
    SHARED_DEVICE = "shared_device", _("shared device")
    CARD_MIXUP = "card_mixup", _("card handed to the wrong person")
    OTHER = "other", _("other")


class Stage(models.TextChoices):
    INQUIRY = "inquiry", _("investigation")  # 調査
    AGENCY_CONTACT = "agency_contact", _("agency inquiry")  # 関係機関照会
    NEGOTIATION = "negotiation", _("compensation talks")  # 補償協議
    VISIT = "visit", _("visits and apology")  # 訪問・謝罪
    SETTLEMENT = "settlement", _("settlement")  # 精算
    CLOSED = "closed", _("closed")  # 完了
    WITHDRAWN = "withdrawn", _("withdrawn")  # 取下げ


class CaseSequence(models.Model):
    """The last reference number issued per municipality and fiscal year (April–March)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    fiscal_year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "fiscal_year"], name="case_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.municipality_id}/{self.fiscal_year}: {self.last_number}"


class Case(ConcurrentTransitionMixin, models.Model):
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("municipality"),
    )
    reference = models.CharField(_("reference"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CaseKind.choices)
    summary = models.TextField(_("what happened"), blank=True)  # 内容
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="cases", verbose_name=_("office / desk")
    )
    contractor = models.ForeignKey(
        Contractor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("contractor running the desk"),
    )
    occurred_on = models.DateField(_("occurred on"), null=True, blank=True)
    discovered_on = models.DateField(_("discovered on"))
    discovery = models.TextField(_("how it was discovered"), blank=True)
    cause_category = models.CharField(
        _("cause"), max_length=20, choices=CauseCategory.choices, blank=True
    )
    cause_text = models.TextField(_("cause in detail"), blank=True)  # 原因
    prevention = models.TextField(_("prevention measures"), blank=True)  # 再発防止策
    # Transitions arrive with the remedy workflow; protected so nothing sets it directly.
    stage = FSMField(_("stage"), default=Stage.INQUIRY, choices=Stage.choices, protected=True)
    # The day the case entered its stage (the date the step was recorded for), kept by the
    # services that move it; deadlines count business days from here (cases/deadlines.py).
    stage_since = models.DateField(_("in this stage since"), default=timezone.localdate)
    # The last day any wait on an agency stopped (or may stop) this case's clock: the latest
    # answer, 9999-12-31 (deadlines.STILL_WAITING) while a request is unanswered, null when
    # the case never waited. Kept by the services that record the waits
    # (deadlines.refresh_waits), so that the deadline filters read from an index the few
    # cases whose waits may still count, instead of every case's requests: a wait counts
    # in the current stage only when waits_until > stage_since.
    waits_until = models.DateField(_("waits on agencies until"), null=True, editable=False)
    # The day the oldest request still unanswered went out, null when none is: a case whose
    # request has been open since before its stage began has had its clock stopped all
    # stage long (kept with waits_until).
    waiting_since = models.DateField(_("waiting on an agency since"), null=True, editable=False)
    # The day the city learned of the case (the report): "opened" on the dashboard.
    opened_on = models.DateField(_("opened on"), default=timezone.localdate)
    assignee = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("assignee"),
    )
    reported_by_contractor = models.BooleanField(_("reported by the contractor"), default=False)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager(municipality="municipality", contractor="contractor")

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-discovered_on", "-id"]
        indexes = [
            models.Index(fields=["municipality", "stage"]),
            # The overdue filter and reminders: stage = X and stage_since < cutoff(X), and
            # for the cases that waited, waits_until < cutoff(X): counted from the index, and
            # a stage's longest overdue read in its order (stage_since, id).
            models.Index(
                fields=[
                    "municipality",
                    "stage",
                    "stage_since",
                    "id",
                    "waits_until",
                    "waiting_since",
                ],
                name="case_clock_idx",
            ),
            # The case list's default order, newest first, read from the index.
            models.Index(fields=["municipality", "discovered_on", "id"]),
            # Cases opened per month (dashboard).
            models.Index(fields=["municipality", "opened_on"]),
            # Someone's cases, longest in their stage first (work queues).
            models.Index(fields=["assignee", "stage_since"]),
            # The dashboard's breakdown of open cases, counted from the index alone (with
            # the dates that say whether a case was active in the period, and those the
            # clock reads to say whether it is overdue).
            models.Index(
                fields=[
                    "municipality",
                    "stage",
                    "kind",
                    "office",
                    "cause_category",
                    "contractor",
                    "opened_on",
                    "stage_since",
                    "waits_until",
                    "waiting_since",
                ],
                name="case_breakdown_clock_idx",
            ),
            # The dashboard's breakdown of the cases ended (closed, withdrawn) since a day
            # of this year: their range of stage_since, read from the index alone.
            models.Index(
                fields=[
                    "municipality",
                    "stage",
                    "stage_since",
                    "kind",
                    "office",
                    "cause_category",
                    "contractor",
                    "opened_on",
                ],
                name="case_ended_since_idx",
            ),
            # One person's open cases by stage (the due-soon queue reads their waits).
            models.Index(
                fields=["assignee", "stage", "stage_since"], name="case_assignee_stage_idx"
            ),
            # The deadline filters: the cases of a stage whose waits reach past a day.
            models.Index(
                fields=["municipality", "stage", "waits_until", "stage_since", "waiting_since"],
                condition=Q(waits_until__isnull=False),
                name="case_waits_idx",
            ),
            # The work queue of cases nobody has taken yet: a small index, read in order.
            models.Index(
                fields=["municipality", "stage_since", "id"],
                condition=Q(assignee__isnull=True),
                name="case_unassigned_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def state_fields(self) -> tuple:
        """The fields ConcurrentTransitionMixin guards (a save that finds the stage changed
        since the case was read raises ConcurrentTransition). django_fsm finds them by
        testing every field of the model on each instance built; a case has one, and a work
        queue builds 200 cases."""
        return (self._meta.get_field("stage"),)

    # The main path, for the progress bar (withdrawn is shown apart).
    STAGE_PATH = [(s.value, s.label) for s in Stage if s != Stage.WITHDRAWN]


class Party(models.Model):
    """An affected person. May be known only by a label until identified ("B氏")."""

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="parties", verbose_name=_("case")
    )
    label = models.CharField(_("label"), max_length=20)  # A氏, B氏 …
    identified = models.BooleanField(_("identified"), default=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, blank=True)
    name_kana = models.CharField(_("name in kana"), max_length=100, blank=True)
    # Encrypted at rest (cases/crypto.py); shown masked unless a user asks to see them.
    phone = EncryptedTextField(_("phone"), blank=True)
    address = EncryptedTextField(_("address"), blank=True)
    bank_name = models.CharField(_("bank and branch"), max_length=100, blank=True)
    account_number = EncryptedTextField(_("account number"), blank=True)  # 公金受取口座など
    payment_service = models.CharField(_("cashless payment service"), max_length=100, blank=True)
    payment_account = EncryptedTextField(_("payment account ID"), blank=True)
    identification_note = models.CharField(
        _("identification status"), max_length=200, blank=True
    )  # e.g. 身元をデジタル庁に照会中
    identified_on = models.DateField(_("identified on"), null=True, blank=True)
    # Normalised name + kana for search (cases/search.py), set by party_add/party_update.
    # Personal data: never shown or exported.
    search_key = models.CharField(max_length=210, blank=True, editable=False)

    objects = ScopedManager(municipality="case__municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["case", "label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "label"], name="party_unique_label"),
            models.CheckConstraint(
                condition=Q(identified=False) | ~Q(name=""), name="party_identified_has_name"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class DataKind(models.TextChoices):
    BANK_ACCOUNT = "bank_account", _("public-fund receiving account")  # 公金受取口座
    CASHLESS_ACCOUNT = "cashless_account", _("cashless payment account")  # キャッシュレス決済
    OTHER = "other", _("other data")


# The record a kind of data lands in: a bank account is registered in the person's
# マイナポータル, a cashless account in the person's マイナポイント application.
RECORD_OF = {
    DataKind.BANK_ACCOUNT: _("My Number Portal"),  # マイナポータル
    DataKind.CASHLESS_ACCOUNT: _("Mynapoint"),  # マイナポイント
    DataKind.OTHER: _("record"),
}

# The link's data kinds a case of each kind offers, the usual one first.
DATA_KINDS_FOR_CASE = {
    CaseKind.ACCOUNT_MISREGISTRATION: [DataKind.BANK_ACCOUNT, DataKind.OTHER],
    CaseKind.CASHLESS_LINK: [DataKind.CASHLESS_ACCOUNT, DataKind.OTHER],
}


def link_sentence(*, source: str, data_kind: str, target: str) -> str:
    """「D氏のキャッシュレス決済がC氏のマイナポイントに登録された。」: a link as one sentence,
    the same on the form's preview and on the case page."""
    return _("%(source)s's %(data)s was registered in %(target)s's %(record)s.") % {
        "source": source,
        "data": DataKind(data_kind).label,
        "target": target,
        "record": RECORD_OF[DataKind(data_kind)],
    }


class CorrectionWay(models.TextChoices):
    """Who set the record right (修正方法)."""

    PERSON = "person", _("by the person, in the portal")  # 本人がマイナポータルで
    MUNICIPALITY = "municipality", _("by the municipality's staff")
    CONTRACTOR = "contractor", _("by the desk's staff (contractor)")
    AGENCY = "agency", _("by the agency or payment operator")
    OTHER = "other", _("other")


class Misregistration(models.Model):
    """source's data was registered into target's record.

    What was meant for the target flows to the source: A's public funds would have gone
    to B's account (B → A); C's points went to D's cashless account (D → C).
    """

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="misregistrations", verbose_name=_("case")
    )
    source = models.ForeignKey(
        Party,
        on_delete=models.PROTECT,
        related_name="links_as_source",
        verbose_name=_("whose data"),
    )
    target = models.ForeignKey(
        Party,
        on_delete=models.PROTECT,
        related_name="links_as_target",
        verbose_name=_("registered into whose record"),
    )
    data_kind = models.CharField(_("which data"), max_length=20, choices=DataKind.choices)
    registered_on = models.DateField(_("registered on"), null=True, blank=True)
    corrected_on = models.DateField(_("corrected on"), null=True, blank=True)
    paid_through = models.BooleanField(_("something was paid through it"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    # How it was set right (cases/links.py records it, with its 経過 line).
    corrected_how = models.CharField(
        _("corrected how"), max_length=20, choices=CorrectionWay.choices, blank=True
    )
    correction_note = models.CharField(_("about the correction"), max_length=200, blank=True)
    # A manager's reason why the link cannot be corrected (the points were granted and the
    # national system cannot undo it): the case may close without a correction.
    uncorrectable_reason = models.TextField(_("why it cannot be corrected"), blank=True)
    excused_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by (manager)"),
    )
    excused_on = models.DateField(_("reason recorded on"), null=True, blank=True)

    objects = ScopedManager(municipality="case__municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("misregistration")
        verbose_name_plural = _("misregistrations")
        ordering = ["case", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=F("target")), name="misregistration_not_self"
            ),
            models.CheckConstraint(
                condition=Q(corrected_on__isnull=True)
                | Q(registered_on__isnull=True)
                | Q(corrected_on__gte=F("registered_on")),
                name="misregistration_corrected_after_registered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target} ({self.get_data_kind_display()})"

    @property
    def sentence(self) -> str:
        return link_sentence(
            source=self.source.label, data_kind=self.data_kind, target=self.target.label
        )


# The longest 経過 entry a form accepts (documents wrap and flow any length).
TIMELINE_TEXT_MAX = 4000


class TimelineEvent(models.Model):
    """One line of the 経過: a date, who acted, what happened."""

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="timeline", verbose_name=_("case")
    )
    occurred_on = models.DateField(_("date"))
    actor = models.CharField(_("actor"), max_length=100)
    text = models.TextField(pgettext_lazy("timeline", "what happened"))
    # Machine code of the action that wrote it ("case.opened"); empty for entries by hand.
    action = models.CharField(_("action"), max_length=50, blank=True)
    # Part of the story as a press release or case report tells it (経過). Bookkeeping lines
    # (a stage change without a note, a document issued) are kept but left out there.
    in_story = models.BooleanField(_("part of the story"), default=True)
    # For publication (press releases, letters) or internal (a note meant for staff:
    # 「金額は例示」, a reminder to oneself). Each kind of entry has its default
    # (cases/publication.py); staff can change it on the case's timeline.
    public = models.BooleanField(_("for publication"), default=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedManager(municipality="case__municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["occurred_on", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.actor}"


class AuditEntry(models.Model):
    """Who did what to which case, written in the same transaction as the change.

    One chain per municipality (`chain` is its id; 0 holds events of no municipality, such
    as a failed log-in), so the writes of two municipalities never wait for each other.
    Each entry carries its place in the chain (`seq`, from 1), its predecessor's MAC and
    its own: an HMAC-SHA256 over its content keyed by a secret kept outside the database
    (TADASU_AUDIT_KEYS; `key_id` names which). Append-only in the database too: triggers
    refuse UPDATE, DELETE, TRUNCATE and INSERT OR REPLACE (migrations 0007 and 0013).
    `manage.py verify_audit` checks every MAC and each chain against the newest signed
    checkpoint kept outside the database (cases/audit_verify.py). Personal data is masked
    before it gets here (cases/services.py _masked)."""

    at = models.DateTimeField()
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=60)  # namespaced, e.g. "tadasu.case.opened"
    # Whose trail this is: the case's municipality, else the acting user's organisation.
    # No index of its own: both indexes below begin with it (every entry keeps each index).
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, related_name="+")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    chain = models.BigIntegerField(default=0)  # the municipality's id; 0 for none
    seq = models.BigIntegerField()  # the place in its chain, from 1
    key_id = models.CharField(max_length=16)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["municipality", "at"]),
            # The newest entry of a municipality: the version its cached pages are keyed by.
            models.Index(fields=["municipality", "id"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_entry_chain_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class AuditHead(models.Model):
    """The newest entry of one chain. Its row is locked while an entry is appended, so two
    writers can never both chain onto the same predecessor; each municipality has its own
    row, so no municipality waits on another's writes (or on its import)."""

    chain = models.BigIntegerField(unique=True)  # AuditEntry.chain
    seq = models.BigIntegerField(default=0)
    last_id = models.BigIntegerField(default=0)
    last_mac = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.last_mac[:12]}"


# --- Attachments (cases/attachments/: services, forms, views) -----------------------------


def _attachment_storage():
    # Named by migration 0005; the storage is the "attachments" alias of STORAGES.
    from .storage import attachments

    return attachments()


def _attachment_stored_name(instance: "Attachment", filename: str) -> str:
    # Random: the uploaded name (which may name a person) reaches neither the disk nor a URL.
    import secrets

    return secrets.token_hex(16)


class Attachment(models.Model):
    """A scan kept with the case file (添付ファイル): a signed receipt, an agency's answer."""

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("case")
    )
    file = models.FileField(
        storage=_attachment_storage, upload_to=_attachment_stored_name, editable=False
    )
    original_name = models.CharField(_("file name"), max_length=120)  # sanitised
    content_type = models.CharField(_("type"), max_length=40)  # from the bytes, not the name
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField("SHA-256", max_length=64)
    description = models.CharField(_("description"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    objects = ScopedManager(municipality="case__municipality", contractor="case__contractor")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class StageDeadline(models.Model):
    """How many business days a case may stay in a stage before it is overdue (処理期限).
    A municipality without a row for a stage uses cases/deadlines.py DEFAULT_DAYS."""

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.CASCADE,
        related_name="stage_deadlines",
        verbose_name=_("municipality"),
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices)
    business_days = models.PositiveSmallIntegerField(_("business days"))

    objects = ScopedManager(municipality="municipality")

    class Meta:
        verbose_name = _("stage deadline")
        verbose_name_plural = _("stage deadlines")
        constraints = [
            models.UniqueConstraint(
                fields=["municipality", "stage"], name="one_deadline_per_stage"
            ),
            models.CheckConstraint(
                condition=Q(business_days__gte=1) & Q(business_days__lte=250),
                name="deadline_days_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.municipality} {self.get_stage_display()} {self.business_days}"


class ClosedDay(models.Model):
    """A day the municipality's offices are closed besides weekends, national holidays
    and the year-end break (12/29–1/3), e.g. a system-migration closure (臨時閉庁日)."""

    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.CASCADE,
        related_name="closed_days",
        verbose_name=_("municipality"),
    )
    day = models.DateField(_("date"))
    name = models.CharField(_("reason"), max_length=100, blank=True)

    objects = ScopedManager(municipality="municipality")

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "day"], name="one_closed_day_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.municipality} {self.day}"
