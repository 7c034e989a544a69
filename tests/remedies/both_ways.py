"""Importing a case file both ways, for the tests of the compiled path of the import
(remedies/interchange/compiled.py): once with every case replayed (compile=False) and once
with the compiled path, each time into the same database rolled back in between; every
table the import writes (the many-to-many tables too) is compared row by row, ids mapped to
what they mean (a case by its reference, another row by its case and its place among that
case's rows of its kind, a row of a many-to-many table by the rows it joins); the audit
entries by chain and place in it, with their actions and data. And the files: the demo's
cases cut down to the kinds the compiled path handles."""

import copy
import json

import pytest
from django.apps import apps
from django.db import models, transaction
from django_scopes import scopes_disabled

from cases.audit_verify import verify_chain
from cases.models import (
    AuditEntry,
    AuditHead,
    Case,
    CaseSequence,
    Misregistration,
    Party,
    TimelineEvent,
)
from remedies.demo import DEMO_CASES, demo_case_copies
from remedies.interchange import InterchangeError, import_cases
from remedies.interchange import compiled as compiled_module
from remedies.models import AgencyContact

# Columns that must differ between two imports: when a row was written, and the MACs (over
# ids and times; each chain is verified instead).
_IGNORED = {"id", "created_at", "updated_at", "at", "mac", "prev_mac", "last_id", "last_mac"}
_APPS = ("cases", "remedies")


def _written_models() -> list[type[models.Model]]:
    return [
        model
        for app in _APPS
        # With the many-to-many tables (a request's agencies).
        for model in apps.get_app_config(app).get_models(include_auto_created=True)
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

    # Cases in the order of their ids: the order an export lists them in.
    snapshot: dict[str, list] = {"cases in id order": [row.reference for row in rows_of[Case]]}
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


def import_both_ways(data: dict, **options) -> tuple[dict, dict, list[int]]:
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


def assert_same(replayed: dict, compiled: dict) -> None:
    assert replayed.keys() == compiled.keys()
    for table in replayed:
        assert len(replayed[table]) == len(compiled[table]), table
        for i, (a, b) in enumerate(zip(replayed[table], compiled[table], strict=True)):
            assert a == b, f"{table} row {i}: {a} != {b}"


# ---- the files ------------------------------------------------------------------------


_PEOPLE_TIMELINE = {"", "case.discovered", "case.opened", "party.identified"}
# The 経過 lines the services of links and contacts write.
_LINKS_AND_CONTACTS_TIMELINE = {
    "link.corrected",
    "link.correction_changed",
    "link.excused",
    "contact.made",
    "contact.answered",
}


def reduced(
    case: dict,
    *,
    hand_lines: int = 0,
    seq: int | None = None,
    identify: bool = False,
    links_and_contacts: bool = False,
) -> dict:
    """A demo case cut down to the actions the compiled path handles: opened, edits,
    parties and their edits, 経過 lines written by hand; with links_and_contacts, its links
    (with their corrections and excuses) and agency contacts (with their answers) too."""
    case = copy.deepcopy(case)
    dropped = ("agreements", "visits", "letters", "ledger", "plans", "transitions", "documents")
    for section in (*dropped, *(() if links_and_contacts else ("links", "contacts"))):
        case[section] = []
    kept = _PEOPLE_TIMELINE | (_LINKS_AND_CONTACTS_TIMELINE if links_and_contacts else set())
    case["timeline"] = [e for e in case["timeline"] if e["action"] in kept]
    case["stage"] = "inquiry"
    for party in case["parties"]:
        party["balance"] = 0
    top = seq or max(seqs(case))
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


def seqs(obj: object) -> list[int]:
    if isinstance(obj, dict):
        found = [v for k, v in obj.items() if k == "seq" and isinstance(v, int)]
        return found + [s for k, v in obj.items() if k != "seq" for s in seqs(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in seqs(v)]
    return []


def case_file(cases: list[dict]) -> dict:
    head = json.loads(DEMO_CASES.read_text(encoding="utf-8"))
    head["cases"] = cases
    return head


def interleaved(cases: list[dict]) -> list[dict]:
    """The cases' actions renumbered so that they are taken in turns (case 1's first,
    case 2's first, …, case 1's second…): the cases are worked at the same time."""
    cases = copy.deepcopy(cases)
    width = len(cases)
    for i, case in enumerate(cases):
        order = sorted(set(seqs(case)))
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


def demo_cases() -> list[dict]:
    return json.loads(DEMO_CASES.read_text("utf-8"))["cases"]


def copies(count: int) -> list[dict]:
    return list(demo_case_copies(count)[1])


def made_to_replay(case: dict) -> dict:
    """A whole demo case made to take the replay: a case report issued by another Tadasu
    is recorded with it (documents are the replay's: compiled._REPLAYED_SECTIONS), after
    its last action, dated its last action's day."""
    case = copy.deepcopy(case)
    last = max(seqs(case))
    days = [item["on"] for item in case["transitions"]] or [case["discovered_on"]]
    case["documents"] = [
        {"seq": last + 1, "by": "staff", "kind": "report", "fiscal_year": 2022,
         "number": None, "number_text": "", "version": 1, "dated": max(days), "party": None,
         "approved_by": None, "sha256": "0" * 64}
    ]  # fmt: skip
    return case


def refused_both_ways(cases: list[dict]) -> None:
    messages = []
    for compile in (False, True):
        with scopes_disabled():
            with pytest.raises(InterchangeError) as refused:
                import_cases(copy.deepcopy(case_file(cases)), compile=compile)
            messages.append(str(refused.value))
            assert not Case.objects.exists()
            assert not Party.objects.exists()
            assert not TimelineEvent.objects.exists()
            assert not Misregistration.objects.exists()
            assert not AgencyContact.objects.exists()
            assert not AuditEntry.objects.exists()
            assert not CaseSequence.objects.filter(last_number__gt=0).exists()
            assert not AuditHead.objects.filter(seq__gt=0).exists()
    assert messages[0] == messages[1]
    assert "case 2" in messages[0]
