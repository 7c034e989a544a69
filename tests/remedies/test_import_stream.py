"""import_cases reads a file as a stream and replays one case at a time, in one transaction.
What the import of a whole file promised still holds: a file broken anywhere imports
nothing; a file that is not JSON or not a case file is refused before anything is written;
the actions of cases worked on at the same time run in seq order; --skip-existing leaves
out only the cases that were there before."""

import copy
import io
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django_scopes import scopes_disabled

from cases import bulk, services
from cases.audit_verify import verify_chain
from cases.models import Case, CaseKind, Office, User
from remedies.demo import DEMO_CASES, demo_case_copies
from remedies.interchange import (
    InterchangeError,
    export_cases,
    import_case_file,
    import_cases,
)
from remedies.interchange.replay import _Replay

from .test_interchange import (
    _balance_differs,
    _negative_amount,
    demo_reference_data,
    export_and_forget,
    lines,
    nothing_imported,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_file() -> dict:
    return json.loads(DEMO_CASES.read_text(encoding="utf-8"))


def write(tmp_path: Path, document: dict, *, cases_first: bool = False) -> Path:
    if cases_first:  # the header after the cases, which JSON allows
        document = {"cases": document["cases"], **document}
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def import_file(path: Path, *options: str) -> str:
    out = io.StringIO()
    call_command("import_cases", str(path), *options, stdout=out)
    return out.getvalue()


def refusal(path: Path) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(path), stdout=io.StringIO())
    return str(caught.value)


def test_a_file_whose_last_case_is_broken_imports_nothing(tmp_path, demo_file):
    demo_reference_data()
    _balance_differs(demo_file)  # case 3 of 3, found only once its replay has ended

    message = refusal(write(tmp_path, demo_file))

    assert 'case 3 (401005-2022-003), party 2, field "balance": ' in message
    assert message.endswith("Nothing was imported.")
    assert nothing_imported()


def test_a_streamed_file_says_what_a_loaded_one_says(tmp_path, demo_file):
    demo_reference_data()
    _negative_amount(demo_file)
    with pytest.raises(InterchangeError) as loaded:
        import_cases(demo_file)

    message = refusal(write(tmp_path, demo_file))

    assert message == f"{tmp_path / 'cases.json'}: {loaded.value}\nNothing was imported."
    assert nothing_imported()


def test_a_number_with_a_fraction_is_refused_as_json_loads_read_it(tmp_path, demo_file):
    demo_reference_data()
    demo_file["cases"][1]["ledger"][0]["amount"] = 5000.0

    message = refusal(write(tmp_path, demo_file))

    assert 'ledger item 1, field "amount": 5000.0 is not a whole number' in message
    assert nothing_imported()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (
            {"format": "something-else"},
            'not a Tadasu case file (expected "format": "tadasu-cases")',
        ),
        ({"version": 3}, "version 3 is not supported (expected 1 or 2)"),
        ({"version": [1]}, "version [1] is not supported (expected 1 or 2)"),
        ({"cases": {"0": {}}}, '"cases" must be a list'),
    ],
)
def test_a_bad_header_after_the_cases_is_refused_before_any_case(
    tmp_path, demo_file, header, reason
):
    demo_reference_data()
    demo_file.update(header)

    message = refusal(write(tmp_path, demo_file, cases_first=True))

    assert message == f"{tmp_path / 'cases.json'}: {reason}\nNothing was imported."
    assert nothing_imported()


def test_a_file_that_is_not_an_object_is_not_a_case_file(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    assert "not a Tadasu case file" in refusal(path)


def test_a_header_after_the_cases_is_read(tmp_path, demo_file):
    demo_reference_data()
    assert "Imported 4 case(s)." in import_file(write(tmp_path, demo_file, cases_first=True))


def test_a_file_broken_in_its_last_case_is_refused_without_quoting_it(tmp_path, demo_file):
    demo_reference_data()
    text = json.dumps(demo_file, ensure_ascii=False)
    path = tmp_path / "cases.json"
    path.write_text(text.replace('"鈴木 次郎"', '"鈴木 次郎" x'), encoding="utf-8")  # case 3

    message = refusal(path)

    assert message.startswith(f"{path}: not a JSON file in UTF-8 (")
    assert "鈴木" not in message  # the parser's reason, not the text it points at
    assert nothing_imported()


def test_a_file_cut_short_is_refused(tmp_path, demo_file):
    demo_reference_data()
    text = json.dumps(demo_file, ensure_ascii=False)
    path = tmp_path / "cases.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")

    assert refusal(path).startswith(f"{path}: not a JSON file in UTF-8 (")
    assert nothing_imported()


def test_a_file_not_in_utf_8_is_refused(tmp_path, demo_file):
    path = tmp_path / "cases.json"
    path.write_bytes(json.dumps(demo_file, ensure_ascii=False).encode("shift_jis"))
    assert "not a JSON file in UTF-8" in refusal(path)
    assert nothing_imported()


