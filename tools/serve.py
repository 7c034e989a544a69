"""`make serve`: the production stack on this machine, in one command.

Migrates, collects the static files, then starts gunicorn (WEB_CONCURRENCY workers, default
4; config/gunicorn.conf.py) and TADASU_JOB_WORKERS job workers (default 2; `manage.py
run_jobs`), against DATABASE_URL (PostgreSQL) and REDIS_URL. Ctrl+C or SIGTERM stops them
all (each job worker finishes its current task first); if one of them stops by itself, the
others are stopped too and this exits non-zero, so that a supervisor (systemd) restarts the
whole stack. README, "Production", lists every variable.

Refused: SQLite (several processes, and workers on other machines, need a database server;
`make run` is the SQLite way) and a missing REDIS_URL (each process would keep its own cache,
and a job's progress, written by a worker, would not reach the page that shows it).
"""

import os
import signal
import subprocess  # nosec B404  # starts our own processes (gunicorn, run_jobs)
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def refuse(message: str) -> None:
    sys.exit(f"make serve: {message}")


def check_environment() -> None:
    database = os.environ.get("DATABASE_URL", "")
    if not database:
        refuse("set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/tadasu.")
    if database.startswith("sqlite"):
        refuse(
            "DATABASE_URL is SQLite. The production stack runs several processes (and job "
            "workers on other machines) against one database: use PostgreSQL. `make run` "
            "serves SQLite with jobs in process."
        )
    if not os.environ.get("REDIS_URL"):
        refuse("set REDIS_URL, e.g. redis://127.0.0.1:6379/0 (the cache every process shares).")
    if os.environ.get("DJANGO_DEBUG", "0").lower() in {"1", "true", "yes", "on"}:
        refuse("DJANGO_DEBUG is on: the production stack runs with it off.")


# manage.py defaults to DJANGO_DEBUG=1 (the developer's tool); every process here runs
# with it off: a worker in debug mode would also keep every query it ran in memory.
ENV = {**os.environ, "DJANGO_DEBUG": "0"}


def run(*args: str) -> None:
    subprocess.run(args, cwd=ROOT, env=ENV, check=True)  # noqa: S603  # nosec B603


def main() -> int:
    check_environment()
    python = sys.executable
    run(python, "manage.py", "migrate", "--noinput")
    run(python, "manage.py", "collectstatic", "--noinput", "-v0")
    workers = int(os.environ.get("TADASU_JOB_WORKERS", "2"))
    commands = [[str(BIN / "gunicorn"), "config.wsgi", "-c", "config/gunicorn.conf.py"]]
    commands += [[python, "manage.py", "run_jobs"] for _ in range(workers)]
    children = [
        subprocess.Popen(command, cwd=ROOT, env=ENV)  # noqa: S603  # nosec B603
        for command in commands
    ]
    print(
        f"Tadasu: gunicorn at {os.environ.get('TADASU_BIND', '127.0.0.1:8000')} "
        f"({os.environ.get('WEB_CONCURRENCY', '4')} workers), {workers} job worker(s). "
        "Ctrl+C stops them.",
        file=sys.stderr,
        flush=True,
    )
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    failed = not stopping
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
