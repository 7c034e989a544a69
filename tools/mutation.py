"""Mutation testing of the core rules with Cosmic Ray (`make mutation`, docs/TESTING.md).

Cosmic Ray writes each mutant into the source file on disk and runs a test command, so the
run happens in a scratch copy of the tracked files (var/mutation/<module>/src): the working
tree is never touched, and an interrupted run leaves nothing mutated behind. Each module is
tested only with the tests that exercise its rules (MODULES below), so that one mutant costs
seconds, not the whole suite.

    .venv/bin/python tools/mutation.py                      # every module
    .venv/bin/python tools/mutation.py mynumber permissions # some of them
    .venv/bin/python tools/mutation.py --report mynumber    # the last run's figures again
    .venv/bin/python tools/mutation.py --again mynumber     # only the last survivors, again
    .venv/bin/python tools/mutation.py --jobs 2             # two modules at a time

Per module the result is in var/mutation/<module>/: session.sqlite (Cosmic Ray's own
session, `cr-report` / `cr-html` read it), survivors.txt (each surviving mutant as a diff)
and score.txt (the figures). Not part of CI: a full run of all 1,310 mutants took 30
minutes on an idle 2-core machine with two modules at a time (--jobs 2, docs/TESTING.md,
"The whole run (3 December)").
"""

import argparse
import concurrent.futures
import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "mutation"
BIN = Path(sys.executable).parent

# Module -> (source file, the tests that hold its rules). Keep the test lists small and
# focused: every mutant runs them once.
MODULES = {
    "mynumber": (
        "cases/mynumber.py",
        ["tests/cases/test_mynumber.py", "tests/cases/test_invisible_controls.py"],
    ),
    "permissions": (
        "cases/permissions.py",
        ["tests/cases/test_rules_unscoped.py", "tests/cases/test_scoping.py"],
    ),
    "scoping": (
        "cases/scoping.py",
        ["tests/cases/test_rules_unscoped.py", "tests/cases/test_scoping.py"],
    ),
    "deadlines": (
        "cases/deadlines.py",
        ["tests/cases/test_deadlines.py", "tests/cases/test_clock_pauses.py"],
    ),
    "workflow": (
        "remedies/workflow.py",
        ["tests/remedies/test_workflow.py", "tests/remedies/test_rules_at_risk.py"],
    ),
    "ledger": (
        "remedies/ledger.py",
        [
            "tests/remedies/test_ledger.py",
            "tests/remedies/test_ledger_totals.py",
            "tests/remedies/test_rules_at_risk.py",
            "tests/remedies/test_national_correction.py",
        ],
    ),
    "audit": (
        "cases/audit.py",
        [
            "tests/cases/test_audit.py",
            "tests/cases/test_audit_tamper.py",
            "tests/cases/test_audit_checkpoints.py",
        ],
    ),
    "audit_verify": (
        "cases/audit_verify.py",
        [
            "tests/cases/test_audit.py",
            "tests/cases/test_audit_tamper.py",
            "tests/cases/test_audit_checkpoints.py",
        ],
    ),
    "rules": (
        "remedies/interchange/rules.py",
        [
            "tests/remedies/test_interchange.py",
            "tests/remedies/test_interchange_amend.py",
            "tests/remedies/test_rules_at_risk.py",
        ],
    ),
    "stream": (
        "remedies/interchange/stream.py",
        ["tests/remedies/test_import_stream.py", "tests/remedies/test_import_limits.py"],
    ),
}

# Most of a mutant's cost is building the test database through every migration. These
# modules' tests need only the tables, so their runs build them from the models
# (`--nomigrations`). The audit, ledger and import tests keep the migrations: they rely on
# the triggers the migrations add (append-only trail and ledger).
FROM_MODELS = {"mynumber", "permissions", "scoping", "deadlines", "workflow"}

# Cosmic Ray replaces every binary operator by each of the eleven others and every
# comparison by each of seven: most of those are noise for these modules (no bit arithmetic
# anywhere) and would multiply the run time. Kept: the replacements a slip of the hand
# makes (+/-, */÷, each comparison by its neighbour and its opposite, in/not in, is/is not),
# and every other operator (and/or, not, True/False, numbers, break/continue, exceptions,
# decorators, loops that run zero times). Dropped: VariableReplacer/VariableInserter, which
# put random names in and would make two runs differ.
KEEP_BINARY = {"Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Div", "Mod_FloorDiv"}
KEEP_COMPARISON = {
    "Eq_NotEq",
    "NotEq_Eq",
    "Lt_LtE",
    "Lt_GtE",
    "LtE_Lt",
    "LtE_Gt",
    "Gt_GtE",
    "Gt_LtE",
    "GtE_Gt",
    "GtE_Lt",
    "In_NotIn",
    "NotIn_In",
    "Is_IsNot",
    "IsNot_Is",
}
KEEP_UNARY = {"Delete_Not", "Delete_USub", "USub_UAdd"}


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    """Our own programs (the venv's Cosmic Ray, git), with arguments built here."""
    return subprocess.run([str(a) for a in args], **kwargs)  # noqa: S603  # nosec B603


