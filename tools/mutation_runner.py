"""The test command of one mutant in `make mutation` (tools/mutation.py), run by Cosmic Ray
from the scratch copy with the module already mutated on disk:

    python tools/mutation_runner.py WORKDIR MODULE PYTEST-ARGS...

It finds the lines the mutant changed (the module against WORKDIR/original.py) and the
innermost function holding them, and runs only the tests that executed that function in
the baseline (WORKDIR/trace.json, written by tools/mutation_trace.py). A test that never
runs a function cannot tell a mutant of it from the original, so leaving it out changes no
outcome, only the time. A change outside any function body (module constants, signatures,
decorators: run at import) runs every test; a change in a function no test executes is a
survivor without running anything, unless it ran at start-up (before the first test:
an app's `ready()`), which every test relies on: then every test runs. Each run starts from
a fresh copy of the test database the baseline built (WORKDIR/pristine.sqlite3), and reuses
the bytecode of every module but the mutated one. When the module's fork server is
running (tools/mutation_forkserver.py), the run is forked from it rather than started as a
new interpreter.
"""

import ast
import difflib
import json
import os
import shutil
import socket
import sys
from pathlib import Path

STARTUP = "<start-up>"  # the key tools/mutation_trace.py records start-up lines under


def changed_lines(original: list[str], mutated: list[str]) -> set[int]:
    """Line numbers (1-based, in the original) the mutant replaced, removed or inserted at."""
    lines = set()
    matcher = difflib.SequenceMatcher(a=original, b=mutated, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


def function_bodies(source: str) -> list[tuple[int, int]]:
    """(first, last) line of the body of every function, method and nested function."""
    return [
        (node.body[0].lineno, node.end_lineno)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def select(workdir: Path, module: str) -> list[str] | None:
    """The node ids to run, in the baseline's order; None for every test."""
    original = (workdir / "original.py").read_text(encoding="utf-8")
    mutated = Path(module).read_text(encoding="utf-8")
    changed = changed_lines(original.splitlines(), mutated.splitlines())
    bodies = function_bodies(original)
    ranges = []
    for line in changed:
        holding = [b for b in bodies if b[0] <= line <= b[1]]
        if not holding:
            return None
        ranges.append(min(holding, key=lambda b: b[1] - b[0]))
    if not ranges:
        return None
    trace = json.loads((workdir / "trace.json").read_text(encoding="utf-8"))
    startup = trace.pop(STARTUP, [])
    if any(first <= line <= last for line in startup for first, last in ranges):
        return None  # run at start-up: every test relies on it
    return [
        nodeid
        for nodeid, lines in trace.items()
        if any(first <= line <= last for line in lines for first, last in ranges)
    ]


def main() -> None:
    workdir, module, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    selected = select(workdir, module)
    if selected is not None:
        if not selected:
            print("no test executes the changed function: survived without a run")
            sys.exit(0)
        args = [a for a in args if not a.startswith("tests/")] + selected
    testdb = workdir / "test.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(f"{testdb}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(workdir / "pristine.sqlite3", testdb)
    # Cosmic Ray forbids bytecode files so that a mutant is never run from the last one's
    # cached bytecode. Without any, every run compiles Django, the project and the tests
    # again and rewrites the asserts of every pytest plugin: two fifths of a run's time.
    # Only the mutated module's own bytecode can be stale, so only it is removed; the rest
    # is written once and read by every later mutant.
    source = Path(module)
    for cached in (source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"):
        cached.unlink()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    server = workdir / "forkserver.sock"
    if server.exists():  # tools/mutation_forkserver.py, started by tools/mutation.py
        sys.exit(forked(server, args, env))
    os.execve(sys.executable, [sys.executable, "-m", "pytest", *args], env)  # noqa: S606  # nosec B606


def forked(server: Path, args: list[str], env: dict) -> int:
    """The run forked by the module's fork server, with this process's standard input,
    output and error; its exit status. If this process is killed (Cosmic Ray's timeout),
    the server kills the run."""
    payload = json.dumps({"args": args, "cwd": os.getcwd(), "env": env}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(server))
        socket.send_fds(conn, [len(payload).to_bytes(8, "big")], [0, 1, 2])
        conn.sendall(payload)
        answer = b""
        while chunk := conn.recv(64):
            answer += chunk
    status = int(answer or b"1")
    return status if 0 <= status < 256 else 1


if __name__ == "__main__":
    main()
