"""Forms parse input; the rules live in receptions/services.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms import DateInput, TadasuForm
from cases.models import Contractor, Membership, Office

from . import sheets
from .models import ChecklistRecord


class UploadForm(TadasuForm):
    file = forms.FileField(
        label=_("Reception sheet (CSV or Excel .xlsx)"),
        help_text=_(
            "CSV in UTF-8 or Shift_JIS, or .xlsx; the first line names the columns. A sheet "
            "holding an individual number (My Number) is refused."
        ),
    )


class MappingForm(TadasuForm):
    """One select per target field, listing the sheet's columns; guessed from the header."""

    contractor = forms.ModelChoiceField(
        label=_("Contractor running the desk"),
        queryset=Contractor.objects.none(),
        required=False,
        help_text=_("Its staff will see these receptions and record their checklists."),
    )

    def __init__(self, *args, header: list[str], membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [("", _("— not in this sheet —"))] + [
            (str(i), f"{i + 1}: {name}") for i, name in enumerate(header)
        ]
        for target, (label, _names) in sheets.TARGETS.items():
            self.fields[target] = forms.TypedChoiceField(
                label=label,
                choices=columns,
                coerce=int,
                empty_value=None,
                required=target in sheets.REQUIRED,
            )
        self.fields["contractor"].queryset = Contractor.objects.filter(
            municipalities=membership.municipality
        )
        # The contractor last: the column selects come first, in the sheet's terms.
        self.order_fields([*sheets.TARGETS, "contractor"])

    def mapping(self) -> dict[str, int | None]:
        return {target: self.cleaned_data.get(target) for target in sheets.TARGETS}


class ChecklistForm(TadasuForm):
    card_returned = forms.BooleanField(label=_("Card returned to the citizen"), required=False)
    portal_logged_out = forms.BooleanField(label=_("Logged out of the portal"), required=False)
    screen_closed = forms.BooleanField(label=_("Application screen closed"), required=False)
    citizen_signed = forms.BooleanField(label=_("Signed by the citizen"), required=False)
    staff_signed = forms.BooleanField(label=_("Signed by the desk staff"), required=False)

    @staticmethod
    def initial_from(record: ChecklistRecord | None) -> dict:
        if record is None:
            return {}
        return {item: getattr(record, item) for item in ChecklistRecord.ITEMS}


class ReceptionSearchForm(TadasuForm):
    """Find the affected person's reception: by name (any kana), date and office."""

    is_filter = True

    rq = forms.CharField(label=_("Name"), required=False, max_length=100)
    ron = forms.DateField(label=_("Date"), required=False, widget=DateInput())
    roffice = forms.ModelChoiceField(
        label=_("Office / desk"), queryset=Office.objects.none(), required=False
    )

    def __init__(self, *args, municipality_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roffice"].queryset = Office.objects.filter(municipality_id=municipality_id)


class CounterpartForm(TadasuForm):
    affected = forms.IntegerField(min_value=1, max_value=2**62, widget=forms.HiddenInput)
