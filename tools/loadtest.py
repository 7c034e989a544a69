"""make loadtest: the production stack under a day's work, with checks that nothing was lost.

    .venv/bin/python tools/loadtest.py [--duration 180] [--cases 10000] [--users 50] ...

What it does, from an empty database (docs/PERFORMANCE.md, "Load test"):

1. Drops and creates the database at --database-url (a throwaway one: never real data),
   migrates, and seeds --cases synthetic cases over --municipalities cities with the
   benchmark's generators (tools/bench_data.py), plus five staff per city (one manager).
2. Starts `make serve`'s stack (tools/serve.py: gunicorn with --web processes and --workers
   job workers) against that database and Redis (--redis-url, with a key prefix of this
   run's own), on a free loopback port, and waits for /healthz.
3. Runs --users simulated staff for --duration seconds, each in one city, 1–3 s between
   requests: the case list (with filters and pages), a search, a case page, the work
   queues, the dashboard (managers), 経過 entries, payments (the form's stale check: the
   ledger head it was drawn from) and stage changes. Meanwhile the demo city (北九州市)
   imports --import-cases cases (`import_cases FILE --background`) and another city issues
   --letters apology letters in bulk (`issue_document --all-parties --workers-only`): both
   as background jobs of the job workers.
4. Waits for both jobs, stops the stack (SIGTERM to its process group; nothing may be left),
   then checks: every payment and 経過 entry the server acknowledged is in the database
   exactly once and no other; every acknowledged stage change happened once; the import
   made exactly its cases; each letter was issued exactly once; `manage.py verify_audit`
   and `manage.py ledger_totals --check` pass.

Prints p50/p95/p99 per action (and per action outside the importing city), writes them as
CSV (--out), and exits 1 on any server error (5xx, a dropped connection, a time-out), any
failed check, or a p95 at or over --budget-ms for a page (a GET) outside the importing city.

Why a bounded asyncio script rather than locust: it runs the simulated staff as coroutines
in one process, which matters on a two-core machine shared with the servers; it keeps its
own record of every write the server acknowledged, which the checks afterwards need; and it
starts, seeds and stops the stack itself, so one command does the whole run. aiohttp is the
HTTP client (a dev dependency); the staff are in tools/loadtest_staff.py.
"""

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess  # nosec B404  # starts our own stack and manage.py commands
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))

# The simulated staff, beside this file (tools/ is the script's own folder on sys.path).
from loadtest_staff import PASSWORD, PAYMENT_MARK, TIMELINE_MARK, Stats, drive, log  # noqa: E402

HOME_CODE = "401005"  # the demo city: the import's cases are its own (remedies/demo_cases.json)
# The pages (GETs) whose p95 is held to the budget; writes (POSTs) are reported.
PAGES = (
    "case_list",
    "search",
    "case_page",
    "queues",
    "dashboard",
    "timeline_form",
    "payment_form",
    "case_page_after_write",
)


def p(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)] if ordered else float("nan")


# ---- set-up ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure(args, workdir: Path) -> dict[str, str]:
    """The environment of every process of the run: production settings, fresh keys."""
    from cryptography.fernet import Fernet

    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        # A prefix of this run's own: nothing of another run, or another user of this
        # Redis database, is read or cleared.
        "TADASU_CACHE_PREFIX": f"tadasu-loadtest-{os.getpid()}-{int(time.time())}",
        "TADASU_VAR_DIR": str(workdir),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain http on loopback
        "TADASU_FIELD_KEYS": Fernet.generate_key().decode(),
        "TADASU_AUDIT_KEYS": Fernet.generate_key().decode(),
        "WEB_CONCURRENCY": str(args.web),
        "TADASU_JOB_WORKERS": str(args.workers),
        "TADASU_BIND": f"127.0.0.1:{args.port}",
        "TADASU_LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def recreate_database(url: str) -> None:
    import psycopg

    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("loadtest: --database-url must be PostgreSQL (the production stack)")
    base, name = url.rsplit("/", 1)
    if not name or name in ("postgres", "template0", "template1", "test"):
        raise SystemExit(f"loadtest: refusing to drop the database {name!r}: give a throwaway one")
    admin = base.replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # nosec B608
        conn.execute(f'CREATE DATABASE "{name}"')  # nosec B608


