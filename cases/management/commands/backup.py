"""Back up the database and every stored file into a new folder (cases/backup.py).

    manage.py backup /backups/2026-12-02

The keys are not in the backup: keep them in the secret store, and back that up apart.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database and the stored files (documents, attachments, checkpoints)."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="a new folder to write the backup into")

    def handle(self, *args, folder: Path, **options) -> None:
        try:
            summary = backup(folder)
        except BackupError as error:
            raise CommandError(str(error)) from None
        for alias, count in sorted(summary.files.items()):
            self.stdout.write(f"{alias}: {count} files")
        self.stdout.write(f"{sum(summary.rows.values())} rows of {len(summary.rows)} models")
        if summary.missing:
            # Written down in the manifest too; the backup is still made of what exists.
            self.stderr.write(f"{len(summary.missing)} stored files are missing:")
            for name in summary.missing:
                self.stderr.write(f"  {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up into {folder}. The keys are not in it: keep TADASU_FIELD_KEYS, "
                "TADASU_AUDIT_KEYS and the checkpoint keys in your secret store."
            )
        )
