"""Letters in bulk (issue_document --all-parties): a job of one task per LETTERS_PER_TASK
letters, each letter the one document_issue would issue, numbered in order when taken in
order, audited in one unbroken chain, and never issued twice, even by a task run again after
its worker died. A letter refused or failing is listed alone; the others of its task are
issued one by one."""

import gc
import io
import logging
import weakref
from contextlib import contextmanager
from datetime import date, timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled
from django_tasks_db.models import DBTaskResult

from cases import audit
from cases import services as case_services
from cases.audit_verify import verify_chain
from cases.models import AuditEntry, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from jobs.models import Job, JobItem, JobKind, JobState
from jobs.services import job_enqueue_many
from jobs.worker import requeue_stale, work_off
from remedies import ledger
from remedies import services as remedies
from remedies.documents import services
from remedies.documents import tasks as letters
from remedies.models import Document, DocumentSequence, DocumentStatus, Method, Purpose, Side

pytestmark = pytest.mark.django_db

DATED = date(2023, 3, 16)
# A task of letters taken by a worker, measured: taking its task row, the job and its
# keys, the letters' data read at once (the same queries however many letters), their
# numbers under one lock, the audit head once, the job's count and the task's outcome
# (TASK_QUERIES); then each letter: its document and its person's apology record (the
# お詫び状's row and 経過 line; PER_LETTER). Measured: 47 for a task of one letter, 58 for
# four. A task of one letter (before) cost 49 a letter.
TASK_QUERIES = 43
PER_LETTER = 4


@pytest.fixture
def people(world, story):
    """story with money, a visit and a letter sent to C, and a second case of two people:
    every part of a letter's data has something in it."""
    case, c, d = story
    world.city.document_symbol = "デ推"
    world.city.save()
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 7), by=world.staff
        )
        remedies.visit_record(
            case=case,
            by=world.staff,
            party=d,
            visited_on=date(2023, 2, 20),
            place="区役所",
            purpose=Purpose.JOINT_CHECK,
            collected=3000,
            collected_by=Side.CONTRACTOR,
            collection_method=Method.CASH,
        )
        remedies.letter_record(case=case, by=world.staff, party=c, sent_on=date(2023, 2, 21))
        other = case_services.case_open(
            by=world.staff, office=world.office2, kind="account", discovered_on=date(2023, 2, 22)
        )
        a = case_services.party_add(case=other, by=world.staff, label="A氏", name="山田 太郎")
        b = case_services.party_add(case=other, by=world.staff, label="B氏", name="田中 一郎")
        case_services.misregistration_add(
            case=other,
            by=world.staff,
            source=a,
            target=b,
            data_kind=DataKind.BANK_ACCOUNT,
            paid_through=False,
        )
    return [(case, c), (case, d), (other, a), (other, b)]


def _enqueue(world, targets) -> Job:
    with tenant_scope(world.staff):
        return letters.letters_enqueue(kind="apology", by=world.staff, targets=targets, dated=DATED)


