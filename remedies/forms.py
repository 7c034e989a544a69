"""Forms parse input; the rules live in the services (RemedyError → field message)."""

import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cases.forms import (
    DateInput,
    ModelMultipleChoiceField,
    TadasuForm,
    party_choice_label,
)
from cases.models import Agency, Party

from .models import MAX_AMOUNT, MAX_INSTALMENTS, Channel, Delivery, Method, Purpose, Side

CITY_OR_CONTRACTOR = [
    (Side.MUNICIPALITY.value, Side.MUNICIPALITY.label),
    (Side.CONTRACTOR.value, Side.CONTRACTOR.label),
]
MONEY_METHODS = [(m.value, m.label) for m in Method if m != Method.POINTS]


class YenField(forms.IntegerField):
    """Whole yen. Accepts what people type: 5000, 5,000, ５，０００, 5,000円, ¥5,000."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value)
            for mark in (",", "円", "¥", "\\", " "):
                value = value.replace(mark, "")
            if value and not value.lstrip("-").isdigit():
                raise ValidationError(
                    _("Enter the amount in whole yen, e.g. 5,000."), code="invalid"
                )
        return super().to_python(value)


class PartyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Party) -> str:
        return party_choice_label(obj)


class LedgerForm(TadasuForm):
    """Every ledger form carries the ledger head it was drawn from (see ledger.ledger_head)."""

    expected_head = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, parties=None, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, PartyChoiceField):
                field.queryset = parties


class ContactForm(TadasuForm):
    agencies = ModelMultipleChoiceField(
        label=_("Agencies"), queryset=Agency.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    made_by = forms.ChoiceField(label=_("Contacted by"), choices=CITY_OR_CONTRACTOR)
    contacted_on = forms.DateField(label=_("Contacted on"), widget=DateInput())
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    request = forms.CharField(
        label=_("What was reported or asked"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Written as it should read in the timeline."),
    )
    answered_on = forms.DateField(label=_("Answered on"), required=False, widget=DateInput())
    answer = forms.CharField(
        label=_("Answer"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class AnswerForm(TadasuForm):
    answered_on = forms.DateField(label=_("Answered on"), widget=DateInput())
    answer = forms.CharField(label=_("Answer"), widget=forms.Textarea(attrs={"rows": 3}))


class AgreementForm(TadasuForm):
    payer = forms.ChoiceField(label=_("Who pays"), choices=CITY_OR_CONTRACTOR)
    amount = YenField(label=_("Amount (yen)"))
    form = forms.ChoiceField(label=_("Form"), choices=Method.choices)
    agreed_on = forms.DateField(label=_("Agreed on"), widget=DateInput())
    party = PartyChoiceField(label=_("For whom"), queryset=Party.objects.none(), required=False)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, parties=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = parties


class VisitForm(LedgerForm):
    party = PartyChoiceField(label=_("Person visited"), queryset=Party.objects.none())
    visited_on = forms.DateField(label=_("Visited on"), widget=DateInput())
    place = forms.CharField(label=_("Place"), max_length=200)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    # Not ticked in advance: a visit recorded without a word about the apology must not
    # count as one (closing a case asks for each person's apology).
    apologised = forms.BooleanField(label=_("Apologised in person"), required=False)
    city_attendees = forms.CharField(label=_("City attendees"), max_length=200, required=False)
    contractor_attendees = forms.CharField(
        label=_("Contractor attendees"), max_length=200, required=False
    )
    outcome = forms.CharField(
        label=_("Outcome"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Written as it should read in the timeline."),
    )
    # Who paid and how are asked, never assumed: they are required once an amount is given.
    handed_over = YenField(label=_("Amount handed over (yen)"), required=False)
    hand_over_side = forms.ChoiceField(
        label=_("Paid by"), choices=[("", ""), *CITY_OR_CONTRACTOR], required=False
    )
    hand_over_method = forms.ChoiceField(
        label=_("Handed over as"), choices=[("", ""), *MONEY_METHODS], required=False
    )
    collected = YenField(label=_("Amount collected (yen)"), required=False)
    collected_by = forms.ChoiceField(
        label=_("Collected by"), choices=[("", ""), *CITY_OR_CONTRACTOR], required=False
    )
    collection_method = forms.ChoiceField(
        label=_("Returned as"), choices=[("", ""), *MONEY_METHODS], required=False
    )
    MONEY_DETAILS = {
        "handed_over": ("hand_over_side", "hand_over_method"),
        "collected": ("collected_by", "collection_method"),
    }

    def __init__(self, *args, contractor_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if contractor_only:
            # Contractor staff book only their own company's side (remedies.services).
            own = [(Side.CONTRACTOR.value, Side.CONTRACTOR.label)]
            self.fields["hand_over_side"].choices = own
            self.fields["collected_by"].choices = own

    def clean(self):
        data = super().clean()
        for amount, details in self.MONEY_DETAILS.items():
            if data.get(amount):
                for name in details:
                    if not data.get(name) and name not in self.errors:
                        self.add_error(name, self.fields[name].error_messages["required"])
        return data


class LetterDeliveryForm(TadasuForm):
    delivery = forms.ChoiceField(label=_("How it was sent"), choices=Delivery.choices)
    sent_on = forms.DateField(label=_("Sent or handed over on"), widget=DateInput())


class MisallocationForm(LedgerForm):
    owed = PartyChoiceField(label=_("Whose money or points it was"), queryset=Party.objects.none())
    holder = PartyChoiceField(label=_("Who received it"), queryset=Party.objects.none())
    amount = YenField(label=_("Amount (yen)"))
    on = forms.DateField(label=_("Date"), widget=DateInput())
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class PaymentForm(LedgerForm):
    party = PartyChoiceField(label=_("Paid to"), queryset=Party.objects.none())
    amount = YenField(label=_("Amount (yen)"))
    side = forms.ChoiceField(label=_("Paid by"), choices=CITY_OR_CONTRACTOR)
    method = forms.ChoiceField(label=_("Method"), choices=MONEY_METHODS)
    on = forms.DateField(label=_("Date"), widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False)


class CollectionForm(LedgerForm):
    party = PartyChoiceField(label=_("Collected from"), queryset=Party.objects.none())
    amount = YenField(label=_("Amount (yen)"), help_text=_("One instalment at a time is fine."))
    side = forms.ChoiceField(label=_("Collected by"), choices=CITY_OR_CONTRACTOR)
    method = forms.ChoiceField(label=_("Method"), choices=MONEY_METHODS)
    on = forms.DateField(label=_("Date"), widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False)


class RegrantForm(LedgerForm):
    party = PartyChoiceField(label=_("Re-granted to"), queryset=Party.objects.none())
    amount = YenField(label=_("Amount (yen)"))
    on = forms.DateField(label=_("Date"), widget=DateInput())
    note = forms.CharField(label=_("Note"), required=False)


class NationalCorrectionForm(LedgerForm):
    holder = PartyChoiceField(
        label=_("Points withdrawn from"),
        queryset=Party.objects.none(),
        help_text=_("The person who held the points granted by mistake."),
    )
    owed = PartyChoiceField(
        label=_("Points granted to"),
        queryset=Party.objects.none(),
        help_text=_("The person who should have received them."),
    )
    amount = YenField(label=_("Amount (yen)"), help_text=_("1 point = 1 yen."))
    on = forms.DateField(
        label=_("Corrected by the national system on"),
        widget=DateInput(),
        help_text=_("The date the national points system made the correction."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class WriteOffForm(LedgerForm):
    party = PartyChoiceField(label=_("Whose balance"), queryset=Party.objects.none())
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))
    on = forms.DateField(label=_("Date"), widget=DateInput())


class ReverseForm(LedgerForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
    on = forms.DateField(label=_("Date"), widget=DateInput())


class TransitionForm(TadasuForm):
    expected_stage = forms.CharField(widget=forms.HiddenInput)
    on = forms.DateField(label=_("Date"), required=False, widget=DateInput())
    note = forms.CharField(
        label=_("Note or reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class PlanForm(LedgerForm):
    """A repayment plan: who, when agreed, and the schedule as rows of due date and amount.
    The rows are numbered fields (due_1, amount_1, …) so that a message about one row
    stands next to it; `count` and `first_due` propose an even monthly split."""

    party = PartyChoiceField(label=_("Person repaying"), queryset=Party.objects.none())
    agreed_on = forms.DateField(label=_("Agreed on"), widget=DateInput())
    count = forms.IntegerField(
        label=_("Number of instalments"),
        required=False,
        min_value=1,
        max_value=MAX_INSTALMENTS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    first_due = forms.DateField(label=_("First due date"), required=False, widget=DateInput())
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Carries the messages about the schedule as a whole (its sum, its length).
    schedule = forms.CharField(required=False, widget=forms.HiddenInput)

    ROWS_SHOWN = 3  # blank rows offered below the last one filled in
    # What "Fill in the rows" needs; the rows themselves are replaced.
    SPLIT_FIELDS = ("expected_head", "party", "agreed_on", "count", "first_due")

    def __init__(self, *args, parties=None, **kwargs):
        super().__init__(*args, parties=parties, **kwargs)
        for n in range(1, MAX_INSTALMENTS + 1):
            self.fields[f"due_{n}"] = forms.DateField(
                label=_("Due date of instalment %(n)s") % {"n": n},
                required=False,
                widget=DateInput(),
            )
            self.fields[f"amount_{n}"] = YenField(
                label=_("Amount of instalment %(n)s (yen)") % {"n": n},
                required=False,
                min_value=None,
                max_value=None,
            )

    def _filled(self, n: int) -> bool:
        return bool(self[f"due_{n}"].value() or self[f"amount_{n}"].value())

    def last_filled(self) -> int:
        return max((n for n in range(1, MAX_INSTALMENTS + 1) if self._filled(n)), default=0)

    def rows(self) -> list:
        """(due field, amount field) pairs to show: every row up to the last one filled in,
        and a few blank ones after it."""
        shown = min(max(self.last_filled() + self.ROWS_SHOWN, 6), MAX_INSTALMENTS)
        return [(n, self[f"due_{n}"], self[f"amount_{n}"]) for n in range(1, shown + 1)]

    def instalments(self) -> list[tuple]:
        """The rows up to the last one filled in, as (due date, amount); gaps are kept so
        that the service's message about row n lands on row n."""
        data = self.cleaned_data
        return [
            (data.get(f"due_{n}"), data.get(f"amount_{n}"))
            for n in range(1, self.last_filled() + 1)
        ]
