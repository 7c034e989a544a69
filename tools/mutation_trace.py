"""A pytest plugin for `make mutation` (tools/mutation.py): during the baseline run, which
lines of the module under test each test executes (setup, call and teardown), written as
JSON to $MUTATION_TRACE_OUT. tools/mutation_runner.py then runs, for each mutant, only the
tests that execute the function it changed. Loaded with `-p tools.mutation_trace`.

A function of the module memoised with functools.cache (audit_keys) runs in the first test
that calls it and then never again in that process, yet every later test relies on what it
returned, and each mutant's run is a fresh process where it runs again. So the caches of the
module's functions are cleared before each test: every test that relies on such a function
is then seen executing it, and is run for its mutants.

What the module runs before the first test (Django's start-up: an app's `ready()` calling
`register_pause`) is recorded under STARTUP: every test relies on it, so a mutant of such
a function runs every test (tools/mutation_runner.py)."""

import json
import os
import sys
import threading

import pytest

TARGET = os.path.realpath(os.environ.get("MUTATION_TRACE_FILE", ""))
OUT = os.environ.get("MUTATION_TRACE_OUT", "")

STARTUP = "<start-up>"

_lines: dict[str, set[int]] = {}
_current: set[int] | None = None
_is_target: dict[str, bool] = {}


def _local(frame, event, arg):
    if event == "line" and _current is not None:
        _current.add(frame.f_lineno)
    return _local


def _global(frame, event, arg):
    name = frame.f_code.co_filename
    hit = _is_target.get(name)
    if hit is None:
        hit = _is_target[name] = os.path.realpath(os.path.abspath(name)) == TARGET
    if not hit:
        return None
    if _current is not None:
        _current.add(frame.f_lineno)
    return _local


def _clear_caches() -> None:
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or os.path.realpath(path) != TARGET:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Trace from before pytest-django sets Django up until the first test starts."""
    global _current
    _current = _lines.setdefault(STARTUP, set())
    sys.settrace(_global)
    threading.settrace(_global)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _current
    _clear_caches()
    _current = _lines.setdefault(item.nodeid, set())
    sys.settrace(_global)
    threading.settrace(_global)
    try:
        yield
    finally:
        sys.settrace(None)
        threading.settrace(None)
        _current = None


def pytest_sessionfinish(session):
    if OUT:
        with open(OUT, "w", encoding="utf-8") as out:
            json.dump({nodeid: sorted(lines) for nodeid, lines in _lines.items()}, out)
