from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemediesConfig(AppConfig):
    name = "remedies"
    verbose_name = _("Remedies")

    def ready(self) -> None:
        # The stage machine's proxy model (CaseFile) lives in workflow.py, beside the
        # facts its guards check; importing it here registers it with the app registry.
        from . import workflow  # noqa: F401
