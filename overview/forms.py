from django import forms
from django.utils.translation import gettext_lazy as _

from cases.deadlines import DEFAULT_DAYS, TIMED_STAGES
from cases.forms import DateInput, TadasuForm
from cases.wareki import fiscal_year_label

from .periods import MAX_MONTHS, Period, months_between, years_offered
from .services import MAX_DAYS


class DeadlinesForm(TadasuForm):
    """Business days allowed per stage, one field per stage."""

    def __init__(self, *args, current: dict[str, int], **kwargs):
        super().__init__(*args, **kwargs)
        for stage in TIMED_STAGES:
            self.fields[str(stage)] = forms.IntegerField(
                label=stage.label,
                min_value=1,
                max_value=MAX_DAYS,
                initial=current.get(str(stage), DEFAULT_DAYS[stage]),
                help_text=_("Business days (default %(n)s)") % {"n": DEFAULT_DAYS[stage]},
            )


class ClosedDayForm(TadasuForm):
    day = forms.DateField(label=_("Date"), widget=DateInput())
    name = forms.CharField(label=_("Reason"), max_length=100, required=False)


class PeriodForm(TadasuForm):
    """The dashboard's period: a fiscal year, or a range of dates (which wins when given).
    Read from the query string; a bad value is answered next to its field and the
    dashboard shows the current fiscal year."""

    is_filter = True

    year = forms.TypedChoiceField(label=_("Fiscal year"), coerce=int, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=DateInput())
    end = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        years = years_offered(today)
        self.fields["year"].choices = [(y, fiscal_year_label(y)) for y in years]
        self.fields["year"].initial = years[0]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if self.errors:
            return data
        if start or end:
            if not start:
                self.add_error("start", _("Enter the first day of the period."))
            elif not end:
                self.add_error("end", _("Enter the last day of the period."))
            elif end < start:
                self.add_error("end", _("The last day cannot be before the first day."))
            elif start > self.today:
                self.add_error("start", _("This date is in the future."))
            elif months_between(start, end) > MAX_MONTHS:
                self.add_error(
                    "end", _("Choose a period of at most %(n)s months.") % {"n": MAX_MONTHS}
                )
        return data

    def period(self) -> Period:
        """The chosen period; the current fiscal year when nothing valid was chosen."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            if data.get("start") and data.get("end"):
                return Period(data["start"], data["end"])
            if data.get("year"):
                return Period.fiscal(data["year"])
        return Period.current(self.today)