@dataclass
class City:
    code: str
    pk: int
    users: list[tuple[str, bool]]  # (username, is_manager)
    view: list[str]  # references to read
    editable: list[tuple[str, int]]  # open cases: (reference, id of the person owed)
    hot: list[tuple[str, int]]  # a few of those, where clerks collide on purpose
    refer: list[str]  # cases in 照会前 (inquiry) that may be referred
    negotiate: list[str]  # cases awaiting negotiation whose agency has answered


@dataclass
class World:
    cities: list[City]
    home: City
    letters_city: City
    letters_user: str
    letter_cases: list[str]
    cases_before: dict[int, int]


def seed(args) -> World:
    import django

    django.setup()
    import bench_data
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scopes_disabled

    from cases.models import Case, Membership, Party, Role, Stage, User
    from remedies.demo import _organisations, _users
    from remedies.models import AgencyContact

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    bench_data.MUNICIPALITIES = args.municipalities
    rng = random.Random(19)  # noqa: S311  # synthetic data, not security
    with scopes_disabled():  # seeding is maintenance across every tenant
        _users(_organisations())
        world = bench_data.World()
        bench_data.seed(world, 0, args.cases)
        password = make_password(PASSWORD)
        per_city = max(1, args.users // len(world.cities))
        cities = []
        for city in world.cities:
            names = [(f"load-{city.code}-{n}", n == 1) for n in range(1, per_city + 1)]
            users = User.objects.bulk_create(
                [User(username=name, password=password, language="ja") for name, _m in names]
            )
            Membership.objects.bulk_create(
                [
                    Membership(user=u, role=Role.MANAGER if m else Role.STAFF, municipality=city)
                    for u, (_n, m) in zip(users, names, strict=True)
                ]
            )
            own = Case.objects.filter(municipality=city)
            refs = list(own.values_list("reference", flat=True))
            owed = dict(
                Party.objects.filter(case__municipality=city, label="C氏").values_list(
                    "case_id", "pk"
                )
            )
            open_cases = list(
                own.filter(stage__in=[Stage.AGENCY_CONTACT, Stage.NEGOTIATION, Stage.VISIT])
                .order_by("id")
                .values_list("pk", "reference")
            )
            inquiry = list(own.filter(stage=Stage.INQUIRY).values_list("reference", flat=True))
            answered = set(
                AgencyContact.objects.filter(
                    case__municipality=city, answered_on__isnull=False
                ).values_list("case_id", flat=True)
            )
            waiting = [
                ref
                for pk, ref in own.filter(stage=Stage.AGENCY_CONTACT).values_list("pk", "reference")
                if pk in answered
            ]
            editable = [(ref, owed[pk]) for pk, ref in open_cases]
            rng.shuffle(editable)
            rng.shuffle(inquiry)
            rng.shuffle(waiting)
            cities.append(
                City(
                    code=city.code,
                    pk=city.pk,
                    users=names,
                    view=rng.sample(refs, min(300, len(refs))),
                    editable=editable[:300],
                    hot=editable[:3],
                    refer=inquiry,
                    negotiate=waiting,
                )
            )
        home = next(c for c in cities if c.code == HOME_CODE)
        letters_city = next(c for c in cities if c is not home)
        # Closed cases: the letters never meet a stage change or a payment of the load.
        closed = list(
            Case.objects.filter(municipality_id=letters_city.pk, stage=Stage.CLOSED)
            .order_by("id")
            .values_list("reference", flat=True)[: (args.letters + 1) // 2]
        )
        before = dict(
            Case.objects.values_list("municipality_id").annotate(n=models_count()).order_by()
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as an administrator would after a bulk load
    connection.close()
    took = time.monotonic() - started
    log(f"seeded {args.cases:,} cases in {len(cities)} cities in {took:.0f} s")
    return World(
        cities=cities,
        home=home,
        letters_city=letters_city,
        letters_user=f"staff-{letters_city.code}",
        letter_cases=closed,
        cases_before=before,
    )


def models_count():
    from django.db.models import Count

    return Count("id")


def write_import_file(count: int, path: Path) -> None:
    """A case file of `count` copies of the demo's cases (the benchmark's import)."""
    from remedies.demo import demo_case_copies

    head, copies = demo_case_copies(count)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [')
        for i, case in enumerate(copies):
            out.write(("," if i else "") + json.dumps(case, ensure_ascii=False))
        out.write("]}")


# ---- the stack ---------------------------------------------------------------------------


class Stack:
    """tools/serve.py in a process group of its own, so that stopping it leaves nothing."""

    def __init__(self, env: dict[str, str], logfile: Path, command: list[str] | None = None):
        self.env = env
        self.logfile = logfile
        self.command = command or [sys.executable, str(BASE / "tools" / "serve.py")]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        out = self.logfile.open("wb")
        self.process = subprocess.Popen(  # noqa: S603  # nosec B603
            self.command,
            cwd=BASE,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> list[str]:
        """SIGTERM to serve.py (it stops gunicorn and the workers, each worker finishing
        its task), then SIGKILL to whatever of the group is left. Returns problems."""
        if self.process is None:
            return []
        problems = []
        pgid = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                problems.append("the stack did not stop within 90 s of SIGTERM")
        for _ in range(20):
            if not group_alive(pgid):
                break
            time.sleep(0.5)
        else:
            problems.append("processes of the stack were left after it stopped: killed")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process = None
        return problems


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def manage(
    env: dict[str, str], *args: str, timeout: float = 600, nice: int = 0
) -> subprocess.CompletedProcess:
    """`manage.py args` in the run's environment. `nice` lowers the command's priority: the
    run's own commands that queue the background jobs during the load are the load
    generator's side (an administrator's terminal, elsewhere in a real deployment), not the
    stack under test, and should not take the servers' processor time on this machine."""
    command = [sys.executable, str(BASE / "manage.py"), *args]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    return subprocess.run(  # noqa: S603  # nosec B603
        command,
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---- the run -----------------------------------------------------------------------------


def job_id(output: str) -> int:
    found = re.search(r"Job (\d+)", output)
    if not found:
        raise SystemExit(f"loadtest: no job number in {output!r}")
    return int(found.group(1))


def wait_for_jobs(ids: list[int], timeout: float) -> dict[int, dict]:
    from django.db import connection
    from django_scopes import scopes_disabled

    from jobs.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with scopes_disabled():
            jobs = {
                j["pk"]: j
                for j in Job.objects.filter(pk__in=ids).values(
                    "pk",
                    "kind",
                    "state",
                    "done",
                    "total",
                    "summary",
                    "error",
                    "details",
                    "created_at",
                    "started_at",
                    "finished_at",
                )
            }
        if all(j["state"] in ("done", "failed") for j in jobs.values()) or (
            time.monotonic() > deadline
        ):
            connection.close()
            return jobs
        time.sleep(2)


def check_results(
    args, world: World, stats: Stats, jobs: dict[int, dict], ids: dict[str, int]
) -> list[str]:
    """Nothing lost, nothing doubled. Returns the failures."""
    from collections import Counter

    from django.db import connection
    from django_scopes import scopes_disabled

    from cases.models import Case, TimelineEvent
    from jobs.models import JobItem
    from remedies.models import Document, DocumentKind, EntryKind, LedgerEntry

    failed = []

    def need(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failed.append(what)

    with scopes_disabled():
        posted = Counter(
            LedgerEntry.objects.filter(
                kind=EntryKind.PAYMENT, note__startswith=PAYMENT_MARK
            ).values_list("note", flat=True)
        )
        acked = Counter(stats.payments)
        need(
            posted == acked and max(posted.values(), default=1) == 1,
            f"payments: {len(acked)} acknowledged, {sum(posted.values())} in the ledger "
            f"({len(set(posted) - set(acked))} never acknowledged, "
            f"{len(set(acked) - set(posted))} lost, "
            f"{sum(n - 1 for n in posted.values() if n > 1)} doubled; "
            f"{stats.stale} stale forms refused with 409)",
        )
        written = Counter(
            TimelineEvent.objects.filter(text__startswith=TIMELINE_MARK).values_list(
                "text", flat=True
            )
        )
        need(
            written == Counter(stats.timeline),
            f"経過 entries: {len(stats.timeline)} acknowledged, {sum(written.values())} written",
        )
        moved = TimelineEvent.objects.filter(
            action__in=["stage.refer", "stage.negotiate"],
            created_by__username__startswith="load-",
        ).values_list("case__reference", "action")
        moved = Counter((ref, action.split(".")[1]) for ref, action in moved)
        need(
            moved == Counter(stats.stages),
            f"stage changes: {len(stats.stages)} acknowledged, {sum(moved.values())} recorded",
        )
        stages = dict(
            Case.objects.filter(reference__in=[r for r, _s in stats.stages]).values_list(
                "reference", "stage"
            )
        )
        target = {"refer": "agency_contact", "negotiate": "negotiation"}
        need(
            all(stages[r] == target[s] for r, s in stats.stages),
            "every case moved stands at its new stage",
        )
        if "import" in ids:
            job = jobs[ids["import"]]
            need(
                job["state"] == "done",
                f"import job: {job['state']} {job['summary'] or job['error']}",
            )
        after = Case.objects.filter(municipality_id=world.home.pk).count()
        grown = after - world.cases_before.get(world.home.pk, 0)
        need(
            grown == args.import_cases,
            f"import: {grown:,} cases made, {args.import_cases:,} in the file",
        )
        others = {
            pk: n
            for pk, n in Case.objects.values_list("municipality_id").annotate(n=models_count())
            if pk != world.home.pk
        }
        need(
            all(
                others.get(pk, 0) == n
                for pk, n in world.cases_before.items()
                if pk != world.home.pk
            ),
            "no case made or lost in another city",
        )
        if "letters" in ids:
            job = jobs[ids["letters"]]
            need(
                job["state"] == "done" and not job["details"],
                f"letters job: {job['state']} {job['summary']}",
            )
        items = JobItem.objects.filter(job_id=ids.get("letters"))
        made = list(items.exclude(result_id=None).values_list("result_id", flat=True))
        documents = Document.objects.filter(
            case__municipality_id=world.letters_city.pk, kind=DocumentKind.APOLOGY
        )
        per_person = Counter(documents.values_list("case_id", "party_id"))
        numbers = Counter(documents.values_list("number", flat=True))
        need(
            len(made) == len(set(made)) == documents.count() == args.letters
            and max(per_person.values(), default=1) == 1
            and max(numbers.values(), default=1) == 1,
            f"letters: {args.letters} asked, {len(made)} job items, {documents.count()} "
            f"documents, {len(per_person)} people, {len(numbers)} numbers",
        )
    connection.close()
    return failed


def report(args, stats: Stats, seconds: float, out: Path) -> list[str]:
    """Prints and writes the table; returns the pages over budget."""
    over = []
    actions = sorted({a for a, _h in stats.times})
    rows = []
    for action in actions:
        for scope, homes in (("all", (True, False)), ("others", (False,)), ("importing", (True,))):
            times = [t for h in homes for t in stats.times.get((action, h), [])]
            if not times:
                continue
            rows.append(
                {
                    "action": action,
                    "cities": scope,
                    "requests": len(times),
                    "p50_ms": round(p(times, 0.5), 1),
                    "p95_ms": round(p(times, 0.95), 1),
                    "p99_ms": round(p(times, 0.99), 1),
                    "max_ms": round(max(times), 1),
                }
            )
            budgeted = args.budget_ms > 0 and action in PAGES
            if scope == "others" and budgeted and p(times, 0.95) >= args.budget_ms:
                over.append(f"{action}: p95 {p(times, 0.95):.0f} ms outside the importing city")
    with (out / "stats.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n{'action':<22} {'cities':<10} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for r in rows:
        print(
            f"{r['action']:<22} {r['cities']:<10} {r['requests']:>6} {r['p50_ms']:>8.1f} "
            f"{r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}"
        )
    total = sum(len(t) for t in stats.times.values())
    print(f"\n{total:,} timed requests in {seconds:.0f} s: {total / seconds:.1f} a second")
    codes = defaultdict(int)
    for (_a, status), n in stats.status.items():
        codes[status] += n
    print("statuses: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(codes.items())))
    for what, n in sorted(stats.refused.items()):
        print(f"  {what}: {n}")
    busy = sum(stats.busy.values())
    print(
        f"writes in the importing city refused as busy (503, nothing saved; "
        f"BusyDatabaseMiddleware): {busy}"
        + (
            " (" + ", ".join(f"{a}: {n}" for a, n in sorted(stats.busy.items())) + ")"
            if busy
            else ""
        )
    )
    print(f"server errors (5xx, dropped connections, time-outs): {len(stats.errors)}")
    for error in stats.errors[:20]:
        print(f"  {error}")
    return over


def server_times(logfile: Path, out: Path) -> None:
    """The server's own duration per view (its JSON request log): the time spent inside
    Django, apart from waiting for a free gunicorn worker."""
    per: dict[str, list[float]] = defaultdict(list)
    with logfile.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if "duration_ms" not in entry or "path" not in entry:
                continue
            path = re.sub(r"/cases/[^/]+/", "/cases/<ref>/", entry["path"])
            per[f"{entry.get('method', '')} {path}"].append(float(entry["duration_ms"]))
    if not per:
        return
    print("\nserver side (inside Django), by view:")
    with (out / "server.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["view", "requests", "p50_ms", "p95_ms", "p99_ms"])
        for view, times in sorted(per.items(), key=lambda kv: -len(kv[1])):
            row = [view, len(times), *(round(p(times, q), 1) for q in (0.5, 0.95, 0.99))]
            writer.writerow(row)
            if len(times) >= 5:
                print(f"  {view:<45} {len(times):>6} {row[2]:>8} {row[3]:>8} {row[4]:>8}")


def queries_per_page(world: World) -> None:
    """Each page of the mix once more, after the run, in this process (Django's test client,
    a manager of another city than the importing one): the number of queries, as served
    (warm) and rendered afresh (the page cache emptied by a new key prefix)."""
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_scopes import scopes_disabled

    from cases.models import User

    city = world.letters_city
    with scopes_disabled():
        manager = User.objects.get(username=next(u for u, m in city.users if m))
    client = Client()
    client.force_login(manager)
    ref, _party = city.editable[0]
    pages = {
        "case_list": "/cases/",
        "case_page": f"/cases/{ref}/",
        "queues": "/queues/",
        "dashboard": "/dashboard/",
        "timeline_form": f"/cases/{ref}/timeline/new/",
        "payment_form": f"/cases/{ref}/ledger/payment/new/",
    }
    logging.getLogger("tadasu.request").disabled = True  # its lines are for the servers
    print("\nqueries per page (one request after the run; afresh / as served):")
    cache = caches["default"]
    prefix = cache.key_prefix
    for name, path in pages.items():
        counts = []
        cache.key_prefix = f"{prefix}-{name}-afresh"  # no entry has it: rendered from scratch
        for _served in range(2):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            counts.append(f"{len(queries)}" if response.status_code == 200 else "-")
        print(f"  {name:<16} {counts[0]:>4} / {counts[1]:>4}")
    cache.key_prefix = prefix
    connection.close()


def uptime() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LOADTEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tadasu_loadtest"
        ),
        help="a throwaway PostgreSQL database: dropped and created again",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--duration", type=float, default=180, help="seconds of load")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--municipalities", type=int, default=10)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--import-cases", type=int, default=2_000)
    parser.add_argument("--letters", type=int, default=500, help="an even number")
    parser.add_argument("--web", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--workers", type=int, default=2, help="job workers")
    parser.add_argument(
        "--budget-ms", type=float, default=300, help="p95 of every page; 0: report only"
    )
    parser.add_argument("--jobs-after", type=float, default=10, help="seconds into the load")
    parser.add_argument("--job-timeout", type=float, default=900, help="seconds to wait")
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", default=str(BASE / "var" / "loadtest"))
    args = parser.parse_args()
    args.port = args.port or free_port()
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tadasu-loadtest-"))
    env = configure(args, workdir)
    print(
        f"# tadasu loadtest {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"cases={args.cases} "
        f"cities={args.municipalities} users={args.users} duration={args.duration:.0f}s "
        f"web={args.web} workers={args.workers} import={args.import_cases} "
        f"letters={args.letters} budget={args.budget_ms:.0f}ms",
        flush=True,
    )
    print(f"# load average before: {uptime()}", flush=True)
    stack = Stack(env, out / "serve.log")
    failed: list[str] = []

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        recreate_database(args.database_url)
        world = seed(args)
        import_file = workdir / "import.json"
        write_import_file(args.import_cases, import_file)
        stack.start()
        wait_healthy(args, stack)
        stats = Stats()
        ids: dict[str, int] = {}  # "import", "letters": the job's number

        def background() -> None:
            if args.import_cases:
                done = manage(
                    env, "import_cases", str(import_file), "--background", timeout=120, nice=10
                )
                if done.returncode:
                    raise SystemExit(f"loadtest: import_cases failed: {done.stderr}")
                ids["import"] = job_id(done.stdout)
            if not args.letters:
                return
            command = ["issue_document", "apology", "--all-parties", "--no-wait"]
            command += ["--as", world.letters_user, "--out", str(workdir / "letters")]
            for ref in world.letter_cases:
                command += ["--case", ref]
            done = manage(env, *command, timeout=120, nice=10)
            if done.returncode:
                raise SystemExit(f"loadtest: issue_document failed: {done.stderr}")
            ids["letters"] = job_id(done.stdout)
            log(f"jobs queued: {ids}")

        seconds = asyncio.run(drive(args, world, stats, background))
        log("load over; waiting for the jobs")
        jobs = wait_for_jobs(list(ids.values()), args.job_timeout)
        for pk in ids.values():
            j = jobs[pk]
            took = j["finished_at"] and (j["finished_at"] - j["created_at"]).total_seconds()
            print(
                f"job {pk} {j['kind']}: {j['state']}, {j['done']}/{j['total']}"
                + (f", {took:.0f} s from queued to finished" if took is not None else "")
            )
        print(f"# load average after: {uptime()}", flush=True)
        failed += stack.stop()
        over = report(args, stats, seconds, out)
        server_times(out / "serve.log", out)
        print()
        failed += check_results(args, world, stats, jobs, ids)
        queries_per_page(world)
        for command in (["verify_audit"], ["ledger_totals", "--check"]):
            done = manage(env, *command)
            ok = done.returncode == 0
            print(("ok   " if ok else "FAIL ") + f"manage.py {' '.join(command)}")
            if not ok:
                print(done.stdout[-2000:] + done.stderr[-2000:])
                failed.append(f"manage.py {' '.join(command)}")
        if stats.errors:
            failed.append(f"{len(stats.errors)} server errors")
        for what in over:
            print(f"BUDGET FAILED: {what} (budget {args.budget_ms:.0f} ms)")
        failed += over
    except KeyboardInterrupt:
        failed.append("interrupted")
    finally:
        failed += stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        forget_cache(args.redis_url, env["TADASU_CACHE_PREFIX"])
    print(f"\nresults in {out}")
    if failed:
        print("LOAD TEST FAILED: " + "; ".join(failed))
        return 1
    budget = "every page within its budget" if args.budget_ms else "no latency budget"
    print(f"load test passed: no server error, nothing lost or doubled, {budget}")
    return 0


def forget_cache(url: str, prefix: str) -> None:
    """The run's own cache entries (Django's keys are "<prefix>:<version>:<key>"; the
    pages counted afresh after the run used "<prefix>-<page>-afresh" as their prefix)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        for keys in batched(client.scan_iter(match=f"{prefix}*", count=1000), 500):
            client.delete(*keys)
    except redis.RedisError as error:
        log(f"the run's cache entries were not removed: {type(error).__name__}")


def batched(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def wait_healthy(args, stack: Stack, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{args.port}/healthz"
    while time.monotonic() < deadline:
        if not stack.running():
            raise SystemExit(f"loadtest: the stack stopped while starting (see {stack.logfile})")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310
                health = json.loads(response.read())
            if health.get("workers", 0) >= args.workers:
                log(f"stack up: {health}")
                return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"loadtest: /healthz did not answer 200 within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
