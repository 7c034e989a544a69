"""Letters in bulk as a job fanned out over the workers: a task per LETTERS_PER_TASK letters.

Each letter is issued exactly as document_issue issues it alone (number, PDF, audit entry,
経過), keyed by (kind, case, person). A task issues its letters in one transaction with
their keys (documents_issue: the data read at once, the numbers taken under one lock, the
audit head locked once), so a task run again after a crash finds the keys and issues no
second number, and a task killed halfway took its numbers back with its transaction. A
letter refused or failing takes its task's letters back, and they are then issued one by
one (jobs.services.run_job_items): that letter alone is listed, the others are issued.

Workers take the tasks in parallel; the letters of one municipality still take their
numbers one batch at a time (its number lock is held while a batch is drawn).
"""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django_tasks import task

from cases.errors import CaseError
from cases.models import Case, Party, User
from cases.scoping import membership_of, tenant_scope
from cases.services import today
from jobs.models import Job, JobKind
from jobs.services import JobRefused, Outcome, job_enqueue_many, run_job_item, run_job_items

from ..errors import RemedyError
from .services import check_letters, document_issue, documents_issue

# Letters a task issues in one transaction. A batch holds its municipality's number lock
# while it is drawn (about half a second on the development machine, 16–20 ms a letter):
# short enough that a letter issued from the web meanwhile waits little, long enough that
# a letter costs a few queries, not fifty.
LETTERS_PER_TASK = 25


def letters_enqueue(
    *, kind: str, targets: list[tuple[Case, Party]], by: User, dated: date | None = None
) -> Job:
    """A job issuing a document of `kind` to each (case, person). Everything is checked
    here first, as for a single letter: a refusal enqueues nothing."""
    dated = dated or today()
    check_letters(kind, targets, by=by, dated=dated)
    pairs = [[case.pk, party.pk] for case, party in targets]
    size = LETTERS_PER_TASK
    with transaction.atomic():
        return job_enqueue_many(
            kind=JobKind.LETTERS,
            task=letters_task,
            by=by,
            municipality=membership_of(by).municipality,
            each=[
                {"kind": kind, "dated": dated.isoformat(), "letters": pairs[i : i + size]}
                for i in range(0, len(pairs), size)
            ],
            total=len(pairs),
        )


@task()
def letters_task(*, job_id: int, kind: str, dated: str, letters: list[list[int]]) -> None:
    """The letters [[case id, person id], ...] of one task: together, or one by one when
    one of them is refused or fails."""
    on = date.fromisoformat(dated)

    def work(job: Job, todo: list[int]) -> list[int]:
        chosen = [letters[i] for i in todo]
        with tenant_scope(job.requested_by):
            cases = Case.objects.select_related("municipality").in_bulk(
                {case_id for case_id, _ in chosen}
            )
            parties = Party.objects.in_bulk({party_id for _, party_id in chosen})
            if any(c not in cases or p not in parties for c, p in chosen):
                raise JobRefused("gone")  # each letter alone says which
            targets = [(cases[c], parties[p]) for c, p in chosen]
            try:
                documents = documents_issue(
                    kind=kind, by=job.requested_by, targets=targets, dated=on
                )
            except (CaseError, RemedyError, PermissionDenied):
                raise JobRefused("refused") from None  # each letter alone says which
        return [document.pk for document in documents]

    run_job_items(
        job_id,
        keys=[_key(kind, case_id, party_id) for case_id, party_id in letters],
        work=work,
        one=lambda i: _one_letter(kind, *letters[i], on),
        finish=_finish,
        describe=lambda i: _names(*letters[i]),
    )


@task()
def letter_task(*, job_id: int, kind: str, case_id: int, party_id: int, dated: str) -> None:
    """One letter: the tasks of a job queued before letters were issued in batches."""
    run_job_item(
        job_id,
        key=_key(kind, case_id, party_id),
        work=_one_letter(kind, case_id, party_id, date.fromisoformat(dated)),
        finish=_finish,
        describe=lambda: _names(case_id, party_id),
    )


def _key(kind: str, case_id: int, party_id: int) -> str:
    return f"{kind}:case={case_id}:party={party_id}"


def _names(case_id: int, party_id: int) -> list[str]:
    """The case and the person of a letter, for its row on the job page."""
    party = Party.objects.select_related("case").get(pk=party_id, case_id=case_id)
    return [party.case.reference, party.label]


def _one_letter(kind: str, case_id: int, party_id: int, dated: date):
    """The work of one letter alone: its document's id, or JobRefused saying why not."""

    def work(job: Job) -> int:
        with tenant_scope(job.requested_by):
            case = Case.objects.get(pk=case_id)
            party = Party.objects.get(pk=party_id, case=case)
            try:
                document = document_issue(
                    kind=kind, by=job.requested_by, case=case, party=party, dated=dated
                )
            except (CaseError, RemedyError) as error:
                row = [case.reference, party.label, error.message]
                raise JobRefused(error.message, row) from None
            except PermissionDenied as error:
                message = str(error) or _("Your role does not allow this.")
                raise JobRefused(message, [case.reference, party.label, message]) from None
        return document.pk

    return work


def _finish(job: Job, failed: int) -> Outcome:
    issued = (job.total or 0) - failed
    return Outcome(
        summary=_("%(issued)s of %(total)s documents were issued.")
        % {"issued": issued, "total": job.total},
        link=reverse("documents:list"),
    )
