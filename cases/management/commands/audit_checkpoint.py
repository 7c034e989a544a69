from django.core.management.base import BaseCommand, CommandError

from cases.audit_verify import CheckpointError, write_checkpoint


class Command(BaseCommand):
    help = (
        "Sign each audit chain's head (count, last id, last MAC, time) with the checkpoint key "
        "and store the checkpoint outside the database, never overwriting one. Run it on a "
        "schedule and after bulk jobs (docs/SECURITY.md)."
    )

    def handle(self, *args, **options) -> None:
        try:
            name, body = write_checkpoint()
        except CheckpointError as error:
            raise CommandError(str(error)) from error
        entries = sum(chain["count"] for chain in body["chains"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint {name}: {len(body['chains'])} chain(s), {entries} entries."
            )
        )
