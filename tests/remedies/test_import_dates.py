"""A case file's dates are refused before 明治 (1868-01-25): every page and document shows
dates in wareki, so such a date, once imported, made each page that shows it answer 500
(a case file with a link registered on 1800-01-01 was accepted, and its case page broke)."""

import copy
import json
import re
from pathlib import Path

import pytest
from django_scopes import scopes_disabled

from cases.models import AuditEntry, Case
from remedies.demo import _organisations, _users
from remedies.interchange import InterchangeError, import_cases

pytestmark = pytest.mark.django_db

DEMO = json.loads(Path("remedies/demo_cases.json").read_text(encoding="utf-8"))


def _date_paths(node, prefix=()):
    """Every place in the demo file that holds a date the import reads: not the 経過 lines
    a service writes again (no seq), whose date only matches them to the file's."""
    if isinstance(node, dict):
        if "seq" in node and node["seq"] is None:
            return
        for key, value in node.items():
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
                yield (*prefix, key)
            yield from _date_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _date_paths(value, (*prefix, index))


def _one_of_each(paths):
    """The first place of each kind (links/*/corrected_on once, whichever case holds it)."""
    kinds = {}
    for path in paths:
        kinds.setdefault(tuple(key for key in path if isinstance(key, str)), path)
    return list(kinds.values())


DATE_PATHS = _one_of_each(_date_paths(DEMO["cases"]))


@pytest.fixture
def reference_data(db):
    with scopes_disabled():
        _users(_organisations())


def _set(document: dict, path: tuple, value) -> None:
    node = document["cases"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize("path", DATE_PATHS, ids=lambda path: "/".join(map(str, path)))
def test_a_date_before_meiji_anywhere_is_refused_naming_its_field(reference_data, path):
    document = copy.deepcopy(DEMO)
    _set(document, path, "1868-01-24")
    with scopes_disabled(), pytest.raises(InterchangeError) as error:
        import_cases(document)
    assert error.value.field == path[-1]
    assert "before 1868-01-25 (the first day of Meiji)" in error.value.reason
    with scopes_disabled():
        assert not Case.objects.exists() and not AuditEntry.objects.exists()


def test_the_link_registered_in_1800_that_broke_its_case_page_is_refused(reference_data):
    document = copy.deepcopy(DEMO)
    document["cases"][0]["links"][0]["registered_on"] = "1800-01-01"
    with scopes_disabled(), pytest.raises(InterchangeError) as error:
        import_cases(document)
    assert str(error.value) == (
        'case 1 (401005-2022-001), link 1, field "registered_on": "1800-01-01" is before'
        " 1868-01-25 (the first day of Meiji)"
    )


def test_the_first_day_of_meiji_is_read_as_a_date(reference_data, client):
    # Not refused for being too early: the first day wareki can write (明治元年1月25日).
    # On a registration with no occurrence date known, nothing else refuses it either,
    # and the case page shows it.
    document = copy.deepcopy(DEMO)
    document["cases"][0]["links"][0]["registered_on"] = "1868-01-25"
    with scopes_disabled():
        [case, *_] = import_cases(document)
    client.force_login(case.assignee or case.opened_by)
    page = client.get(f"/cases/{case.reference}/")
    assert page.status_code == 200
    assert "明治元年1月25日" in page.content.decode()
