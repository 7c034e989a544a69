from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OverviewConfig(AppConfig):
    """Reads across the case file and the remedies: the managers' dashboard, everyone's
    work queues, deadline settings and reminders. It depends on cases/, remedies/ and
    receptions/ (the checklist completion panel); nothing depends on it."""

    name = "overview"
    verbose_name = _("Overview")
