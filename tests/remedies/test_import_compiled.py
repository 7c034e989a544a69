"""The compiled path of the import (remedies/interchange/compiled.py) writes what the replay
writes: each file is imported both ways (both_ways.py) and every table and audit entry is
compared. A file the replay refuses is refused the same way, with the same message, and
nothing is written. The cases' people and hand-written 経過 lines; links and agency
contacts are tested in test_import_compiled_links.py."""

import copy
import io
import json
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from cases.audit_verify import verify_chain
from cases.models import Case, CaseSequence
from remedies.demo import _organisations, _users
from remedies.interchange import InterchangeError, import_cases, import_file

from .both_ways import (
    assert_same,
    case_file,
    copies,
    demo_cases,
    import_both_ways,
    interleaved,
    made_to_replay,
    reduced,
    refused_both_ways,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference_data() -> None:
    with scopes_disabled():
        _users(_organisations())


# ---- equivalence ------------------------------------------------------------------------


def test_the_demo_cases_cut_down_are_compiled_and_written_as_the_replay_writes_them(
    reference_data,
):
    cases = [reduced(case, hand_lines=i, identify=i % 2 == 1) for i, case in enumerate(copies(8))]
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 8]
    assert len(compiled["cases.Case"]) == 8
    assert any(row["action"] == "party.identified" for row in compiled["cases.TimelineEvent"])
    assert_same(replayed, compiled)


def test_cases_worked_at_the_same_time_keep_the_chain_order_of_the_replay(reference_data):
    cases = interleaved(
        [reduced(case, hand_lines=2, identify=i % 3 == 0) for i, case in enumerate(copies(6))]
    )
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 6]
    assert_same(replayed, compiled)


def test_a_file_of_compiled_and_replayed_cases_numbers_and_chains_them_as_the_replay(
    reference_data,
):
    # The full demo cases (links, contacts, money, stage steps) replay; their cut-down
    # copies are compiled; worked at the same time, taking numbers from one sequence.
    full = [made_to_replay(case) for case in copies(4)]
    cut = [reduced(case, hand_lines=1) for case in copies(8)[4:]]
    cases = interleaved([case for pair in zip(full, cut, strict=True) for case in pair])
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 4]
    assert compiled["remedies.LedgerEntry"]  # the full cases' money, posted as on replay
    assert_same(replayed, compiled)


def test_the_demo_file_as_exported_imports_the_same_both_ways(reference_data):
    replayed, compiled, counts = import_both_ways(case_file(demo_cases()))
    assert counts == [0, 4]
    assert_same(replayed, compiled)
    assert_same(replayed, compiled)


def test_a_case_whose_edit_moves_it_to_another_contractor_is_replayed(reference_data):
    case = reduced(copies(1)[0])
    case["reported_by_contractor"] = False
    case["opened"]["by"] = "staff"
    case["contractor"] = None
    case["updates"][0]["fields"].append("contractor")
    case["contractor"] = demo_cases()[0]["contractor"]
    replayed, compiled, counts = import_both_ways(case_file([case]))
    assert counts == [0, 0]
    assert_same(replayed, compiled)


def test_without_a_contractor_a_case_the_city_opened_is_compiled(reference_data):
    case = reduced(copies(1)[0], hand_lines=3)
    case["reported_by_contractor"] = False
    case["opened"]["by"] = "staff"
    case["timeline"] = [e for e in case["timeline"] if e["action"] != "case.opened"]
    replayed, compiled, counts = import_both_ways(case_file([case]))
    assert counts == [0, 1]
    opened = [r for r in compiled["cases.TimelineEvent"] if r["action"] == "case.opened"]
    assert [r["in_story"] for r in opened] == [False]  # the city's own registration
    assert_same(replayed, compiled)


def test_skip_existing_leaves_out_the_same_cases_both_ways(reference_data):
    cases = [reduced(case, hand_lines=1) for case in copies(8)]
    with scopes_disabled():
        import_cases(case_file(cases[:3]), compile=False)  # already here before the import
    replayed, compiled, counts = import_both_ways(case_file(cases), skip_existing=True)
    # Copies 5 to 7 were opened at the desks and dates of the first three: left out.
    assert counts == [0, 2]
    assert len(compiled["cases.Case"]) == 5
    assert_same(replayed, compiled)


