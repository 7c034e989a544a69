"""Encrypt attachment files stored in clear before attachments were encrypted at rest.

Idempotent: a file already encrypted is left as it is. Migration cases 0014 runs the same on
upgrade; run this again after restoring files from an older backup.
"""

from django.core.management.base import BaseCommand
from django_scopes import scopes_disabled

from cases.models import Attachment
from cases.storage import encrypt_stored


class Command(BaseCommand):
    help = "Encrypt attachment files still stored in clear (with the newest field key)."

    def handle(self, *args, **options) -> None:
        with scopes_disabled():
            rows = Attachment.objects.all()
            encrypted, missing = encrypt_stored(rows)
            total = rows.count()
        if missing:
            self.stderr.write(f"{missing} attachment files are missing.")
        self.stdout.write(self.style.SUCCESS(f"Encrypted {encrypted} of {total} attachment files."))
