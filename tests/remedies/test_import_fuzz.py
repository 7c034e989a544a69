"""Whatever a case file holds, import_cases either imports it whole or refuses it with
InterchangeError, writing nothing — never another exception, never half a file; and the
same file read as a stream (import_case_file) comes to the same end."""

import base64
import copy
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from django.db import transaction
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import AuditEntry, Case, Party, TimelineEvent
from remedies.demo import _organisations, _users
from remedies.interchange import InterchangeError, import_case_file, import_cases
from remedies.models import Document, LedgerEntry

pytestmark = pytest.mark.django_db

DEMO = json.loads(Path("remedies/demo_cases.json").read_text(encoding="utf-8"))
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=50),
    st.sampled_from(
        ["", "\x00", "\u202e", "１２３", "9999-99-99", "2023-02-30", "x" * 5000, "123456789018"]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.none(), max_size=2),
)


def _paths(node, prefix=()):
    """Every (container, key) in the document, to replace one value with junk."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


PATHS = list(_paths(DEMO))


LETTER_CASE = 2  # 八幡西区, with C氏


def _with_a_document() -> dict:
    """The demo file with an issued letter (and its PDF) in its third case (C氏's)."""
    document = copy.deepcopy(DEMO)
    pdf = b"%PDF-1.4\n% a letter\n%%EOF\n"
    seqs = (_at(document, path) for path in _paths(document) if path[-1] == "seq")
    last = max(seq for seq in seqs if isinstance(seq, int))
    document["cases"][LETTER_CASE]["documents"] = [
        {
            "seq": last + 1,
            "by": "staff",
            "kind": "apology",
            "fiscal_year": 2022,
            "number": 1,
            "number_text": "第1号",
            "version": 1,
            "dated": "2023-03-20",
            "party": "C氏",
            "approved_by": None,
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "pdf": base64.b64encode(pdf).decode(),
        }
    ]
    return document


def _at(node, path):
    for key in path:
        node = node[key]
    return node


WITH_DOCUMENT = _with_a_document()
DOCUMENT_PATHS = [
    path for path in _paths(WITH_DOCUMENT) if path[:3] == ("cases", LETTER_CASE, "documents")
]


def _counts():
    with scopes_disabled():
        return [
            m.objects.count()
            for m in (Case, Party, TimelineEvent, LedgerEntry, AuditEntry, Document)
        ]


@pytest.fixture
def reference_data(db):
    with scopes_disabled():
        _organisations()
        _users(_organisations())


@settings(
    max_examples=int(os.environ.get("TADASU_FUZZ_EXAMPLES_IMPORT", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(PATHS), value=JUNK)
def test_a_damaged_case_file_imports_whole_or_not_at_all(reference_data, path, value):
    _damaged(DEMO, path, value)


@settings(
    max_examples=int(os.environ.get("TADASU_FUZZ_EXAMPLES_IMPORT", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(DOCUMENT_PATHS), value=JUNK)
def test_a_damaged_document_entry_imports_whole_or_not_at_all(reference_data, path, value):
    _damaged(WITH_DOCUMENT, path, value)


@pytest.mark.parametrize("junk", [{"summary": None}, ["summary"], 7, None])
def test_an_edit_naming_a_field_by_anything_but_text_is_refused(reference_data, junk):
    """Each field's last edit is worked out once for a case, over every edit's names."""
    path = next(p for p in PATHS if p[-2:] == ("fields", 0) and "parties" not in p)
    _damaged(DEMO, path, junk)
    with_edit = copy.deepcopy(DEMO)  # a party's edit (the demo has none)
    seqs = (_at(with_edit, p) for p in _paths(with_edit) if p[-1] == "seq")
    last = max(seq for seq in seqs if isinstance(seq, int))
    party = with_edit["cases"][0]["parties"][0]
    party["updates"] = [{"seq": last + 1, "by": "staff", "fields": ["phone"]}]
    _damaged(with_edit, ("cases", 0, "parties", 0, "updates", 0, "fields", 0), junk)


def test_the_document_file_imports_undamaged(reference_data):
    with scopes_disabled():
        assert len(import_cases(copy.deepcopy(WITH_DOCUMENT))) == len(DEMO["cases"])
        [document] = WITH_DOCUMENT["cases"][LETTER_CASE]["documents"]
        assert Document.objects.get().sha256 == document["sha256"]


def _damaged(original: dict, path: tuple, value) -> None:
    document = copy.deepcopy(original)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    before = _counts()
    loaded = _outcome(lambda: import_cases(document), before)
    # Read from a file as a stream, the same document comes to the same end.
    text = json.dumps(document, ensure_ascii=False).encode()
    assert _outcome(lambda: import_case_file(io.BytesIO(text)), before) == loaded
    if not isinstance(loaded, str):
        assert loaded == len(document["cases"])  # accepted: all of it


def _outcome(run, before) -> int | str:
    """How many cases were imported, or why none was."""
    try:
        # Each example in a savepoint that is rolled back, so examples do not meet.
        with transaction.atomic():
            try:
                with scopes_disabled():
                    outcome = len(run())
            except InterchangeError as error:
                assert _counts() == before  # refused: nothing written
                outcome = str(error)
            raise _Rollback(outcome)
    except _Rollback as rolled_back:
        return rolled_back.args[0]


class _Rollback(Exception):
    pass
