"""Issue documents from the command line, e.g. letters for every person of some cases:

manage.py issue_document apology --case 401005-2022-003 --all-parties --as staff --out letters/
manage.py issue_document press_release --case R1 --case R2 --as staff --out release.pdf

With --all-parties the letters are committed a batch at a time (remedies.documents.bulk):
if the run fails, the letters whose files were written stay issued, and no letter of the
failing batch is issued or written.
"""

from contextlib import closing
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cases.audit_verify import checkpoint_after_bulk_job
from cases.errors import CaseError
from cases.models import Case, Party, User
from cases.scoping import tenant_scope
from remedies.documents import bulk, services
from remedies.errors import RemedyError
from remedies.models import DocumentKind, DocumentStatus


class Command(BaseCommand):
    help = "Issue a document (or apology letters in bulk) and write the PDF(s)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=DocumentKind.values)
        parser.add_argument(
            "--case",
            dest="cases",
            action="append",
            default=[],
            metavar="REF",
            help="a case reference; repeat for several",
        )
        parser.add_argument("--party", help="the person's label, e.g. C氏")
        parser.add_argument(
            "--all-parties",
            action="store_true",
            help="one document per identified person of each case",
        )
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            help="the city staff member issuing (recorded in the audit trail)",
        )
        parser.add_argument(
            "--out", required=True, help="a PDF file, or a folder for --all-parties"
        )

    def handle(
        self,
        *args,
        kind: str,
        cases: list[str],
        party: str | None,
        all_parties: bool,
        username: str,
        out: str,
        **options,
    ) -> None:
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist as error:
            raise CommandError(f"No user {username!r}.") from error
        try:
            with tenant_scope(user):
                chosen = self._cases(cases)
                if all_parties:
                    self._bulk(kind, chosen, user, Path(out))
                else:
                    self._one(kind, chosen, party, user, Path(out))
        except PermissionError as error:
            raise CommandError(f"{username!r} acts for no organisation.") from error
        except PermissionDenied as error:
            raise CommandError(str(error) or "Not allowed.") from error
        except (CaseError, RemedyError) as error:
            raise CommandError(error.message) from error

    def _cases(self, refs: list[str]) -> list[Case]:
        cases = Case.objects.filter(reference__in=refs).select_related(
            "municipality", "office", "contractor"
        )
        found = {c.reference: c for c in cases}
        missing = [r for r in refs if r not in found]
        if missing:
            raise CommandError(f"No case you may see: {', '.join(missing)}")
        return [found[r] for r in refs]

    def _issue(self, kind: str, case: Case | None, cases: list[Case], party, user: User):
        document = services.document_issue(kind=kind, by=user, case=case, party=party, cases=cases)
        if document.status != DocumentStatus.ISSUED:
            self.stderr.write(f"{document.data['number_text']}: awaiting a manager's approval")
        return document

    def _one(self, kind: str, cases: list[Case], label: str | None, user: User, out: Path) -> None:
        case = cases[0] if cases else None
        party = None
        if label:
            if case is None:
                raise CommandError("--party needs --case.")
            party = case.parties.filter(label=label).first()
            if party is None:
                raise CommandError(f"No person {label!r} in {case.reference}.")
        document = self._issue(
            kind,
            None if kind == DocumentKind.PRESS_RELEASE else case,
            cases if kind == DocumentKind.PRESS_RELEASE else [],
            party,
            user,
        )
        if document.status == DocumentStatus.ISSUED:
            out.write_bytes(bytes(document.pdf))
            self.stdout.write(f"{out} {document.data['number_text']} sha256={document.sha256}")

    def _bulk(self, kind: str, cases: list[Case], user: User, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        people: dict[int, list[Party]] = {case.pk: [] for case in cases}
        for p in Party.objects.filter(case__in=cases, identified=True).order_by("label"):
            people[p.case_id].append(p)
        targets = [(case, p) for case in cases for p in people[case.pk]]
        issued = bulk.documents_issue_many(kind=kind, by=user, targets=targets)
        # Each document is written once its batch is committed: no file for a letter that
        # was taken back.
        with (
            closing(issued),
            tqdm(total=len(targets), desc=kind, unit="doc", file=self.stderr._out) as bar,
        ):
            for document in issued:
                if document.status == DocumentStatus.ISSUED:
                    name = f"{document.case.reference}-{document.number}-v{document.version}.pdf"
                    (out / name).write_bytes(bytes(document.pdf))
                else:
                    self.stderr.write(
                        f"{document.data['number_text']}: awaiting a manager's approval"
                    )
                bar.update()
        self.stdout.write(f"{len(targets)} documents in {out}")
        self.stdout.write(checkpoint_after_bulk_job())
