"""Restore a backup made by `manage.py backup` into a new, migrated database
(cases/backup.py), then prove it: the audit trail and the ledger totals are checked.

    manage.py migrate && manage.py restore /backups/2026-12-02
    manage.py restore --check /backups/2026-12-02     # only the checks; changes nothing
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases import backup as backups
from cases.backup import BackupError


class Command(BaseCommand):
    help = "Restore a backup into a new, migrated database, then verify it."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--check",
            action="store_true",
            help="check the backup's files and the keys against it, and change nothing",
        )

    def handle(self, *args, folder: Path, check: bool, **options) -> None:
        try:
            if check:
                manifest = backups.check(folder)
                self.stdout.write(
                    self.style.SUCCESS(
                        f"The backup of {manifest['created_at']} is complete and the keys "
                        "it needs are present."
                    )
                )
                return
            summary = backups.restore(folder)
        except BackupError as error:
            raise CommandError(str(error)) from None
        for alias, count in sorted(summary.files.items()):
            self.stdout.write(f"{alias}: {count} files")
        self.stdout.write(f"{sum(summary.rows.values())} rows of {len(summary.rows)} models")
        backups.prove(self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Restored {folder}."))
