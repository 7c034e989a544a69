from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms import (
    DateInput,
    ModelMultipleChoiceField,
    TadasuForm,
    party_choice_label,
)
from cases.models import Case, Party

from ..models import DocumentKind, EntryKind, LedgerEntry

CASE_KINDS = [
    DocumentKind.APOLOGY,
    DocumentKind.RECEIPT,
    DocumentKind.SETTLEMENT,
    DocumentKind.REPAYMENT_REQUEST,
    DocumentKind.REPAYMENT_REMINDER,
    DocumentKind.REPORT,
    DocumentKind.PRESS_RELEASE,
]


class CaseDocumentForm(TadasuForm):
    kind = forms.ChoiceField(label=_("Document"), choices=[(k.value, k.label) for k in CASE_KINDS])
    party = forms.ModelChoiceField(
        label=_("For whom"),
        queryset=Party.objects.none(),
        required=False,
        help_text=_("For letters, settlement papers and requests."),
    )
    entry = forms.ModelChoiceField(
        label=_("Payment"),
        queryset=LedgerEntry.objects.none(),
        required=False,
        help_text=_("For a receipt."),
    )
    dated = forms.DateField(label=_("Date of the document"), required=False, widget=DateInput())

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = Party.objects.filter(case=case).order_by("label")
        self.fields["party"].label_from_instance = party_choice_label
        self.fields["entry"].queryset = (
            LedgerEntry.objects.filter(case=case, kind=EntryKind.PAYMENT)
            .select_related("party")
            .order_by("on", "id")
        )
        self.fields["entry"].label_from_instance = lambda e: (
            f"{e.on:%Y-%m-%d} {e.party.label} {abs(e.delta):,}円 ({e.get_method_display()})"
        )


class PressReleaseForm(TadasuForm):
    cases = ModelMultipleChoiceField(
        label=_("Cases"), queryset=Case.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    dated = forms.DateField(label=_("Date of the document"), required=False, widget=DateInput())

    def __init__(self, *args, cases, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cases"].queryset = cases
        self.fields["cases"].label_from_instance = lambda c: (
            f"{c.reference} {c.get_kind_display()} ({c.office})"
        )
