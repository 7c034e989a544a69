"""A case file read ahead of its import, in a process of its own (remedies/interchange/
ahead.py): the import comes out as when the file is read first (stream.read_file), case
for case and refusal for refusal, whichever comes first in the file and in the import."""

import io
import json
import multiprocessing
import os
from pathlib import Path

import pytest
from django.core.files import File
from django.db import transaction
from django_scopes import scopes_disabled

from cases.audit_verify import verify_chain
from cases.models import Case
from remedies.demo import demo_case_copies
from remedies.interchange import InterchangeError, NotJSONError, import_file
from remedies.interchange import ahead as ahead_module
from remedies.interchange import replay as replay_module

from .test_interchange import demo_reference_data

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _items(node):
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from _items(item)


def _file(tmp_path: Path, count: int = 12, change=None, *, text: str | None = None) -> Path:
    head, copies = demo_case_copies(count)
    document = {**head, "cases": list(copies)}
    if change is not None:
        document = change(document) or document
    path = tmp_path / "cases.json"
    path.write_text(text if text is not None else json.dumps(document, ensure_ascii=False))
    return path


def _outcome(path: Path, monkeypatch, *, ahead: bool, must_read_ahead: bool = False, opener=None):
    """(cases imported, the audit chain's problems) or the refusal, rolled back after."""
    monkeypatch.setattr(ahead_module, "AHEAD_FROM_BYTES", 0 if ahead else 10**12)
    if must_read_ahead:  # never read first, here: the whole import read ahead

        def read_first(file):
            raise AssertionError("the file was read first")

        monkeypatch.setattr(replay_module, "read_file", read_first)
    try:
        with transaction.atomic():
            try:
                with (opener or Path.open)(path, "rb") as stream, scopes_disabled():
                    outcome = import_file(stream)
                    references = sorted(
                        Case.objects.filter(pk__in=outcome.cases).values_list(
                            "reference", flat=True
                        )
                    )
                    _, problems = verify_chain()
                result = (len(outcome.cases), references, problems)
            except (InterchangeError, NotJSONError) as error:
                assert not Case.objects.exists()  # nothing written
                result = f"{type(error).__name__}: {error}"
            raise _Rollback(result)
    except _Rollback as rolled_back:
        return rolled_back.args[0]
    finally:
        monkeypatch.undo()
        assert multiprocessing.active_children() == []  # the reader has ended


def _both(path: Path, monkeypatch, **options):
    first = _outcome(path, monkeypatch, ahead=False)
    assert _outcome(path, monkeypatch, ahead=True, **options) == first
    return first


def test_a_file_read_ahead_imports_as_when_read_first(tmp_path, monkeypatch):
    demo_reference_data()
    count, references, problems = _both(_file(tmp_path, 40), monkeypatch, must_read_ahead=True)
    assert count == 40 and len(set(references)) == 40 and problems == []


def test_a_file_in_memory_is_read_ahead_too(tmp_path, monkeypatch):
    """A queued import's file is decrypted into memory (Django's File around an io.BytesIO,
    cases.storage): the child reads its own copy, and the stream closes afterwards."""
    demo_reference_data()
    path = _file(tmp_path, 15)
    streams = []

    def in_memory(path, mode):
        streams.append(File(io.BytesIO(path.read_bytes()), name="cases.json"))
        return streams[-1]

    first = _outcome(path, monkeypatch, ahead=False)
    assert _outcome(path, monkeypatch, ahead=True, must_read_ahead=True, opener=in_memory) == first
    assert first[0] == 15 and streams[-1].closed


def test_an_error_of_the_file_comes_before_an_error_of_its_first_case(tmp_path, monkeypatch):
    """The first case names an office that does not exist (the import refuses it at once),
    and the last is nested past the limit (the reading finds it at the file's end)."""
    demo_reference_data()

    def change(document):
        document["cases"][0]["office"] = "存在しない窓口"
        deep: list = []
        for _ in range(40):
            deep = [deep]
        document["cases"][-1]["note"] = deep

    refusal = _both(_file(tmp_path, 30, change), monkeypatch)
    assert "nested more than 20 levels deep" in refusal and "case 30" in refusal


