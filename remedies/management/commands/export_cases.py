import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from cases.models import Case
from remedies.interchange import InterchangeError, export_cases


class Command(BaseCommand):
    help = (
        "Write cases as JSON in the Tadasu interchange format (docs/interchange.md): "
        "every case, or the ones whose references are given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("references", nargs="*", metavar="REF", help="case references")
        parser.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")

    def handle(self, *args, references: list[str], output: str | None, **options) -> None:
        # Cross-tenant by nature: an export may span municipalities.
        with scopes_disabled():
            cases = None
            if references:
                cases = list(Case.objects.filter(reference__in=references))
                missing = sorted(set(references) - {case.reference for case in cases})
                if missing:
                    raise CommandError(f"No case has the reference {', '.join(missing)}.")
            try:
                document = export_cases(cases)
            except InterchangeError as error:
                raise CommandError(str(error)) from error
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"{len(document['cases'])} case(s) written to {output}.")
        else:
            self.stdout.write(text, ending="")
