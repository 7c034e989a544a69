import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from remedies.interchange import InterchangeError, import_cases


class Command(BaseCommand):
    help = (
        "Import cases from a Tadasu interchange file (docs/interchange.md), replaying every "
        "action through the services as the user who took it. All cases or none."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="leave out a case whose office and discovery date are already recorded",
        )

    def handle(self, *args, file: str, skip_existing: bool, **options) -> None:
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(f"{file}: not a JSON file in UTF-8 ({error})") from error
        try:
            cases = import_cases(data, skip_existing=skip_existing)
        except InterchangeError as error:
            raise CommandError(f"{file}: {error}\nNothing was imported.") from error
        self.stdout.write(self.style.SUCCESS(f"Imported {len(cases)} case(s)."))
        for case in cases:
            self.stdout.write(f"  {case.reference}  {case.office}  {case.discovered_on}")
