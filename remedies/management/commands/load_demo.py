from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.audit_verify import checkpoint_after_bulk_job
from remedies.demo import DEMO_PASSWORD, USERS, load_demo
from remedies.interchange import InterchangeError


class Command(BaseCommand):
    help = (
        "Create the demo organisations and users, then import the three reference cases "
        "from remedies/demo_cases.json (idempotent; DEBUG only)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "load_demo creates users with a published password; "
                "it runs only with DJANGO_DEBUG=1."
            )
        try:
            load_demo()
        except InterchangeError as error:
            raise CommandError(f"demo_cases.json: {error}") from error
        # Other apps add their own demo data (an AppConfig with a `demo_step`), so that
        # remedies/ need not know them.
        for config in apps.get_app_configs():
            step = getattr(config, "demo_step", None)
            if callable(step):
                step()
        self.stdout.write(self.style.SUCCESS("Demo data is loaded."))
        self.stdout.write(checkpoint_after_bulk_job())
        self.stdout.write(f"Demo log-ins (password: {DEMO_PASSWORD}):")
        for spec in USERS:
            who = f"{spec.organisation}, {spec.role}" if spec.role else "Django admin (/admin/)"
            self.stdout.write(f"  {spec.username:<18} {who}")
