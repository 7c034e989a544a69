"""The load test's own machinery (tools/loadtest.py): stopping the stack leaves no process
behind, even one that ignores SIGTERM, the percentiles it reports are nearest-rank, and the
run's own commands (queueing the jobs) can run below the servers' priority."""

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import loadtest

# A parent that stops on SIGTERM, as serve.py does, and a child of it that ignores SIGTERM
# (a worker stuck in a task): the child is what would be left as an orphan.
STUBBORN = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open(%r, 'w').write('up'); time.sleep(600)"])
time.sleep(600)
"""


def _wait_for(path: Path) -> None:
    for _ in range(100):
        if path.exists():
            return
        time.sleep(0.1)
    pytest.fail("the stand-in stack did not start")


def test_stopping_the_stack_kills_what_ignored_sigterm_and_says_so(tmp_path):
    ready = tmp_path / "ready"
    stack = loadtest.Stack(
        dict(os.environ),
        tmp_path / "serve.log",
        command=[sys.executable, "-c", STUBBORN % str(ready)],
    )
    stack.start()
    _wait_for(ready)
    group = stack.process.pid
    assert loadtest.group_alive(group)

    problems = stack.stop()

    assert problems == ["processes of the stack were left after it stopped: killed"]
    for _ in range(50):  # SIGKILL is delivered at once; reaping by init may take a moment
        if not loadtest.group_alive(group):
            break
        time.sleep(0.1)
    assert not loadtest.group_alive(group)


def test_a_stack_that_stops_cleanly_reports_nothing(tmp_path):
    stack = loadtest.Stack(
        dict(os.environ),
        tmp_path / "serve.log",
        command=[sys.executable, "-c", "import time; time.sleep(600)"],
    )
    stack.start()
    group = stack.process.pid
    assert stack.stop() == []
    assert not loadtest.group_alive(group)


def test_percentiles_are_nearest_rank():
    times = [float(n) for n in range(1, 101)]
    assert loadtest.p(times, 0.5) == 50
    assert loadtest.p(times, 0.95) == 95
    assert loadtest.p(times, 0.99) == 99
    assert loadtest.p([7.0], 0.99) == 7


def test_the_runs_own_commands_can_run_below_the_servers_priority():
    env = {**os.environ, "DJANGO_DEBUG": "1"}
    code = "import os; print('niceness', os.nice(0))"
    done = loadtest.manage(env, "shell", "-c", code, timeout=120, nice=10)
    assert done.returncode == 0, done.stderr
    assert f"niceness {min(os.nice(0) + 10, 19)}" in done.stdout
    done = loadtest.manage(env, "shell", "-c", code, timeout=120)
    assert f"niceness {os.nice(0)}" in done.stdout