def excluded_operators() -> list[str]:
    names = _run(
        [BIN / "cosmic-ray", "operators"], capture_output=True, text=True, check=True
    ).stdout.split()
    excluded = []
    for name in names:
        short = name.removeprefix("core/")
        for prefix, keep in (
            ("ReplaceBinaryOperator_", KEEP_BINARY),
            ("ReplaceComparisonOperator_", KEEP_COMPARISON),
            ("ReplaceUnaryOperator_", KEEP_UNARY),
        ):
            if short.startswith(prefix) and short.removeprefix(prefix) not in keep:
                excluded.append("^" + re.escape(name) + "$")
        if short in ("VariableReplacer", "VariableInserter"):
            excluded.append("^" + re.escape(name) + "$")
    return excluded


def scratch_copy(dest: Path) -> None:
    """The tracked files as they are in the working tree (uncommitted edits included)."""
    if dest.exists():
        shutil.rmtree(dest)
    files = _run(
        [shutil.which("git"), "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file() or rel.startswith("tests/e2e/"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


# The test database is built once per run, by the baseline, into a file of the module's own
# (var/mutation/<module>/test.sqlite3) and kept as pristine.sqlite3; each mutant's tests start
# from a fresh copy of it (`--reuse-db`) instead of running every migration again. No
# migration imports a mutated module (they repeat what they need, as migrations must), so
# the schema and triggers are the same for every mutant. The settings module that points
# the tests there is written into the scratch copy only.
SETTINGS = "mutation_settings"


def write_settings(workdir: Path, src: Path) -> Path:
    testdb = workdir / "test.sqlite3"
    (src / f"{SETTINGS}.py").write_text(
        "from config.settings import *  # noqa: F403\n\n"
        f'DATABASES["default"]["TEST"] = {{"NAME": {str(testdb)!r}}}  # noqa: F405\n',
        encoding="utf-8",
    )
    return testdb


def pytest_args(name: str, tests: list[str]) -> str:
    # -x: the first failure kills the mutant; no randomised order, so that a mutant's
    # outcome does not depend on the order its tests happened to run in.
    # The schemathesis and playwright plugins serve only the API's schema tests and the
    # browser tests, which no module's list holds: loading them is a tenth of a run's start.
    args = (
        f"-x -q --no-header -p no:randomly -p no:schemathesis -p no:playwright "
        f"--ds={SETTINGS} --reuse-db"
    )
    if name in FROM_MODELS:
        args += " --nomigrations"
    return f"{args} {' '.join(tests)}"


def write_config(workdir: Path, name: str, module: str, tests: list[str], timeout: float) -> Path:
    # Each mutant runs through tools/mutation_runner.py: only the tests that execute the
    # function it changed (as traced by the baseline), on a fresh copy of the test database.
    # Its `python -m pytest`, run from the scratch copy, puts the copy first on sys.path,
    # ahead of the editable install of the working tree, so the mutated module is imported.
    runner = f"{BIN / 'python'} {ROOT / 'tools' / 'mutation_runner.py'} {workdir} {module}"
    command = f"{runner} {pytest_args(name, tests)}"
    excluded = ",\n  ".join(f'"{e}"' for e in excluded_operators())
    config = workdir / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [\n  {excluded}\n]\n",
        encoding="utf-8",
    )
    return config


def figures(session: Path) -> dict:
    db = sqlite3.connect(session)
    rows = db.execute(
        "SELECT r.test_outcome, r.worker_outcome, COUNT(*) FROM work_results r "
        "GROUP BY r.test_outcome, r.worker_outcome"
    ).fetchall()
    total = db.execute("SELECT COUNT(*) FROM work_items").fetchone()[0]
    db.close()
    killed = survived = incompetent = skipped = other = 0
    for test_outcome, worker_outcome, count in rows:
        if worker_outcome == "SKIPPED":
            skipped += count
        elif worker_outcome != "NORMAL":
            other += count
        elif test_outcome == "KILLED":
            killed += count
        elif test_outcome == "SURVIVED":
            survived += count
        else:
            incompetent += count
    done = killed + survived + incompetent
    return {
        "mutants": total - skipped,
        "done": done,
        "killed": killed,
        "survived": survived,
        "incompetent": incompetent,
        "errors": other,
        "pending": total - skipped - done - other,
    }


def survivors(workdir: Path, session: Path) -> str:
    db = sqlite3.connect(session)
    rows = db.execute(
        "SELECT m.operator_name, m.start_pos_row, r.diff FROM work_results r "
        "JOIN mutation_specs m ON m.job_id = r.job_id "
        "WHERE r.test_outcome = 'SURVIVED' AND r.worker_outcome = 'NORMAL' "
        "ORDER BY m.start_pos_row"
    ).fetchall()
    db.close()
    return "\n".join(f"## line {row} {op}\n{diff}" for op, row, diff in rows)


def report(name: str) -> str:
    workdir = OUT / name
    session = workdir / "session.sqlite"
    if not session.exists():
        return f"{name}: not run"
    db = sqlite3.connect(session)
    started = db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'work_results'"
    ).fetchone()[0]
    db.close()
    if not started:
        return f"{name}: baseline still running or failed, no mutant run"
    f = figures(session)
    competent = f["killed"] + f["survived"]
    score = 100.0 * f["killed"] / competent if competent else 0.0
    line = (
        f"{name}: {f['killed']} killed, {f['survived']} survived of {competent} run "
        f"({score:.1f}%), {f['incompetent']} incompetent, {f['pending']} not run"
    )
    (workdir / "survivors.txt").write_text(survivors(workdir, session), encoding="utf-8")
    (workdir / "score.txt").write_text(line + "\n", encoding="utf-8")
    return line


