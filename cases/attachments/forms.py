"""The attachment upload form."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..forms import TadasuForm


class AttachmentForm(TadasuForm):
    file = forms.FileField(label=gettext_lazy("File"))
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("For example: C氏の受領書（署名済み）, デジタル庁からの回答"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("PDF, PNG or JPEG, up to %(max)s MB.") % {
            "max": settings.TADASU_ATTACHMENT_MAX_MB
        }
        self.fields["file"].widget.attrs["accept"] = ".pdf,.png,.jpg,.jpeg"
