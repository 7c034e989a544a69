from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceptionsConfig(AppConfig):
    name = "receptions"
    verbose_name = _("Reception sheets")

    def ready(self) -> None:
        # The counterpart finder is a section of the case page: cases/ renders what is
        # registered and never imports this app.
        from cases import sections

        from .views import counterpart_section

        sections.register(
            sections.Section(
                "bottom", "receptions/counterpart_section.html", counterpart_section, order=200
            )
        )

    def demo_step(self) -> None:
        """Called by `manage.py load_demo` after the reference cases (remedies knows no more
        of this app than that an AppConfig may offer a demo step)."""
        from .demo import load_demo_receptions

        load_demo_receptions()
