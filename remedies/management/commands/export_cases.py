import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from cases.models import Case
from remedies.interchange import InterchangeError, audit_export, export_cases


class Command(BaseCommand):
    help = (
        "Write cases as JSON in the Tadasu interchange format (docs/interchange.md): "
        "every case, or the ones whose references are given. People's phone numbers, "
        "addresses and account details are left out unless --with-personal-data is given. "
        "Every export is audited, in the trail of each municipality whose cases it holds."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("references", nargs="*", metavar="REF", help="case references")
        parser.add_argument(
            "--output",
            "-o",
            metavar="FILE",
            help="write here, not to stdout: a new file, readable by its owner only "
            "(an existing file is not overwritten)",
        )
        parser.add_argument(
            "--with-personal-data",
            action="store_true",
            help="also write each person's phone number, address, bank and cashless "
            "account (the audit entry says so)",
        )
        parser.add_argument(
            "--with-pdfs",
            action="store_true",
            help="also write the PDF of each issued document (base64); the letters name "
            "people and their addresses, so this needs --with-personal-data",
        )

    def handle(
        self,
        *args,
        references: list[str],
        output: str | None,
        with_personal_data: bool,
        with_pdfs: bool,
        **options,
    ) -> None:
        if with_pdfs and not with_personal_data:
            raise CommandError(
                "--with-pdfs needs --with-personal-data: the documents name people and "
                "their addresses."
            )
        # Cross-tenant by nature: an export may span municipalities.
        with scopes_disabled():
            cases = None
            if references:
                cases = list(Case.objects.filter(reference__in=references))
                missing = sorted(set(references) - {case.reference for case in cases})
                if missing:
                    raise CommandError(f"No case has the reference {', '.join(missing)}.")
            try:
                document = export_cases(cases, personal_data=with_personal_data, pdfs=with_pdfs)
            except InterchangeError as error:
                raise CommandError(str(error)) from error
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"

        def audit(destination: str) -> None:
            # Committed before a byte leaves: an export that then fails is still on record.
            audit_export(
                document,
                by=None,
                personal_data=with_personal_data,
                destination=destination,
                references=references,
                pdfs=with_pdfs,
            )

        if not output:
            audit("stdout")
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        with _private_file(path) as stream:
            audit(str(path.resolve()))
            stream.write(text)
        what = "with" if with_personal_data else "without"
        pdfs = ", with the PDFs of issued documents" if with_pdfs else ""
        self.stderr.write(
            f"{len(document['cases'])} case(s) written to {output} ({what} personal data{pdfs})."
        )


class _private_file:
    """A new file that only its owner can read and write (0600), removed again
    if writing it fails. An existing file is refused rather than overwritten: it may be
    readable by others, and a reader who has it open would see the new cases."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError as error:
            raise CommandError(
                f"{self.path} already exists: give a new file name (it is not overwritten)."
            ) from error
        except OSError as error:
            raise CommandError(f"{self.path}: {error.strerror}") from error
        os.fchmod(fd, 0o600)  # a umask can take bits away, never give them: exactly 0600
        self.stream = os.fdopen(fd, "w", encoding="utf-8")
        return self.stream

    def __exit__(self, kind, error, traceback):
        self.stream.close()
        if error is not None:
            self.path.unlink(missing_ok=True)
        return False
