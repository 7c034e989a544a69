from django.core.management.base import BaseCommand, CommandError

from cases.audit import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain: a changed or removed entry is reported."

    def handle(self, *args, **options) -> None:
        count, problems = verify_chain()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"The audit trail of {count} entries has been tampered with.")
        self.stdout.write(self.style.SUCCESS(f"The audit trail of {count} entries is intact."))
