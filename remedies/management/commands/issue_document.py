"""Issue documents from the command line, e.g. letters for every person of some cases:

manage.py issue_document apology --case 401005-2022-003 --all-parties --as staff --out letters/
manage.py issue_document press_release --case R1 --case R2 --dated 2023-03-31 --as staff \
    --out release.pdf
manage.py issue_document receipt --case R1 --party C氏 --as staff --out receipt.pdf
manage.py issue_document receipt --case R1 --payment 42 --as staff --out receipt.pdf

Every choice the issue page offers is here too: the date of the document (--dated), the
person (--party), the payment a receipt is for (--payment, the ledger entry's id; or the
only payment to --party), and the cases of a press release (--case, repeated).

With --all-parties the letters are a background job, one task per 25 letters
(remedies/documents/tasks.py): job workers (`manage.py run_jobs`, on any machine) take the
tasks in parallel, and this command takes its share too unless --workers-only; it waits for
the job, then writes the PDF of every letter issued. A letter refused or failed is listed and
the others stay issued; a letter is never issued twice, even when a worker dies.
--no-wait only queues the job (its page: /jobs/<number>/).
"""

import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled
from tqdm import tqdm

from cases.audit_verify import checkpoint_after_bulk_job
from cases.errors import CaseError
from cases.models import Case, Party, User
from cases.scoping import tenant_scope
from jobs.worker import work_off
from remedies.documents import services
from remedies.documents import tasks as letters
from remedies.errors import RemedyError
from remedies.models import Document, DocumentKind, DocumentStatus, EntryKind, LedgerEntry


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
            "--payment",
            type=int,
            help="for a receipt: the ledger entry id of the payment (else the only payment "
            "to --party)",
        )
        parser.add_argument(
            "--dated",
            type=date.fromisoformat,
            help="the date of the document, YYYY-MM-DD (default: today)",
        )
        parser.add_argument(
            "--all-parties",
            action="store_true",
            help="one document per identified person of each case",
        )
        parser.add_argument(
            "--workers-only",
            action="store_true",
            help="with --all-parties: leave the letters to the job workers, only wait",
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="with --all-parties: queue the job and return (no files are written)",
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
        payment: int | None,
        dated: date | None,
        all_parties: bool,
        workers_only: bool,
        no_wait: bool,
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
                    self._bulk(
                        kind,
                        chosen,
                        user,
                        Path(out),
                        dated,
                        here=not workers_only,
                        wait=not no_wait,
                    )
                else:
                    self._one(kind, chosen, party, user, Path(out), payment=payment, dated=dated)
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

    def _issue(self, kind: str, case: Case | None, cases: list[Case], party, user: User, **kw):
        document = services.document_issue(
            kind=kind, by=user, case=case, party=party, cases=cases, **kw
        )
        if document.status != DocumentStatus.ISSUED:
            self.stderr.write(f"{document.data['number_text']}: awaiting a manager's approval")
        return document

    def _one(
        self,
        kind: str,
        cases: list[Case],
        label: str | None,
        user: User,
        out: Path,
        *,
        payment: int | None = None,
        dated: date | None = None,
    ) -> None:
        case = cases[0] if cases else None
        party = None
        if label:
            if case is None:
                raise CommandError("--party needs --case.")
            party = case.parties.filter(label=label).first()
            if party is None:
                raise CommandError(f"No person {label!r} in {case.reference}.")
        entry = self._payment(case, party, payment) if kind == DocumentKind.RECEIPT else None
        document = self._issue(
            kind,
            None if kind == DocumentKind.PRESS_RELEASE else case,
            cases if kind == DocumentKind.PRESS_RELEASE else [],
            party,
            user,
            entry=entry,
            dated=dated,
        )
        if document.status == DocumentStatus.ISSUED:
            out.write_bytes(bytes(document.pdf))
            self.stdout.write(f"{out} {document.data['number_text']} sha256={document.sha256}")

    @staticmethod
    def _payment(case: Case | None, party: Party | None, entry_id: int | None):
        """The payment a receipt is for: --payment, or the only payment to --party."""
        if case is None:
            raise CommandError("A receipt needs --case.")
        payments = LedgerEntry.objects.filter(case=case, kind=EntryKind.PAYMENT).exclude(
            pk__in=LedgerEntry.objects.filter(case=case, reverses__isnull=False).values(
                "reverses_id"
            )
        )
        if entry_id is not None:
            entry = payments.filter(pk=entry_id).first()
            if entry is None:
                raise CommandError(f"No payment {entry_id} in {case.reference}.")
            return entry
        if party is not None:
            payments = payments.filter(party=party)
        found = list(payments.order_by("on", "id")[:2])
        if len(found) != 1:
            listed = ", ".join(
                f"{e.pk} ({e.party.label} {-e.delta}円 {e.on})"
                for e in payments.select_related("party").order_by("on", "id")
            )
            raise CommandError(
                f"Choose the payment with --payment: {listed or 'no payment in this case'}."
            )
        return found[0]

    def _bulk(
        self,
        kind: str,
        cases: list[Case],
        user: User,
        out: Path,
        dated: date | None = None,
        *,
        here: bool = True,
        wait: bool = True,
    ) -> None:
        people: dict[int, list[Party]] = {case.pk: [] for case in cases}
        for p in Party.objects.filter(case__in=cases, identified=True).order_by("label"):
            people[p.case_id].append(p)
        targets = [(case, p) for case in cases for p in people[case.pk]]
        job = letters.letters_enqueue(kind=kind, targets=targets, by=user, dated=dated)
        self.stdout.write(
            f"Job {job.pk}: {len(targets)} letters queued "
            f"({settings.TADASU_SITE_URL}/jobs/{job.pk}/)"
        )
        if not wait:
            return
        if here:
            work_off(job_id=job.pk)  # this process takes its share of the letters
        with tqdm(total=len(targets), desc=kind, unit="doc", file=self.stderr._out) as bar:
            while True:
                with scopes_disabled():
                    job.refresh_from_db()
                bar.update(job.done - bar.n)
                if job.finished:
                    break
                time.sleep(1)
        out.mkdir(parents=True, exist_ok=True)
        with scopes_disabled():
            made = job.items.exclude(result_id=None).values_list("result_id", flat=True)
            issued = Document.objects.filter(pk__in=list(made)).select_related("case")
            # One at a time: each document holds its PDF once read (about 100 kB a letter).
            ordered = issued.order_by("case__reference", "number", "id")
            for document in ordered.iterator(chunk_size=100):
                if document.status == DocumentStatus.ISSUED:
                    number = document.number or f"id{document.pk}"
                    name = f"{document.case.reference}-{number}-v{document.version}.pdf"
                    (out / name).write_bytes(bytes(document.pdf))
                else:
                    self.stderr.write(
                        f"{document.data['number_text']}: awaiting a manager's approval"
                    )
        self.stdout.write(f"{job.summary} ({out})")
        self.stdout.write(checkpoint_after_bulk_job())
        if job.details:
            listed = "\n".join(f"  {ref} {label}: {message}" for ref, label, message in job.details)
            raise CommandError(f"{len(job.details)} letter(s) not issued:\n{listed}")
