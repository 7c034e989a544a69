from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemediesConfig(AppConfig):
    name = "remedies"
    verbose_name = _("Remedies")

    @staticmethod
    def demo_step() -> None:
        # The instalment case (remedies/demo.py), dated back from the day it is loaded.
        from .demo import load_instalment_demo

        load_instalment_demo()

    def ready(self) -> None:
        # The stage machine's proxy model (CaseFile) lives in workflow.py, beside the
        # facts its guards check; importing it here registers it with the app registry.
        from cases import deadlines, handovers, screening, sections

        # audit_actions: the names and sentences of remedies' audit entries (/audit/).
        from . import audit_actions, ledger, views, workflow  # noqa: F401
        from .models import AgencyContact, ApologyLetter, CompensationAgreement, LedgerEntry, Visit

        # Input screen (cases/screening.py): free text and the names of people present.
        screening.register(AgencyContact, text=("request", "answer"))
        screening.register(CompensationAgreement, text=("note",))
        screening.register(
            Visit, text=("place", "outcome"), names=("city_attendees", "contractor_attendees")
        )
        screening.register(ApologyLetter, text=("note",))
        screening.register(LedgerEntry, text=("note",))

        from .documents import views as document_views

        sections.register(
            sections.Section("head", "remedies/visit_shortcut.html", views.visit_shortcut_section)
        )
        sections.register(sections.Section("top", "remedies/stage_panel.html", views.stage_section))
        sections.register(
            sections.Section("bottom", "remedies/overview.html", views.remedies_section)
        )
        sections.register(
            sections.Section(
                "bottom",
                "remedies/documents_section.html",
                document_views.case_documents_section,
            )
        )
        # A request to an agency stops the stage's clock until it is answered.
        deadlines.register_pause(
            deadlines.PauseSource(AgencyContact, start="contacted_on", end="answered_on")
        )
        # A case's money totals move with it when it changes contractor (cases/handovers.py).
        handovers.on_contractor_changed(ledger.case_contractor_changed)
