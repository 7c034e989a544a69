"""The compiled path of the import (remedies/interchange/compiled.py) writes what the replay
writes: each file is imported once with every case replayed (compile=False) and once with
the compiled path, each time into the same database rolled back in between, and every table
the import writes is compared row by row, ids mapped to what they mean (a case by its
reference, another row by its case and its place among that case's rows of its kind); the
audit entries by chain and place in it, with their actions and data. A file the replay
refuses is refused the same way, with the same message, and nothing is written."""

import copy
import io
import json
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import connection, models, transaction
from django_scopes import scopes_disabled

from cases.audit_verify import verify_chain
from cases.models import AuditEntry, AuditHead, Case, CaseSequence, Party, TimelineEvent
from remedies.demo import DEMO_CASES, _organisations, _users, demo_case_copies
from remedies.interchange import InterchangeError, import_cases, import_file
from remedies.interchange import compiled as compiled_module

pytestmark = pytest.mark.django_db

# Columns that must differ between two imports: when a row was written, and the MACs (over
# ids and times; each chain is verified instead).
_IGNORED = {"id", "created_at", "updated_at", "at", "mac", "prev_mac", "last_id", "last_mac"}
_APPS = ("cases", "remedies")


def _written_models() -> list[type[models.Model]]:
    return [
        model
        for app in _APPS
        for model in apps.get_app_config(app).get_models()
        if not model._meta.proxy
    ]


def _snapshot() -> dict[str, list]:
    """Every row of the two apps, ids replaced by what they mean."""
    names: dict[tuple[str, int], object] = {}
    rows_of: dict[type, list] = {}
    for model in _written_models():
        rows = list(model._base_manager.order_by("pk"))
        rows_of[model] = rows
        case_field = next(
            (f for f in model._meta.fields if f.is_relation and f.related_model is Case), None
        )
        places: dict[object, int] = {}
        for row in rows:
            if model is Case:
                name = ("case", row.reference)
            elif model is AuditEntry:
                name = ("audit", row.chain, row.seq)
            elif case_field is not None and getattr(row, case_field.attname) is not None:
                owner = getattr(row, case_field.attname)
                places[owner] = places.get(owner, 0) + 1
                name = (model._meta.label, "of case", owner, places[owner])
            else:
                name = (model._meta.label, row.pk)  # reference data: the same rows both times
            names[(model._meta.label_lower, row.pk)] = name
    # The case of a "case" name is its id until every case is named: resolve now.
    case_refs = {pk: name[1] for (label, pk), name in names.items() if label == "cases.case"}

    def meaning(value: object) -> object:
        if isinstance(value, tuple) and len(value) == 4 and value[1] == "of case":
            return (value[0], case_refs.get(value[2], value[2]), value[3])
        return value

    snapshot: dict[str, list] = {}
    for model, rows in rows_of.items():
        dumped = []
        for row in rows:
            values = {}
            for field in model._meta.concrete_fields:
                if field.name in _IGNORED or isinstance(field, models.UUIDField):
                    # A posting's group is a random UUID, new on every import.
                    continue
                value = getattr(row, field.attname)
                if field.is_relation and value is not None:
                    target = field.related_model._meta.label_lower
                    value = meaning(names.get((target, value), (target, value)))
                if model is AuditEntry and field.name == "object_id" and value:
                    target = apps.get_model(row.object_type)._meta.concrete_model
                    value = meaning(names.get((target._meta.label_lower, int(value)), value))
                values[field.name] = value
            dumped.append(values)

        def key(v: dict) -> str:
            return json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)

        if model is AuditEntry:
            dumped.sort(key=lambda v: (v["chain"], v["seq"]))  # the chain's own order
        elif model is TimelineEvent or model is Party:
            pass  # in the order written: each case's lines (or parties) in its own order
        else:
            dumped.sort(key=key)
        if model in (TimelineEvent, Party):
            dumped.sort(key=lambda v: str(v["case"]))  # stable: each case's own order kept
        snapshot[model._meta.label] = dumped
    return snapshot


def _import_both_ways(data: dict, **options) -> tuple[dict, dict, list[int]]:
    """The file imported with every case replayed, then (rolled back) with the compiled
    path; the two snapshots and, per import, how many cases were compiled."""
    snapshots, compiled_counts = [], []
    for compile in (False, True):
        counted = _count_compiled()
        with transaction.atomic(), scopes_disabled():
            with counted:
                import_cases(copy.deepcopy(data), compile=compile, **options)
            _, problems = verify_chain()
            assert problems == []
            snapshots.append(_snapshot())
            transaction.set_rollback(True)
        compiled_counts.append(counted.count)
    return snapshots[0], snapshots[1], compiled_counts


class _count_compiled:
    """Counts the cases that took the compiled path."""

    def __enter__(self):
        self.count = 0
        original = compiled_module.CompiledCase.build

        def build(this):
            runs = original(this)
            self.count += 1
            return runs

        self.original = original
        compiled_module.CompiledCase.build = build
        return self

    def __exit__(self, *exc):
        compiled_module.CompiledCase.build = self.original