def test_cases_worked_on_at_the_same_time_round_trip_in_seq_order(tmp_path, world):
    """Two cases open at once: their actions interleave in the file and are replayed in
    seq order across both, so the audit trail, and so the export, come out the same."""
    staff, office = world.staff, world.office

    def build():
        first = services.case_open(
            by=staff, office=office, kind=CaseKind.OTHER, discovered_on=date(2023, 4, 3)
        )
        second = services.case_open(
            by=staff, office=office, kind=CaseKind.OTHER, discovered_on=date(2023, 4, 4)
        )
        services.party_add(case=first, by=staff, label="A氏", name="山田 太郎")
        services.party_add(case=second, by=staff, label="B氏", name="田中 三郎")
        services.case_update(case=first, by=staff, summary="二人目に気づいた")

    exported = export_and_forget(build)
    first, second = exported["cases"]
    assert first["opened"]["seq"] < second["opened"]["seq"] < first["parties"][0]["seq"]
    assert first["parties"][0]["seq"] < second["parties"][0]["seq"] < first["updates"][0]["seq"]

    output = import_file(write(tmp_path, exported))

    assert "Imported 2 case(s)." in output
    with scopes_disabled():
        assert lines(export_cases(personal_data=True)) == lines(exported)


def test_skip_existing_keeps_cases_of_the_same_office_and_day_from_one_file(world):
    def build():
        for summary in ("一件目", "二件目", "三件目"):
            services.case_open(
                by=world.staff,
                office=world.office,
                kind=CaseKind.OTHER,
                discovered_on=date(2023, 4, 3),
                summary=summary,
            )

    exported = export_and_forget(build)

    assert len(import_cases(exported, skip_existing=True)) == 3
    assert import_cases(exported, skip_existing=True) == []
    with scopes_disabled():
        assert Case.objects.count() == 3


def test_a_replayed_case_is_written_before_the_case_after_next_is_read(demo_file):
    """One case at a time: when the third case is read, the first is already in the
    database (the second waits: the third might hold an action that comes before its).
    Replayed: the compiled path holds its rows for a batch (next test)."""
    demo_reference_data()
    counts = []

    def cases():
        for raw in copy.deepcopy(demo_file["cases"]):
            counts.append(Case.objects.count())
            yield raw

    with transaction.atomic(), scopes_disabled():
        imported = _Replay(skip_existing=False, compile=False).run(cases())
        assert counts == [0, 0, 1, 2]
        assert len(imported) == 4


def test_compiled_cases_are_written_every_batch_of_audit_entries(monkeypatch):
    """The compiled path holds a case's rows until the next batch of audit entries is
    written (cases.audit._FLUSH_AT entries): memory stays bounded by the batch, not the
    file. With a batch of 20 entries (a demo case writes 8 to 26), the cases before are
    in the database, but for the last few, by the time the eighth is read."""
    monkeypatch.setattr("cases.audit._FLUSH_AT", 20)
    demo_reference_data()
    counts = []

    def cases():
        for raw in demo_case_copies(8)[1]:
            counts.append(Case.objects.count())
            yield raw

    with transaction.atomic(), scopes_disabled():
        imported = _Replay(skip_existing=False).run(cases())
        assert len(imported) == 8
        assert Case.objects.count() == 8
    assert counts[0] == 0 and counts[-1] >= 5  # written as it went, not at the end


def test_on_postgresql_the_batches_are_sent_while_the_next_cases_are_built(monkeypatch):
    """The compiled cases' rows and the audit entries go by COPY from bulk.overlapped()'s
    thread (cases.bulk), a batch at a time, and the import comes out the same."""
    if connection.vendor != "postgresql":
        pytest.skip("bulk.overlapped sends COPYs from a thread on PostgreSQL only")
    monkeypatch.setattr("cases.audit._FLUSH_AT", 20)
    demo_reference_data()
    sent = bulk.copies_sent()
    with transaction.atomic(), scopes_disabled():
        imported = _Replay(skip_existing=False).run(iter(demo_case_copies(8)[1]))
        assert len(imported) == 8 and Case.objects.count() == 8
        count, problems = verify_chain()
    assert problems == [] and count > 8 * 8
    assert bulk.copies_sent() - sent > 8  # several batches, each several tables


def test_an_integer_beyond_64_bits_is_read_as_json_reads_it(tmp_path, demo_file):
    """yajl refuses it; the file is then read by ijson's parser in Python."""
    demo_reference_data()
    actions = [item for item in _items(demo_file) if isinstance(item.get("seq"), int)]
    max(actions, key=lambda item: item["seq"])["seq"] = 2**70  # the last action of all

    assert "Imported 4 case(s)." in import_file(write(tmp_path, demo_file))


def test_the_audit_chain_holds_after_an_import_and_after_a_refused_one(tmp_path, demo_file):
    """The import locks the audit head once (audit_batch), not for each entry."""
    demo_reference_data()
    import_file(write(tmp_path, demo_file))
    with scopes_disabled():
        count, problems = verify_chain()
    assert count > 3 * 10 and problems == []

    broken = copy.deepcopy(demo_file)
    _balance_differs(broken)
    refusal(write(tmp_path, broken))
    services.case_open(
        by=User.objects.get(username="staff"),
        office=Office.objects.get(name=demo_file["cases"][0]["office"]),
        kind=CaseKind.OTHER,
        discovered_on=date(2023, 4, 3),
    )
    with scopes_disabled():
        assert verify_chain() == (count + 1, [])


def test_a_file_that_cannot_be_read_twice_is_read_from_a_copy(demo_file):
    """A pipe, such as /dev/stdin in `export_cases | import_cases /dev/stdin`."""

    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

        def seek(self, *args):
            raise io.UnsupportedOperation("seek")

    demo_reference_data()
    pipe = Pipe(json.dumps(demo_file, ensure_ascii=False).encode())

    assert len(import_case_file(pipe)) == 4


def _items(node):
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            yield from _items(value)