def test_an_amending_import_replays_its_new_cases_too(reference_data):
    cases = [reduced(case, hand_lines=1) for case in copies(4)]
    replayed, compiled, counts = import_both_ways(case_file(cases), amend=True)
    assert counts == [0, 0]
    assert_same(replayed, compiled)


# ---- refusals ---------------------------------------------------------------------------


def _future(case):
    case["timeline"][-1]["on"] = (date.today() + timedelta(days=3)).isoformat()


def _unknown_user(case):
    case["timeline"][-1]["by"] = "nobody"


def _long_line(case):
    case["timeline"][-1]["text"] = "あ" * 5000


def _label_twice(case):
    case["parties"][1]["label"] = case["parties"][0]["label"]


def _no_note(case):
    case["parties"][1]["identification_note"] = ""


def _my_number(case):
    case["timeline"][-1]["text"] = "個人番号 1234 5678 9018 を確認"


def _stage(case):
    case["stage"] = "closed"


def _field(case):
    case["reported_by_contractor"] = not case["reported_by_contractor"]


def _balance(case):
    case["parties"][0]["balance"] = 5


def _before_open(case):
    case["timeline"][-1]["seq"] = 0


def _long_label(case):
    case["parties"][1]["label"] = "とても長い仮称" * 4  # longer than the column


def _wrong_edit(case):
    case["updates"][0]["fields"] = ["reference"]


@pytest.mark.parametrize(
    "break_it",
    [
        _future,
        _unknown_user,
        _long_line,
        _label_twice,
        _no_note,
        _my_number,
        _stage,
        _field,
        _balance,
        _before_open,
        _wrong_edit,
    ],
)
def test_a_file_the_replay_refuses_is_refused_the_same_way_and_nothing_is_written(
    reference_data, break_it
):
    cases = [reduced(case, hand_lines=1) for case in copies(3)]
    break_it(cases[1])
    refused_both_ways(cases)


def test_a_label_longer_than_its_column_is_left_to_the_replay(reference_data):
    cases = [reduced(case, hand_lines=1) for case in copies(3)]
    _long_label(cases[1])
    if connection.vendor == "postgresql":  # the database refuses it, naming the case
        refused_both_ways(cases)
    else:  # SQLite keeps it whole: imported the same both ways, the case replayed
        replayed, compiled, counts = import_both_ways(case_file(cases))
        assert counts == [0, 2]
        assert_same(replayed, compiled)


def test_a_number_already_taken_is_refused_by_the_database_both_ways(reference_data):
    # A case holds the number the sequence gives next (a sequence set back by hand).
    with scopes_disabled():
        import_cases(case_file([reduced(copies(1)[0])]), compile=False)
        CaseSequence.objects.update(last_number=0)
    cases = [reduced(case, hand_lines=1) for case in copies(4)[2:]]  # other references
    messages = []
    for compile in (False, True):
        with scopes_disabled(), pytest.raises(InterchangeError) as refused, transaction.atomic():
            import_cases(copy.deepcopy(case_file(cases)), compile=compile)
        messages.append(str(refused.value))
        with scopes_disabled():
            assert Case.objects.count() == 1
    assert messages[0] == messages[1]
    assert "case 1" in messages[0] and "opened" in messages[0]
    # The database's reason, not its detail (PostgreSQL's names the key, or quotes the row).
    assert "DETAIL" not in messages[0] and "Key (" not in messages[0]


def test_the_compiled_path_writes_its_rows_in_a_few_statements(
    reference_data, django_assert_max_num_queries
):
    cases = [reduced(case, hand_lines=2) for case in copies(40)]
    data = case_file(cases)
    with scopes_disabled():
        # Reference data (users, offices…) once, the sequence and the audit head once,
        # then per batch of entries one INSERT per model.
        with django_assert_max_num_queries(60):
            imported = import_file(io.BytesIO(json.dumps(data).encode()))
        assert len(imported.cases) == 40
        assert verify_chain()[1] == []
