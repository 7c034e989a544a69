from django import forms
from django.utils.translation import gettext_lazy as _

from cases.deadlines import DEFAULT_DAYS, TIMED_STAGES
from cases.forms import DateInput, TadasuForm

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
