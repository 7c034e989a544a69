"""What the audit trail is narrowed by: case, user, action and a date range, always inside
the reader's own municipality (the view checks the role; this module never widens the
municipality it is given)."""

from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import audit_describe
from .forms import DateInput, TadasuForm
from .models import AuditEntry, User

ALL = _("All")


def entries_of(municipality_id: int) -> QuerySet[AuditEntry]:
    """The municipality's trail, newest first, with what a row shows (user, case)."""
    return (
        AuditEntry.objects.filter(municipality_id=municipality_id)
        .select_related("user", "case")
        .order_by("-id")
    )


def _person(user: User) -> str:
    name = f"{user.last_name} {user.first_name}".strip()
    return f"{name}（{user.username}）" if name else user.username


class AuditFilterForm(TadasuForm):
    case = forms.CharField(
        label=_("Case reference"),
        required=False,
        max_length=32,
    )
    user = forms.TypedChoiceField(label=_("User"), required=False, coerce=int, empty_value=None)
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=DateInput(),
        error_messages={"invalid": _("Enter the first day as a date, e.g. 2023-03-16.")},
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=DateInput(),
        error_messages={"invalid": _("Enter the last day as a date, e.g. 2023-03-31.")},
    )

    def __init__(self, data=None, *, municipality_id: int, **kwargs):
        super().__init__(data, **kwargs)
        users = User.objects.filter(
            pk__in=AuditEntry.objects.filter(municipality_id=municipality_id).values("user_id")
        ).order_by("last_name", "first_name", "username")
        self.fields["user"].choices = [("", ALL), *((u.pk, _person(u)) for u in users)]
        self.fields["user"].error_messages["invalid_choice"] = _("Choose a user from the list.")
        self.fields["action"].choices = [("", ALL), *audit_describe.choices()]
        self.fields["action"].error_messages["invalid_choice"] = _(
            "Choose an action from the list."
        )

    def clean_case(self) -> str:
        # PostgreSQL refuses NUL in a query (tests/test_fuzz_all_forms.py found the 500).
        return self.cleaned_data["case"].replace("\x00", "").strip()

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("Enter a last day on or after the first day."))
        return data

    def filter(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        """The entries that match the valid filters (a filter with an error is left out,
        and shown next to its field)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        if data.get("case"):
            entries = entries.filter(case__reference=data["case"])
        if data.get("user"):
            entries = entries.filter(user_id=data["user"])
        action = data.get("action")
        if action:
            # The admin site is one choice for the actions of all its models.
            if action.endswith("."):
                entries = entries.filter(action__startswith=action)
            else:
                entries = entries.filter(action=action)
        # Whole days in the local time zone, as bounds on `at` (the index is on it).
        zone = timezone.get_current_timezone()
        if data.get("date_from"):
            entries = entries.filter(at__gte=datetime.combine(data["date_from"], time(), zone))
        if data.get("date_to") and data["date_to"] < date.max:
            end = data["date_to"] + timedelta(days=1)
            entries = entries.filter(at__lt=datetime.combine(end, time(), zone))
        return entries

    def used(self) -> dict[str, str]:
        """The valid filters as the export's audit entry records them."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {
            name: value.isoformat() if hasattr(value, "isoformat") else str(value)
            for name, value in data.items()
            if value not in (None, "") and name not in self.errors
        }