def _assert_same(replayed: dict, compiled: dict) -> None:
    assert replayed.keys() == compiled.keys()
    for table in replayed:
        assert len(replayed[table]) == len(compiled[table]), table
        for i, (a, b) in enumerate(zip(replayed[table], compiled[table], strict=True)):
            assert a == b, f"{table} row {i}: {a} != {b}"


# ---- the files --------------------------------------------------------------------------


@pytest.fixture
def reference_data() -> None:
    with scopes_disabled():
        _users(_organisations())


_COMPILED_TIMELINE = {"", "case.discovered", "case.opened", "party.identified"}


def _reduced(
    case: dict, *, hand_lines: int = 0, seq: int | None = None, identify: bool = False
) -> dict:
    """A demo case cut down to the actions the compiled path handles: opened, edits,
    parties and their edits, 経過 lines written by hand."""
    case = copy.deepcopy(case)
    for section in ("links", "contacts", "agreements", "visits", "letters", "ledger"):
        case[section] = []
    for section in ("plans", "transitions", "documents"):
        case[section] = []
    case["timeline"] = [e for e in case["timeline"] if e["action"] in _COMPILED_TIMELINE]
    case["stage"] = "inquiry"
    for party in case["parties"]:
        party["balance"] = 0
    top = seq or max(_seqs(case))
    unknown = [p for p in case["parties"] if not p["identified"]]
    if identify and unknown:  # the person known only by a label is identified by an edit
        party = unknown[0]
        party.update(identified=True, name="鈴木 一郎", identified_on=case["discovered_on"])
        party["updates"].append(
            {"seq": top + 1, "by": "staff", "fields": ["identified", "name", "identified_on"]}
        )
        top += 1
    for n in range(hand_lines):
        case["timeline"].append(
            {
                "seq": top + n + 1,
                "by": "staff",
                "on": case["discovered_on"],
                "actor": "北九州市",
                "text": f"電話で状況を確認した（{n + 1}）。",
                "action": "",
                "public": n % 2 == 0,
            }
        )
    return case


