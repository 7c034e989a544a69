"""The fork server of `make mutation` (tools/mutation.py): pytest, Django, Hypothesis and the
other libraries every mutant's test run imports, imported once per module's run, and each
mutant's pytest forked from this process instead of started as a new interpreter that
imports them all again (about 2.4 s of CPU a mutant, close to half of a run).

    python tools/mutation_forkserver.py SOCKET

Only third-party libraries are imported here, never Tadasu's own modules (nor Django's
settings): the forked run imports those from the scratch copy, the mutated module included,
exactly as a new `python -m pytest` started in that folder would. A request
(tools/mutation_runner.py) sends the run's arguments, folder and environment, and its
standard input, output and error (SCM_RIGHTS); the answer is the run's exit status. When
the runner goes away (Cosmic Ray kills it at its timeout) its run is killed with it, so no
run outlives its mutant.
"""

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import sys

# What a test run imports before it reaches Tadasu's code. An import that needs Django's
# settings (or fails for any other reason) is simply left to the forked run.
PRELOAD = (
    "pytest",
    "_pytest.assertion.rewrite",
    "_pytest.fixtures",
    "_pytest.python",
    "_pytest.runner",
    "_pytest.terminal",
    "pytest_django.plugin",
    "pytest_env.plugin",
    "hypothesis",
    "hypothesis.strategies",
    "hypothesis.stateful",
    "_hypothesis_pytestplugin",
    "faker",
    "factory",
    "factory.django",
    "django",
    "django.db.models",
    "django.forms",
    "django.template",
    "django.test",
    "django_fsm",
    "django_scopes",
    "rest_framework",
    "cryptography.fernet",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "reportlab.pdfgen.canvas",
    "reportlab.platypus",
    "jpholiday",
)


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def run_child(request: dict, fds: list[int]) -> None:
    """In the forked process: become the runner's `python -m pytest`, then exit."""
    os.setpgid(0, 0)  # its own group: killed with everything it starts
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
    for fd in fds:
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # `python -m pytest` puts the folder it starts in first on the path: the scratch copy,
    # ahead of the editable install of the working tree.
    sys.path[0] = request["cwd"]
    sys.argv = ["pytest", *request["args"]]
    import pytest

    code = 1
    try:
        code = int(pytest.main(request["args"]))
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def wait(pid: int, conn: socket.socket) -> int:
    """The run's exit status; its whole group killed if the runner goes away first."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        readable, _, _ = select.select([conn], [], [], 0.05)
        if readable and not conn.recv(1):  # the runner is gone (killed at its timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL


def serve(path: str) -> None:
    preload()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = listener.accept()
        with conn:
            header, fds, _, _ = socket.recv_fds(conn, 8, 3)
            size, message = int.from_bytes(header, "big"), b""
            while len(message) < size:
                chunk = conn.recv(size - len(message))
                if not chunk:
                    break
                message += chunk
            if len(header) != 8 or len(fds) != 3 or len(message) != size:
                for fd in fds:
                    os.close(fd)
                continue
            request = json.loads(message)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                run_child(request, fds)
            for fd in fds:
                os.close(fd)
            status = wait(pid, conn)
            with contextlib.suppress(OSError):
                conn.sendall(str(status).encode())


if __name__ == "__main__":
    serve(sys.argv[1])