def test_the_screen_refuses_a_case_after_the_cases_before_it(tmp_path, monkeypatch):
    demo_reference_data()

    def change(document):
        document["cases"][7]["summary"] += " 個人番号 1234 5678 9018"

    refusal = _both(_file(tmp_path, 12, change), monkeypatch)
    assert "case 8" in refusal and "individual number" in refusal


def test_an_error_of_an_earlier_case_comes_before_the_screens(tmp_path, monkeypatch):
    demo_reference_data()

    def change(document):
        document["cases"][2]["office"] = "存在しない窓口"
        document["cases"][9]["summary"] += " 個人番号 1234 5678 9018"

    refusal = _both(_file(tmp_path, 12, change), monkeypatch)
    assert "case 3" in refusal and "individual number" not in refusal


def test_a_header_after_the_cases_is_read_as_when_read_first(tmp_path, monkeypatch):
    demo_reference_data()
    good = _both(_file(tmp_path, 5, lambda d: {"cases": d.pop("cases"), **d}), monkeypatch)
    assert good[0] == 5

    def later_version(document):  # the version given again after the cases
        return {**document, "cases": document.pop("cases"), "version": 99}

    assert "version 99 is not supported" in _both(_file(tmp_path, 5, later_version), monkeypatch)


def test_a_file_cut_short_and_an_integer_past_64_bits(tmp_path, monkeypatch):
    demo_reference_data()
    whole = _file(tmp_path, 8).read_text()
    cut = _both(_file(tmp_path, text=whole[: len(whole) - 300]), monkeypatch)
    assert cut.startswith("NotJSONError")

    def huge(document):  # yajl refuses it; ijson's parser in Python reads it
        actions = [item for item in _items(document["cases"][-1]) if "seq" in item]
        max(actions, key=lambda item: item["seq"] or 0)["seq"] = 2**70

    assert _both(_file(tmp_path, 8, huge), monkeypatch)[0] == 8


def test_the_import_goes_on_when_the_reading_process_is_lost(tmp_path, monkeypatch):
    demo_reference_data()
    path = _file(tmp_path, 10)
    expected = _outcome(path, monkeypatch, ahead=False)
    monkeypatch.setattr(ahead_module._Reading, "run", lambda self: os._exit(3))
    assert _outcome(path, monkeypatch, ahead=True) == expected