def _bulk(world, targets) -> list[Document]:
    """The letters job, its tasks taken here one by one in order; the letters in order."""
    job = _enqueue(world, targets)
    assert work_off(job_id=job.pk) == -(-len(targets) // letters.LETTERS_PER_TASK)
    with scopes_disabled():
        made = dict(job.items.values_list("key", "result_id"))
        documents = Document.objects.in_bulk([made[_key(c, p)] for c, p in targets])
        return [documents[made[_key(c, p)]] for c, p in targets]


def _key(case, party) -> str:
    return f"apology:case={case.pk}:party={party.pk}"


@contextmanager
def assert_logs_units_alone(*, expected: bool = False):
    """The task's letters were taken back and run one by one: said in the log, with the
    frames (a warning) unless it was a refusal (information)."""
    logger = logging.getLogger("tadasu.jobs")
    with mock.patch.object(logger, "log", wraps=logger.log) as log:
        yield
    said = [c.args[0] for c in log.call_args_list if c.args[1] == "job units run one by one"]
    assert said == [logging.INFO if expected else logging.WARNING]


def _without_number(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "number_text"}


@pytest.fixture(params=[25, 3], ids=["one-task", "tasks-of-3"])
def per_task(request, monkeypatch):
    """The letters a task issues: all four in one task, or tasks of three (the second of a
    case's people in another task than the first)."""
    monkeypatch.setattr(letters, "LETTERS_PER_TASK", request.param)
    return request.param


def test_each_bulk_letter_is_the_letter_issued_alone(world, people, per_task):
    # Issued alone from the same state, then taken back: an お詫び状 issued is the person's
    # apology record, which a second letter to the same person would then mention.
    with tenant_scope(world.staff), transaction.atomic():
        alone = [
            services.document_issue(kind="apology", by=world.staff, case=c, party=p, dated=DATED)
            for c, p in people
        ]
        transaction.set_rollback(True)
    in_bulk = _bulk(world, people)
    for bulk_letter, letter in zip(in_bulk, alone, strict=True):
        assert _without_number(bulk_letter.data) == _without_number(letter.data)
        assert bytes(bulk_letter.pdf) == services.render(bulk_letter.data)
        assert services.verify(bulk_letter)
    # Byte for byte the same letter but for its number.
    same_number = {**alone[0].data, "number_text": in_bulk[0].data["number_text"]}
    assert services.render(same_number) == bytes(in_bulk[0].pdf)


def test_the_letters_are_shared_among_tasks_any_worker_may_take(world, people, monkeypatch):
    monkeypatch.setattr(letters, "LETTERS_PER_TASK", 3)
    job = _enqueue(world, people)
    tasks = DBTaskResult.objects.filter(args_kwargs__kwargs__job_id=job.pk)
    assert {t.task_path for t in tasks} == {"remedies.documents.tasks.letters_task"}
    shared = sorted(t.args_kwargs["kwargs"]["letters"] for t in tasks)
    assert shared == [[[c.pk, p.pk] for c, p in people[:3]], [[people[3][0].pk, people[3][1].pk]]]
    with scopes_disabled():
        assert not Document.objects.exists()  # nothing is issued until a worker runs it
        assert Job.objects.get().total == 4  # the letters, not the tasks
    assert work_off(limit=1, job_id=job.pk) == 1
    with scopes_disabled():
        job.refresh_from_db()
        assert (job.state, job.done, Document.objects.count()) == (JobState.RUNNING, 3, 3)


def test_numbers_and_audit_follow_the_order_of_the_people_in_tasks_of_any_size(
    world, people, per_task
):
    test_numbers_and_audit_follow_the_order_of_the_people(world, people)


def test_numbers_and_audit_follow_the_order_of_the_people(world, people):
    in_bulk = _bulk(world, people)
    assert [d.number for d in in_bulk] == [1, 2, 3, 4]
    assert [d.data["number_text"] for d in in_bulk] == [f"デ推第{n}号" for n in (1, 2, 3, 4)]
    with scopes_disabled():
        entries = list(AuditEntry.objects.filter(action="tadasu.document.issued").order_by("id"))
        lines = list(TimelineEvent.objects.filter(action="document.issued").order_by("id"))
        assert DocumentSequence.objects.get().last_number == 4
        job = Job.objects.get()
    assert [e.object_id for e in entries] == [str(d.pk) for d in in_bulk]
    assert [e.data["sha256"] for e in entries] == [d.sha256 for d in in_bulk]
    assert lines == []  # issuing is bookkeeping: in the audit trail, not the 経過
    assert verify_chain()[1] == []
    assert job.state == JobState.DONE and job.done == 4
    assert job.summary == "4件中4件の文書を発行しました。"


def test_a_letter_killed_halfway_is_issued_once_with_no_gap_in_the_numbers(
    world, people, monkeypatch, settings
):
    settings.TADASU_JOB_LEASE_SECONDS = 60
    monkeypatch.setattr(letters, "LETTERS_PER_TASK", 2)
    job = _enqueue(world, people)
    assert work_off(limit=1, job_id=job.pk) == 1  # the first two letters, numbers 1 and 2
    # A worker takes the next two letters and dies while drawing them (their numbers were
    # taken in its transaction, which never commits).
    task = DBTaskResult.objects.ready().filter(args_kwargs__kwargs__job_id=job.pk).first()
    task.claim("dead-worker")

    def die(data, *, draft=False):
        raise SystemExit("killed")

    monkeypatch.setattr(services, "render", die)
    with pytest.raises(SystemExit):
        task.task.call(**task.args_kwargs["kwargs"])
    monkeypatch.undo()
    DBTaskResult.objects.filter(pk=task.pk).update(
        started_at=timezone.now() - timedelta(seconds=61)
    )
    assert requeue_stale() == 1
    assert work_off(job_id=job.pk) == 1
    # Delivered twice more (a duplicate): the key is there, nothing is issued again.
    for again in DBTaskResult.objects.filter(args_kwargs__kwargs__job_id=job.pk):
        again.task.call(**again.args_kwargs["kwargs"])
    with scopes_disabled():
        assert sorted(Document.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
        assert JobItem.objects.filter(job=job).count() == 4
        assert Job.objects.get().state == JobState.DONE
    assert verify_chain()[1] == []


def test_a_refused_letter_is_listed_and_the_others_are_issued(world, people, client):
    job = _enqueue(world, people)
    # After the job was queued, one person's letter became impossible: not identified.
    with scopes_disabled():
        type(people[1][1]).objects.filter(pk=people[1][1].pk).update(identified=False)
    with assert_logs_units_alone(expected=True):
        work_off(job_id=job.pk)
    with scopes_disabled():
        job.refresh_from_db()
        # The task's letters were taken back and issued one by one: no number was lost.
        issued = Document.objects.order_by("number")
        assert [(d.party_id, d.number) for d in issued] == [
            (people[0][1].pk, 1),
            (people[2][1].pk, 2),
            (people[3][1].pk, 3),
        ]
        assert job.items.get(result_id=None).key == _key(*people[1])
    assert job.state == JobState.FAILED and job.summary == "4件中3件の文書を発行しました。"
    client.force_login(world.staff)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert people[1][0].reference in page and people[1][1].label in page
    assert people[1][1].name not in page
    assert "1件は処理できませんでした（ほかは処理済みです）。" in page


def test_when_no_letter_could_be_issued_the_job_page_says_so(world, people, client):
    job = _enqueue(world, people[:2])
    with scopes_disabled():  # both people, after the job was queued: not identified
        type(people[0][1]).objects.filter(case=people[0][0]).update(identified=False)
    work_off(job_id=job.pk)
    client.force_login(world.staff)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "2件中0件の文書を発行しました。" in page
    assert "いずれも処理できませんでした。下に一覧を示します。" in page
    assert "ほかは処理済み" not in page  # there were no others


def test_no_audit_head_is_held_while_a_task_draws_its_letters(world, people, monkeypatch):
    # Every write of the city takes its audit head: a task of 25 letters holding it while
    # it draws them would keep the city's clerks waiting the whole time.
    original = services.render
    held_while_drawn = []

    def render(data, *, draft=False):
        held_while_drawn.append(dict(audit._held_heads.get() or {}))
        return original(data, draft=draft)

    monkeypatch.setattr(services, "render", render)
    in_bulk = _bulk(world, people)
    assert held_while_drawn == [{}, {}, {}, {}]
    assert [d.status for d in in_bulk] == [DocumentStatus.ISSUED] * 4
    assert verify_chain()[1] == []


def test_the_command_holds_one_letter_at_a_time_while_writing_them(
    world, people, monkeypatch, tmp_path
):
    # A document keeps its PDF once read (about 100 kB a letter): 1,000 letters held
    # together while their files are written took 100 MB more than one at a time.
    read = Document.pdf.fget
    held: list[weakref.ref] = []

    def pdf_of(document):
        gc.collect()  # a document and its FieldFile refer to each other
        alive = [r() for r in held if r() is not None]
        assert alive == [], "the letters written before are still held"
        held.append(weakref.ref(document))
        return read(document)

    monkeypatch.setattr(Document, "pdf", property(pdf_of))
    refs = list(dict.fromkeys(c.reference for c, _ in people))
    call_command(
        "issue_document", "apology", *[a for ref in refs for a in ("--case", ref)],
        "--all-parties", "--as", world.staff.username, "--out", str(tmp_path),
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    assert len(held) == 4 and len(list(tmp_path.iterdir())) == 4


def test_the_command_writes_a_file_for_each_letter_issued_and_names_the_one_not(
    world, people, monkeypatch, tmp_path
):
    # The command queues the job and takes its tasks itself (no worker runs here). D's
    # letter fails whenever it is drawn: it alone is not issued, and took no number with
    # it; the others of its task are issued one by one.
    original = services.render

    def render_or_fail(data, *, draft=False):
        if data["party"]["label"] == "D氏":
            raise OSError("disk full")
        return original(data, draft=draft)

    monkeypatch.setattr(services, "render", render_or_fail)
    refs = sorted({c.reference for c, _ in people}, key=[c.reference for c, _ in people].index)
    args = [a for ref in refs for a in ("--case", ref)]
    with pytest.raises(CommandError, match="1 letter") as refused, assert_logs_units_alone():
        call_command(
            "issue_document", "apology", *args, "--all-parties", "--as", world.staff.username,
            "--out", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert f"{people[1][0].reference} D氏" in str(refused.value)
    with scopes_disabled():
        kept = {f"{d.case.reference}-{d.number}-v1.pdf" for d in Document.objects.all()}
        assert sorted(Document.objects.values_list("number", flat=True)) == [1, 2, 3]
        assert not Document.objects.filter(party=people[1][1]).exists()
    assert {p.name for p in tmp_path.iterdir()} == kept
    assert len(kept) == 3


def test_where_approval_is_required_bulk_letters_await_a_manager(world, people):
    world.city.documents_need_approval = True
    world.city.save()
    for case, _ in people:
        case.municipality = world.city
    in_bulk = _bulk(world, people)
    assert {d.status for d in in_bulk} == {DocumentStatus.AWAITING_APPROVAL}
    assert all(d.pdf is None for d in in_bulk)
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="tadasu.document.requested").count() == 4


def test_a_task_of_letters_costs_a_few_queries_a_letter(world, people, monkeypatch):
    _bulk(world, people)  # the year's number sequence is created here

    def queries(size: int) -> int:
        monkeypatch.setattr(letters, "LETTERS_PER_TASK", size)
        job = _enqueue(world, people[:size])
        with CaptureQueriesContext(connection) as captured:
            assert work_off(limit=1, job_id=job.pk) == 1
        with scopes_disabled():
            assert Job.objects.get(pk=job.pk).state == JobState.DONE
        return len(captured)

    one, four = queries(1), queries(4)
    assert one <= TASK_QUERIES + PER_LETTER
    assert four - one <= 3 * PER_LETTER  # each letter more: its rows, not its reads


def test_a_task_queued_before_letters_were_batched_still_issues_its_letter(world, people):
    # letter_task: one letter a task, as jobs queued before an upgrade still hold.
    party = people[0][1]
    with tenant_scope(world.staff):
        job = job_enqueue_many(
            kind=JobKind.LETTERS,
            task=letters.letter_task,
            by=world.staff,
            municipality=world.city,
            each=[
                {"kind": "apology", "case_id": c.pk, "party_id": p.pk, "dated": "2023-03-16"}
                for c, p in people[:2]
            ],
        )
    assert work_off(job_id=job.pk) == 2
    with scopes_disabled():
        job.refresh_from_db()
        assert job.state == JobState.DONE and job.summary == "2件中2件の文書を発行しました。"
        assert Document.objects.get(party=party).data["number_text"] == "デ推第1号"
