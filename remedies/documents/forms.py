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


# The fields each kind of document takes; the page shows only these, and a POST for one
# kind ignores the fields of another. (The date is every kind's.)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    DocumentKind.APOLOGY: ("party", "dated"),
    DocumentKind.RECEIPT: ("entry", "dated"),
    DocumentKind.SETTLEMENT: ("party", "dated"),
    DocumentKind.REPAYMENT_REQUEST: ("party", "dated"),
    DocumentKind.REPAYMENT_REMINDER: ("party", "dated"),
    DocumentKind.REPORT: ("dated",),
    DocumentKind.PRESS_RELEASE: ("dated",),
}

# What each kind is, in a line, for the page that asks which one to prepare.
KIND_HELP: dict[str, str] = {
    DocumentKind.APOLOGY: _("To one person: the city's apology."),
    DocumentKind.RECEIPT: _("For one payment: the person signs that it was received."),
    DocumentKind.SETTLEMENT: _("To one person: what was paid back or returned, to sign."),
    DocumentKind.REPAYMENT_REQUEST: _("To a person who holds an excess: asks for it back."),
    DocumentKind.REPAYMENT_REMINDER: _("To a person who missed an instalment."),
    DocumentKind.REPORT: _("The whole case, for the city's files."),
    DocumentKind.PRESS_RELEASE: _("This case as a press release."),
}

PARTY_HELP: dict[str, str] = {
    DocumentKind.APOLOGY: _("The person the letter is addressed to."),
    DocumentKind.SETTLEMENT: _("The person who signs the confirmation."),
    DocumentKind.REPAYMENT_REQUEST: _("The person who holds the excess."),
    DocumentKind.REPAYMENT_REMINDER: _("The person who missed the instalment."),
}


class CaseDocumentForm(TadasuForm):
    """One kind's form: built for that kind, it has that kind's fields and no other."""

    kind = forms.ChoiceField(
        label=_("Document"),
        choices=[(k.value, k.label) for k in CASE_KINDS],
        widget=forms.HiddenInput,
    )
    party = forms.ModelChoiceField(label=_("For whom"), queryset=Party.objects.none())
    entry = forms.ModelChoiceField(label=_("Payment"), queryset=LedgerEntry.objects.none())
    dated = forms.DateField(label=_("Date of the document"), required=False, widget=DateInput())

    def __init__(self, *args, case: Case, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.chosen_kind = kind
        for name in [n for n in self.fields if n != "kind" and n not in KIND_FIELDS[kind]]:
            del self.fields[name]
        if "party" in self.fields:
            self.fields["party"].queryset = Party.objects.filter(case=case).order_by("label")
            self.fields["party"].label_from_instance = party_choice_label
            self.fields["party"].help_text = PARTY_HELP[kind]
        if "entry" in self.fields:
            self.fields["entry"].queryset = (
                LedgerEntry.objects.filter(case=case, kind=EntryKind.PAYMENT)
                .select_related("party")
                .order_by("on", "id")
            )
            self.fields["entry"].label_from_instance = lambda e: (
                f"{e.on:%Y-%m-%d} {e.party.label} {abs(e.delta):,}円 ({e.get_method_display()})"
            )
            self.fields["entry"].help_text = _("The payment the receipt is for.")


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
