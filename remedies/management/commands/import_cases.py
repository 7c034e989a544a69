from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from cases.audit_verify import checkpoint_after_bulk_job
from cases.models import Case
from remedies.interchange import InterchangeError, NotJSONError, import_file
from remedies.tasks import case_import_enqueue

_BATCH = 500  # cases listed per query once the import is done


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
        parser.add_argument(
            "--amend",
            action="store_true",
            help="a case whose reference is already in the database takes the file's "
            "actions that are newer than its own (its own must be the file's first ones); "
            "without it, a case that is already here is refused",
        )
        parser.add_argument(
            "--background",
            action="store_true",
            help="queue the import as a job for the job workers (remedies/tasks.py) and return",
        )

    def handle(
        self, *args, file: str, skip_existing: bool, amend: bool, background: bool, **options
    ) -> None:
        if background:
            try:
                job = case_import_enqueue(path=file, skip_existing=skip_existing, amend=amend)
            except OSError as error:
                raise CommandError(f"{file}: {error.strerror}") from error
            self.stdout.write(f"Job {job.pk} queued: a job worker imports {file}.")
            return
        # Read as a stream, one case at a time: a file of 10,000 cases read whole would
        # take more memory than a server may have to spare.
        try:
            with open(file, "rb") as stream:
                outcome = import_file(stream, skip_existing=skip_existing, amend=amend)
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from error
        except NotJSONError as error:
            raise CommandError(f"{file}: not a JSON file in UTF-8 ({error})") from error
        except InterchangeError as error:
            raise CommandError(f"{file}: {error}\nNothing was imported.") from error
        imported, amended = outcome.cases, outcome.amended
        created = len(imported) - len(amended)
        message = f"Imported {created} case(s)."
        if amend:
            message += f" Amended {len(amended)} case(s)."
        self.stdout.write(self.style.SUCCESS(message))
        self.stdout.write(checkpoint_after_bulk_job())
        with scopes_disabled():
            for start in range(0, len(imported), _BATCH):
                batch = imported[start : start + _BATCH]
                rows = Case.objects.filter(pk__in=batch).values_list(
                    "pk", "reference", "office__name", "discovered_on"
                )
                found = {pk: row for pk, *row in rows}
                for pk in batch:
                    reference, office, discovered_on = found[pk]
                    line = f"  {reference}  {office}  {discovered_on}"
                    if pk in amended:
                        line += f"  amended: {amended[pk]} newer action(s)"
                    self.stdout.write(line)