@contextlib.contextmanager
def fork_server(workdir: Path, src: Path, env: dict):
    """tools/mutation_forkserver.py for the module's mutants while Cosmic Ray runs them:
    each mutant's pytest is forked from it instead of importing pytest, Django and the rest
    again (tools/mutation_runner.py uses it when its socket is there)."""
    path = workdir / "forkserver.sock"
    path.unlink(missing_ok=True)
    server = subprocess.Popen(  # noqa: S603  # nosec B603  # our own program
        [str(BIN / "python"), str(ROOT / "tools" / "mutation_forkserver.py"), str(path)],
        cwd=src,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not path.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        yield
    finally:
        server.terminate()
        server.wait()
        path.unlink(missing_ok=True)


def run(name: str, timeout: float, *, again: bool = False) -> str:
    """Mutate the module and run its tests on each mutant. With `again`, only the mutants
    that survived the last run are tried once more, with the tests as they are now."""
    module, tests = MODULES[name]
    workdir = OUT / name
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "src"
    scratch_copy(src)
    testdb = write_settings(workdir, src)
    env = dict(os.environ)
    env.pop("CI", None)
    env["TADASU_MUTATION"] = "1"  # tests/conftest.py: Hypothesis derandomized, no database
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # The baseline: the tests once, unmutated, which also builds the test database and
    # records which lines of the module each test executes (tools/mutation_trace.py). Its
    # time (traced, so slower than a mutant's run) sets the time a mutant may take: a
    # mutant's tests that take longer are caught in a loop (Cosmic Ray counts a timeout as
    # killed), and a slow moment of a shared machine does not pass for a kill. It also
    # writes the bytecode every mutant's run reuses (tools/mutation_runner.py).
    for stale in (testdb, workdir / "pristine.sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{stale}{suffix}").unlink(missing_ok=True)
    started = time.monotonic()
    shutil.copyfile(src / module, workdir / "original.py")
    (src / "tools").mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "tools" / "mutation_trace.py", src / "tools" / "mutation_trace.py")
    trace_env = dict(
        env,
        MUTATION_TRACE_FILE=str(src / module),
        MUTATION_TRACE_OUT=str(workdir / "trace.json"),
    )
    baseline = _run(
        [
            BIN / "python",
            "-m",
            "pytest",
            "-p",
            "tools.mutation_trace",
            *pytest_args(name, tests).split(),
        ],
        cwd=src,
        env=trace_env,
        capture_output=True,
        text=True,
    )
    if baseline.returncode != 0:
        tail = (baseline.stdout + baseline.stderr)[-2000:]
        return f"{name}: the tests fail without any mutant, nothing run\n{tail}"
    timeout = max(timeout, 1.5 * (time.monotonic() - started))
    db = sqlite3.connect(testdb)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    shutil.copyfile(testdb, workdir / "pristine.sqlite3")
    config = write_config(workdir, name, module, tests, timeout)
    session = workdir / "session.sqlite"
    cr = str(BIN / "cosmic-ray")
    if again and session.exists():
        db = sqlite3.connect(session)
        with db:
            db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
        db.close()
    else:
        session.unlink(missing_ok=True)
        _run([cr, "init", config, session], cwd=src, env=env, check=True)
        _run([BIN / "cr-filter-operators", session, config], cwd=src, env=env, check=True)
    with fork_server(workdir, src, env):
        _run([cr, "exec", config, session], cwd=src, env=env, check=True)
    minutes = (time.monotonic() - started) / 60
    return report(name) + f" [{minutes:.1f} min]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)}")
    parser.add_argument("--report", action="store_true", help="only print the last figures")
    parser.add_argument(
        "--again", action="store_true", help="try only the last run's survivors once more"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="modules run at the same time (each has its own scratch copy and test database)",
    )
    args = parser.parse_args()
    names = args.modules or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown module(s): {', '.join(unknown)}; known: {', '.join(MODULES)}")
    if args.report:
        print("\n".join(report(n) for n in names))
        return 0
    started = time.monotonic()
    # Cosmic Ray runs one mutant at a time; each module's run is independent of the others
    # (its own directory, scratch copy and test database), so modules can run side by side,
    # one per core. The biggest first, so that the last to finish is a small one.
    order = sorted(names, key=lambda n: -(ROOT / MODULES[n][0]).stat().st_size)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = pool.map(lambda n: run(n, args.timeout, again=args.again), order)
        done = dict(zip(order, results, strict=True))
    print("\n".join(done[n] for n in names))
    print(f"[{(time.monotonic() - started) / 60:.1f} min in all, {args.jobs} at a time]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
