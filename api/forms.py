from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms_base import TadasuForm

from .tokens import NAME_MAX


class TokenForm(TadasuForm):
    name = forms.CharField(
        label=_("Token name"),
        max_length=NAME_MAX,
        help_text=_("Say where it will be used, e.g. 受付管理システム連携."),
    )
    account = forms.ModelChoiceField(
        label=_("For the account"),
        queryset=None,
        required=False,
        help_text=_(
            "Leave empty for a token of your own. A token for a contractor's account "
            "reaches this municipality's cases only."
        ),
    )

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        if accounts is None:
            del self.fields["account"]
        else:
            self.fields["account"].queryset = accounts
            self.fields["account"].empty_label = _("Myself")
