"""Forms parse input; the rules themselves live in services (CaseError → field message)."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .forms_base import DateInput, TadasuForm, writable_in_wareki  # noqa: F401  (re-exported)
from .models import (
    DATA_KINDS_FOR_CASE,
    TIMELINE_TEXT_MAX,
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    Contractor,
    CorrectionWay,
    DataKind,
    Membership,
    Office,
    Party,
    Role,
    User,
    link_sentence,
)
from .publication import HAND_ENTRY_DEFAULT
from .templatetags.tadasu import person


class ReportForm(TadasuForm):
    """What contractor staff fill in to report an error from one of their desks."""

    office = forms.ModelChoiceField(label=_("Office / desk"), queryset=Office.objects.none())
    kind = forms.ChoiceField(label=_("Kind of error"), choices=CaseKind.choices)
    occurred_on = forms.DateField(label=_("Occurred on"), required=False, widget=DateInput())
    discovered_on = forms.DateField(label=_("Discovered on"), widget=DateInput())
    discovery = forms.CharField(
        label=_("How it was discovered"),
        required=False,
        max_length=TIMELINE_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    summary = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=TIMELINE_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    cause_category = forms.ChoiceField(
        label=_("Cause"),
        required=False,
        choices=[("", _("Not yet known")), *CauseCategory.choices],
    )
    cause_text = forms.CharField(
        label=_("Cause in detail"),
        required=False,
        max_length=TIMELINE_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["office"].queryset = offices_for(membership)
        if membership.role == Role.CONTRACTOR:
            self.fields["office"].label_from_instance = lambda o: f"{o.municipality} {o.name}"


class CaseForm(ReportForm):
    """City staff open or edit a case of their own municipality."""

    contractor = forms.ModelChoiceField(
        label=_("Contractor running the desk"),
        queryset=Contractor.objects.none(),
        required=False,
    )
    prevention = forms.CharField(
        label=_("Prevention measures"),
        required=False,
        max_length=TIMELINE_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False
    )

    field_order = [
        "kind",
        "office",
        "contractor",
        "occurred_on",
        "discovered_on",
        "discovery",
        "summary",
        "cause_category",
        "cause_text",
        "prevention",
        "assignee",
    ]

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, membership=membership, **kwargs)
        municipality = membership.municipality
        self.fields["contractor"].queryset = Contractor.objects.filter(municipalities=municipality)
        self.fields["assignee"].queryset = User.objects.filter(
            membership__municipality=municipality,
            membership__role__in=[Role.STAFF, Role.MANAGER],
        ).order_by("username")
        self.fields["assignee"].label_from_instance = person

    @staticmethod
    def initial_from(case: Case) -> dict:
        return {
            name: getattr(case, name)
            for name in (
                "kind",
                "office",
                "contractor",
                "occurred_on",
                "discovered_on",
                "discovery",
                "summary",
                "cause_category",
                "cause_text",
                "prevention",
                "assignee",
            )
        }


def offices_for(membership: Membership):
    if membership.role == Role.CONTRACTOR:
        municipalities = membership.contractor.municipalities.all()
    else:
        municipalities = [membership.municipality]
    return (
        Office.objects.filter(municipality__in=municipalities, active=True)
        .select_related("municipality")
        .order_by("municipality__code", "name")
    )


class PartyForm(TadasuForm):
    label = forms.CharField(
        label=_("Label"),
        max_length=20,
        help_text=_("How the case papers call this person, e.g. A氏."),
    )
    identified = forms.BooleanField(
        label=_("Identified (name known)"), required=False, initial=True
    )
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=100, required=False)
    name_kana = forms.CharField(label=_("Name in kana"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    bank_name = forms.CharField(
        label=_("Bank and branch"),
        max_length=100,
        required=False,
        help_text=_("Where the case concerns a public-fund receiving account."),
    )
    account_number = forms.CharField(label=_("Account number"), max_length=20, required=False)
    payment_service = forms.CharField(
        label=_("Cashless payment service"),
        max_length=100,
        required=False,
        help_text=_("Where the case concerns Mynapoint linked to a cashless service."),
    )
    payment_account = forms.CharField(label=_("Payment account ID"), max_length=64, required=False)
    identification_note = forms.CharField(
        label=_("Identification status"),
        max_length=200,
        required=False,
        help_text=_("For a person not yet identified, e.g. 身元をデジタル庁に照会中."),
    )
    identified_on = forms.DateField(label=_("Identified on"), required=False, widget=DateInput())

    @staticmethod
    def initial_from(party: Party) -> dict:
        from .services import PARTY_FIELDS

        return {name: getattr(party, name) for name in PARTY_FIELDS}


class MisregistrationForm(TadasuForm):
    """A link as one sentence: 「[D氏] の [キャッシュレス決済] が [C氏] の マイナポイント に
    登録された」. The fields come in the sentence's order; the record (マイナポイント,
    マイナポータル) follows from the data (models.RECORD_OF)."""

    SENTENCE = ("source", "data_kind", "target")

    source = forms.ModelChoiceField(
        label=_("Whose (the person whose data it is)"),
        queryset=Party.objects.none(),
    )
    data_kind = forms.ChoiceField(label=_("Which data"), choices=DataKind.choices)
    target = forms.ModelChoiceField(
        label=_("Into whose record (the person it was registered for)"),
        queryset=Party.objects.none(),
    )
    registered_on = forms.DateField(label=_("Registered on"), required=False, widget=DateInput())
    corrected_on = forms.DateField(label=_("Corrected on"), required=False, widget=DateInput())
    paid_through = forms.BooleanField(
        label=_("Money or points were paid through it"), required=False
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, parties, case_kind: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("source", "target"):
            self.fields[name].queryset = parties
            self.fields[name].label_from_instance = party_choice_label
        # A cashless case offers no 公金受取口座 (and the reverse): a wrong kind misstates
        # what happened; the case's own kind comes first and is chosen.
        kinds = DATA_KINDS_FOR_CASE.get(case_kind)
        if kinds:
            self.fields["data_kind"].choices = [(k.value, k.label) for k in kinds]
            self.fields["data_kind"].initial = kinds[0].value

    def sentence_fields(self) -> list:
        return [self[name] for name in self.SENTENCE]

    def other_fields(self) -> list:
        return [self[name] for name in self.fields if name not in self.SENTENCE]

    def preview(self) -> str:
        """The sentence as chosen so far (the server's preview, for browsers without JS)."""
        values = {}
        for name in self.SENTENCE:
            bound = self[name]
            value = bound.value()
            if name == "data_kind":
                values[name] = value if value in dict(self.fields[name].choices) else ""
                continue
            party = next((p for p in self.fields[name].queryset if str(p.pk) == str(value)), None)
            values[name] = party.label if party else ""
        if not values["data_kind"] or not (values["source"] or values["target"]):
            return ""
        return link_sentence(
            source=values["source"] or "…",
            data_kind=values["data_kind"],
            target=values["target"] or "…",
        )


class LinkCorrectionForm(TadasuForm):
    corrected_on = forms.DateField(
        label=_("Corrected on"),
        widget=DateInput(),
        error_messages={"required": _("Enter the date it was corrected.")},
    )
    # Starts blank: a correction recorded with the link earlier may not say how.
    corrected_how = forms.ChoiceField(
        label=_("How it was corrected"), choices=[("", "—"), *CorrectionWay.choices]
    )
    correction_note = forms.CharField(
        label=_("About the correction (optional)"),
        max_length=200,
        required=False,
        help_text=_("For example: re-registered on the spot while the person waited."),
    )

    @staticmethod
    def initial_from(link) -> dict:
        return {
            "corrected_on": link.corrected_on,
            "corrected_how": link.corrected_how,
            "correction_note": link.correction_note,
        }


class LinkExcuseForm(TadasuForm):
    reason = forms.CharField(
        label=_("Why it cannot be corrected"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Enter the reason.")},
        help_text=_(
            "For example: the points were already granted and the national system cannot undo them."
        ),
    )


def party_choice_label(party: Party) -> str:
    return f"{party.label} {party.name}".strip()


class TimelineForm(TadasuForm):
    occurred_on = forms.DateField(label=_("Date"), widget=DateInput())
    actor = forms.CharField(
        label=_("Who acted"),
        max_length=100,
        widget=forms.TextInput(attrs={"list": "actor-suggestions"}),
    )
    text = forms.CharField(
        label=pgettext_lazy("timeline", "What happened"),
        max_length=TIMELINE_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    public = forms.BooleanField(
        label=_("For publication (press release and letters)"),
        required=False,
        initial=HAND_ENTRY_DEFAULT,
        help_text=_("Leave unticked for a note meant for staff only."),
    )

    @staticmethod
    def actor_suggestions(case: Case) -> list[str]:
        names = [str(case.municipality), str(case.office)]
        if case.contractor_id:
            names.append(str(case.contractor))
        names += list(Agency.objects.values_list("name", flat=True))
        return names


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=[("ja", "日本語"), ("en", "English")])


# --- Input that used to answer 500 (found by tests/test_fuzz_all_forms.py) ----------------
class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses an id no row can have before the database is asked: SQLite raises
    OverflowError (a 500) for an IN with an integer beyond 64 bits, although it answers
    the same number in an = comparison; Django's single choice field is not affected."""

    def _check_values(self, value):
        if self.to_field_name is None and isinstance(value, list | tuple):
            for pk in value:
                try:
                    number = int(str(pk).strip())
                except ValueError:
                    continue  # not a number at all: Django's own check refuses it
                if not -(2**63) <= number < 2**63:
                    raise forms.ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": pk},
                    )
        return super()._check_values(value)


# --- end of input that used to answer 500 ------------------------------------------------


class RevealForm(TadasuForm):
    """The reason asked before a closed case's personal details are shown (cases/reveal.py)."""

    reason = forms.CharField(
        label=_("Why do you need to see these details?"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded in the audit trail, e.g. 監査での照合, 住民からの再照会."),
    )
