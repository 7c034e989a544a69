from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Case files")

    def ready(self) -> None:
        # Audit: connects the log-in, log-out and failed log-in receivers.
        # Security: a session's idle and absolute clocks start at log-in.
        from django.contrib.auth.signals import user_logged_in

        from . import audit  # noqa: F401
        from .middleware import start_session_clock

        user_logged_in.connect(start_session_clock, dispatch_uid="tadasu.session_clock")

        # Choice labels read from a table built once per field (cases/labels.py), for the
        # models of Tadasu's own apps.
        from django.apps import apps

        from . import labels

        labels.install(m for m in apps.get_models() if m._meta.app_config.name in labels.OWN_APPS)

        # Input screen: no individual number in free text, no invisible controls in names.
        from . import screening
        from .models import Attachment, Case, Misregistration, Party, TimelineEvent

        screening.register(Case, text=("summary", "discovery", "cause_text", "prevention"))
        screening.register(
            Party,
            text=(
                "phone",
                "address",
                "bank_name",
                "account_number",
                "payment_service",
                "payment_account",
                "identification_note",
            ),
            names=("label", "name", "name_kana"),
        )
        screening.register(Misregistration, text=("note",))
        screening.register(TimelineEvent, text=("text",), names=("actor",))
        screening.register(Attachment, text=("description",))

        # Attachments: a section at the foot of the case page (after the documents).
        from . import sections
        from .attachments.views import attachments_section

        sections.register(
            sections.Section(
                "bottom", "cases/attachments_section.html", attachments_section, order=100
            )
        )

        # Admin: every registered admin, ours and other apps' (groups, lock-outs), writes
        # its changes to the audit trail. The admin app is listed first, so its ready()
        # has loaded every admin module by now.
        from django.contrib import admin

        from .admin_audit import audit_every_admin

        audit_every_admin(admin.site)