def _seqs(obj: object) -> list[int]:
    if isinstance(obj, dict):
        found = [v for k, v in obj.items() if k == "seq" and isinstance(v, int)]
        return found + [s for k, v in obj.items() if k != "seq" for s in _seqs(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _seqs(v)]
    return []


def _file(cases: list[dict]) -> dict:
    head = json.loads(DEMO_CASES.read_text(encoding="utf-8"))
    head["cases"] = cases
    return head


def _interleaved(cases: list[dict]) -> list[dict]:
    """The cases' actions renumbered so that they are taken in turns (case 1's first,
    case 2's first, …, case 1's second…): the cases are worked at the same time."""
    cases = copy.deepcopy(cases)
    width = len(cases)
    for i, case in enumerate(cases):
        order = sorted(set(_seqs(case)))
        renumber = {old: (k + 1) * width + i for k, old in enumerate(order)}

        def walk(obj, renumber=renumber):
            if isinstance(obj, dict):
                for key, value in obj.items():
                    if key == "seq" and isinstance(value, int):
                        obj[key] = renumber[value]
                    else:
                        walk(value)
            elif isinstance(obj, list):
                for value in obj:
                    walk(value, renumber)

        walk(case)
    return cases


def _demo() -> list[dict]:
    return json.loads(DEMO_CASES.read_text("utf-8"))["cases"]


def _copies(count: int) -> list[dict]:
    return list(demo_case_copies(count)[1])


# ---- equivalence ------------------------------------------------------------------------


def test_the_demo_cases_cut_down_are_compiled_and_written_as_the_replay_writes_them(
    reference_data,
):
    cases = [_reduced(case, hand_lines=i, identify=i % 2 == 1) for i, case in enumerate(_copies(8))]
    replayed, compiled, counts = _import_both_ways(_file(cases))
    assert counts == [0, 8]
    assert len(compiled["cases.Case"]) == 8
    assert any(row["action"] == "party.identified" for row in compiled["cases.TimelineEvent"])
    _assert_same(replayed, compiled)


def test_cases_worked_at_the_same_time_keep_the_chain_order_of_the_replay(reference_data):
    cases = _interleaved(
        [_reduced(case, hand_lines=2, identify=i % 3 == 0) for i, case in enumerate(_copies(6))]
    )
    replayed, compiled, counts = _import_both_ways(_file(cases))
    assert counts == [0, 6]
    _assert_same(replayed, compiled)


def test_a_file_of_compiled_and_replayed_cases_numbers_and_chains_them_as_the_replay(
    reference_data,
):
    # The full demo cases (links, contacts, money, stage steps) replay; their cut-down
    # copies are compiled; worked at the same time, taking numbers from one sequence.
    full = _copies(4)
    cut = [_reduced(case, hand_lines=1) for case in _copies(8)[4:]]
    cases = _interleaved([case for pair in zip(full, cut, strict=True) for case in pair])
    replayed, compiled, counts = _import_both_ways(_file(cases))
    assert counts == [0, 4]
    assert compiled["remedies.LedgerEntry"]  # the full cases' money, posted as on replay
    _assert_same(replayed, compiled)


def test_the_demo_file_as_exported_imports_the_same_both_ways(reference_data):
    replayed, compiled, counts = _import_both_ways(_file(_demo()))
    assert counts == [0, 0]  # every demo case has actions the compiled path leaves alone
    _assert_same(replayed, compiled)


def test_a_case_whose_edit_moves_it_to_another_contractor_is_replayed(reference_data):
    case = _reduced(_copies(1)[0])
    case["reported_by_contractor"] = False
    case["opened"]["by"] = "staff"
    case["contractor"] = None
    case["updates"][0]["fields"].append("contractor")
    case["contractor"] = _demo()[0]["contractor"]
    replayed, compiled, counts = _import_both_ways(_file([case]))
    assert counts == [0, 0]
    _assert_same(replayed, compiled)


def test_without_a_contractor_a_case_the_city_opened_is_compiled(reference_data):
    case = _reduced(_copies(1)[0], hand_lines=3)
    case["reported_by_contractor"] = False
    case["opened"]["by"] = "staff"
    case["timeline"] = [e for e in case["timeline"] if e["action"] != "case.opened"]
    replayed, compiled, counts = _import_both_ways(_file([case]))
    assert counts == [0, 1]
    opened = [r for r in compiled["cases.TimelineEvent"] if r["action"] == "case.opened"]
    assert [r["in_story"] for r in opened] == [False]  # the city's own registration
    _assert_same(replayed, compiled)


def test_skip_existing_leaves_out_the_same_cases_both_ways(reference_data):
    cases = [_reduced(case, hand_lines=1) for case in _copies(8)]
    with scopes_disabled():
        import_cases(_file(cases[:3]), compile=False)  # already here before the import
    replayed, compiled, counts = _import_both_ways(_file(cases), skip_existing=True)
    # Copies 5 to 7 were opened at the desks and dates of the first three: left out.
    assert counts == [0, 2]
    assert len(compiled["cases.Case"]) == 5
    _assert_same(replayed, compiled)


def test_an_amending_import_replays_its_new_cases_too(reference_data):
    cases = [_reduced(case, hand_lines=1) for case in _copies(4)]
    replayed, compiled, counts = _import_both_ways(_file(cases), amend=True)
    assert counts == [0, 0]
    _assert_same(replayed, compiled)


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
    cases = [_reduced(case, hand_lines=1) for case in _copies(3)]
    break_it(cases[1])
    _refused_both_ways(cases)


def test_a_label_longer_than_its_column_is_left_to_the_replay(reference_data):
    cases = [_reduced(case, hand_lines=1) for case in _copies(3)]
    _long_label(cases[1])
    if connection.vendor == "postgresql":  # the database refuses it, naming the case
        _refused_both_ways(cases)
    else:  # SQLite keeps it whole: imported the same both ways, the case replayed
        replayed, compiled, counts = _import_both_ways(_file(cases))
        assert counts == [0, 2]
        _assert_same(replayed, compiled)


def test_a_number_already_taken_is_refused_by_the_database_both_ways(reference_data):
    # A case holds the number the sequence gives next (a sequence set back by hand).
    with scopes_disabled():
        import_cases(_file([_reduced(_copies(1)[0])]), compile=False)
        CaseSequence.objects.update(last_number=0)
    cases = [_reduced(case, hand_lines=1) for case in _copies(4)[2:]]  # other references
    messages = []
    for compile in (False, True):
        with scopes_disabled(), pytest.raises(InterchangeError) as refused, transaction.atomic():
            import_cases(copy.deepcopy(_file(cases)), compile=compile)
        messages.append(str(refused.value))
        with scopes_disabled():
            assert Case.objects.count() == 1
    assert messages[0] == messages[1]
    assert "case 1" in messages[0] and "opened" in messages[0]


def _refused_both_ways(cases: list[dict]) -> None:
    messages = []
    for compile in (False, True):
        with scopes_disabled():
            with pytest.raises(InterchangeError) as refused:
                import_cases(copy.deepcopy(_file(cases)), compile=compile)
            messages.append(str(refused.value))
            assert not Case.objects.exists()
            assert not Party.objects.exists()
            assert not TimelineEvent.objects.exists()
            assert not AuditEntry.objects.exists()
            assert not CaseSequence.objects.filter(last_number__gt=0).exists()
            assert not AuditHead.objects.filter(seq__gt=0).exists()
    assert messages[0] == messages[1]
    assert "case 2" in messages[0]


def test_the_compiled_path_writes_its_rows_in_a_few_statements(
    reference_data, django_assert_max_num_queries
):
    cases = [_reduced(case, hand_lines=2) for case in _copies(40)]
    data = _file(cases)
    with scopes_disabled():
        # Reference data (users, offices…) once, the sequence and the audit head once,
        # then per batch of entries one INSERT per model.
        with django_assert_max_num_queries(60):
            imported = import_file(io.BytesIO(json.dumps(data).encode()))
        assert len(imported.cases) == 40
        assert verify_chain()[1] == []
