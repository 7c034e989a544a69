"""Letters in bulk as a job fanned out over the workers: one task per letter.

Each task issues one letter exactly as document_issue issues it alone (number, PDF, audit
entry, 経過), keyed by (kind, case, person): the letter and its key commit together
(jobs.services.run_job_item), so a task run again after a crash finds the key and issues no
second number, and a task killed halfway took its number back with its transaction.

Workers draw letters in parallel; letters of one municipality still take their numbers one
at a time (document_issue holds the municipality's number lock while it draws the letter).
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
from cases.services import not_in_future, today
from jobs.models import Job, JobKind
from jobs.services import JobRefused, Outcome, job_enqueue_many, run_job_item

from ..errors import RemedyError
from .services import _check_subject, _require_city, document_issue


def letters_enqueue(
    *, kind: str, targets: list[tuple[Case, Party]], by: User, dated: date | None = None
) -> Job:
    """A job issuing a document of `kind` to each (case, person). Everything is checked
    here first, as for a single letter: a refusal enqueues nothing."""
    dated = dated or today()
    not_in_future(dated, "dated")
    for case, party in targets:
        _require_city(case.municipality, by)
        _check_subject(kind, case=case, party=party, entry=None, cases=[])
    with transaction.atomic():
        return job_enqueue_many(
            kind=JobKind.LETTERS,
            task=letter_task,
            by=by,
            municipality=membership_of(by).municipality,
            each=[
                {
                    "kind": kind,
                    "case_id": case.pk,
                    "party_id": party.pk,
                    "dated": dated.isoformat(),
                }
                for case, party in targets
            ],
        )


@task()
def letter_task(*, job_id: int, kind: str, case_id: int, party_id: int, dated: str) -> None:
    def work(job: Job) -> int:
        with tenant_scope(job.requested_by):
            case = Case.objects.get(pk=case_id)
            party = Party.objects.get(pk=party_id, case=case)
            try:
                document = document_issue(
                    kind=kind,
                    by=job.requested_by,
                    case=case,
                    party=party,
                    dated=date.fromisoformat(dated),
                )
            except (CaseError, RemedyError) as error:
                row = [case.reference, party.label, error.message]
                raise JobRefused(error.message, row) from None
            except PermissionDenied as error:
                message = str(error) or _("Your role does not allow this.")
                raise JobRefused(message, [case.reference, party.label, message]) from None
        return document.pk

    def finish(job: Job, failed: int) -> Outcome:
        issued = (job.total or 0) - failed
        return Outcome(
            summary=_("%(issued)s of %(total)s documents were issued.")
            % {"issued": issued, "total": job.total},
            link=reverse("documents:list"),
        )

    run_job_item(job_id, key=f"{kind}:case={case_id}:party={party_id}", work=work, finish=finish)
