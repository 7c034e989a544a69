from django.core.management.base import BaseCommand, CommandError

from cases.audit_verify import verify


class Command(BaseCommand):
    help = (
        "Check the audit trail: every entry's MAC and place in its municipality's chain, and "
        "each chain against the newest signed checkpoint (audit_checkpoint). Exits non-zero "
        "naming the first bad entry of each chain."
    )

    def handle(self, *args, **options) -> None:
        report = verify()
        if report.problems:
            for problem in report.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"The audit trail of {report.count} entries has been tampered with: "
                f"{report.problems[0]}"
            )
        if report.checkpoint is None:
            self.stdout.write(
                self.style.WARNING(
                    "No signed checkpoint was found: entries removed from the end of a chain "
                    "cannot be detected. Run `manage.py audit_checkpoint`."
                )
            )
            since = "(no checkpoint)"
        else:
            since = (
                f"checked against checkpoint {report.checkpoint.name} of "
                f"{report.checkpoint.created:%Y-%m-%d %H:%M:%S %Z}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"The audit trail of {report.count} entries in {report.chains} chain(s) is "
                f"intact, {since}."
            )
        )