@pytest.mark.parametrize("ahead", [True, False])
def test_the_garbage_collector_spares_older_objects_during_an_import_and_after_it_all(
    tmp_path, monkeypatch, ahead
):
    """While an import runs, the objects made before it are left out of the collector's
    rounds (gc.freeze) and its youngest round comes later; after it, whether it imported
    or was refused, the collector is as it was, every object among its own again."""
    import gc

    demo_reference_data()
    threshold = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    seen = []

    def progress(done, total):
        seen.append((gc.get_freeze_count(), gc.get_threshold()))

    monkeypatch.setattr(replay_module, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(ahead_module, "AHEAD_FROM_BYTES", 0 if ahead else 10**12)
    path = _file(tmp_path, 3)
    with transaction.atomic(), path.open("rb") as stream, scopes_disabled():
        assert len(import_file(stream, progress=progress).cases) == 3
        transaction.set_rollback(True)
    assert len(seen) == 3
    assert all(frozen > 1000 and now[0] == replay_module._GC_FIRST_ROUND for frozen, now in seen)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
    bad = _file(tmp_path, 2, text="{not json")
    with pytest.raises(NotJSONError), bad.open("rb") as stream, scopes_disabled():
        import_file(stream)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


# ---- the audit entries signed in a process of their own (cases/audit_signer.py) ------------


@pytest.fixture
def postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the audit entries are signed apart inside bulk.overlapped: PostgreSQL")


def _entries_of(path: Path, monkeypatch, *, ahead: bool, signed: list):
    """The import's audit entries as the verifier and a reader see them (what differs from
    run to run left out: ids, times, MACs), the chain's problems, and whether the entries
    were signed apart; everything rolled back after."""
    from cases import audit, audit_signer
    from cases.audit import audit_log
    from cases.models import AuditEntry, User

    monkeypatch.setattr(ahead_module, "AHEAD_FROM_BYTES", 0 if ahead else 10**12)
    monkeypatch.setattr(audit, "_FLUSH_AT", 40)  # many batches
    sign = audit_signer.Signer.sign

    def counted(self, entries, heads):
        signed.append(len(entries))
        return sign(self, entries, heads)

    monkeypatch.setattr(audit_signer.Signer, "sign", counted)
    try:
        with transaction.atomic():
            first = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
            with path.open("rb") as stream, scopes_disabled():
                outcome = import_file(stream)
                # One more entry after the import, chained onto the head it left.
                audit_log("test.after", by=User.objects.first(), data={"n": 1})
                _, problems = verify_chain()
                rows = list(
                    AuditEntry.objects.filter(id__gt=first)
                    .order_by("chain", "seq")
                    .values_list("action", "chain", "seq", "object_type", "data", "role", "key_id")
                )
            raise _Rollback((len(outcome.cases), rows, problems))
    except _Rollback as rolled_back:
        return rolled_back.args[0]
    finally:
        monkeypatch.undo()
        assert multiprocessing.active_children() == []  # reader and signer have ended


def test_entries_signed_apart_are_the_entries_signed_in_the_import(
    tmp_path, monkeypatch, postgresql
):
    demo_reference_data()
    path = _file(tmp_path, 12)
    in_process, apart = [], []
    expected = _entries_of(path, monkeypatch, ahead=False, signed=in_process)
    assert in_process == []
    assert _entries_of(path, monkeypatch, ahead=True, signed=apart) == expected
    count, rows, problems = expected
    assert count == 12 and problems == [] and rows[-1][0] == "test.after"
    assert len(apart) > 3 and sum(apart) == len(rows) - 1  # every entry of the import


def test_the_import_is_done_again_when_the_signing_process_is_lost(
    tmp_path, monkeypatch, postgresql
):
    from cases import audit_signer

    demo_reference_data()
    path = _file(tmp_path, 10)
    expected = _entries_of(path, monkeypatch, ahead=False, signed=[])
    sign = audit_signer.Signer.sign

    def lost_at_the_third(self, entries, heads):
        if len(self.told) and getattr(self, "batches", 0) == 2:
            self.process.kill()
            self.process.join()
        self.batches = getattr(self, "batches", 0) + 1
        return sign(self, entries, heads)

    monkeypatch.setattr(audit_signer.Signer, "sign", lost_at_the_third)
    signed = []
    assert _entries_of(path, monkeypatch, ahead=True, signed=signed) == expected
    assert len(signed) == 3  # two batches signed apart, then the import done again


def test_the_import_is_done_again_when_the_signing_process_refuses_a_batch(
    tmp_path, monkeypatch, postgresql
):
    from cases import audit

    demo_reference_data()
    path = _file(tmp_path, 10)
    expected = _entries_of(path, monkeypatch, ahead=False, signed=[])
    parent, canonical_of = os.getpid(), audit._canonical_of

    def refused_in_the_child(*values):
        if os.getpid() != parent:
            raise ValueError("refused")
        return canonical_of(*values)

    monkeypatch.setattr(audit, "_canonical_of", refused_in_the_child)
    signed = []
    assert _entries_of(path, monkeypatch, ahead=True, signed=signed) == expected
    assert len(signed) >= 1
