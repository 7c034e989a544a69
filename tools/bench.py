"""make bench: Tadasu at national scale, measured against budgets (a benchmark, not a test).

    .venv/bin/python tools/bench.py [--sizes 1000,10000,100000] [--database-url URL]

Builds a throwaway database (SQLite in a temporary folder by default; a PostgreSQL URL is
dropped and created again, so never point it at real data), loads the demo organisations,
then grows synthetic data (tools/bench_data.py) to each size in turn and measures, in this
one process, with Django's test client and a logged-in manager: median and p95 of at least
20 requests after warm-up. One line per measurement:

    name N median_ms p95_ms queries ratio_to_floor

where a page's ratio is to the floor requested in alternation with it (the same load on a
machine others share), then the peak RSS. At the largest size the budgets of issues 7 and
19 are checked; the run exits non-zero and names what failed (`--pages-only`: the pages'
budgets only). `--keep DIR` keeps the database and reuses it in a later run.
docs/PERFORMANCE.md records results.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess  # nosec B404  # runs manage.py import_cases, as an administrator would
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))

RUNS = 20
WARMUP = 3


@dataclass
class Result:
    name: str
    n: int
    median: float
    p95: float
    queries: int | None
    floor: float | None

    @property
    def ratio(self) -> float | None:
        return self.median / self.floor if self.floor else None

    def line(self) -> str:
        ratio = f"{self.ratio:.2f}" if self.ratio is not None else "-"
        queries = self.queries if self.queries is not None else "-"
        return f"{self.name} {self.n} {self.median:.1f} {self.p95:.1f} {queries} {ratio}"


def _configure(database_url: str | None, workdir: Path, *, keep: bool = False) -> str:
    """Settings for a throwaway database in `workdir`. With `keep`, the keys are written
    to (and read back from) `workdir/bench-keys.json`, so that a later run with the same
    `--keep` folder reads the encrypted rows of the database it left (and a PostgreSQL
    database is not dropped)."""
    from cryptography.fernet import Fernet

    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    keyfile = workdir / "bench-keys.json"
    reused = keep and keyfile.exists()  # a database this folder's earlier run left
    if reused:
        keys = json.loads(keyfile.read_text())
    else:
        keys = {
            "DJANGO_SECRET_KEY": Fernet.generate_key().decode() * 2,
            "TADASU_FIELD_KEYS": Fernet.generate_key().decode(),
            "TADASU_AUDIT_KEYS": Fernet.generate_key().decode(),
        }
        if keep:
            keyfile.write_text(json.dumps(keys))
            keyfile.chmod(0o600)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "TADASU_VAR_DIR": str(workdir),
            "DJANGO_DEBUG": "0",  # production settings: no debug overhead, no query log
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **keys,
        }
    )
    if url.startswith(("postgres://", "postgresql://")) and not reused:
        _recreate_postgres(url)
    return url


def _recreate_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop the database {name!r}: give a throwaway one")
    admin = base.replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # nosec B608
        conn.execute(f'CREATE DATABASE "{name}"')  # nosec B608


def _timed(fn: Callable[[], object], runs: int = RUNS, warmup: int = WARMUP) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


class Bench:
    def __init__(self, args):
        import django

        django.setup()
        import logging

        from django.conf import settings
        from django.core.management import call_command

        # Every request is logged as production logs it (a JSON line: part of the floor),
        # into a file beside the database instead of between the results.
        self.log = open(Path(settings.VAR_DIR) / "requests.log", "a", encoding="utf-8")  # noqa: SIM115
        for handler in logging.getLogger("tadasu").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(self.log)
        from django.test.utils import override_settings

        call_command("migrate", verbosity=0)
        # As production serves them (DJANGO_DEBUG=0): hashed names from the manifest.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.overrides = override_settings(ROOT_URLCONF="bench_urls")
        self.overrides.enable()
        self.args = args
        self.results: list[Result] = []
        self.floor: float | None = None
        self.import_rss: float | None = None

    # ---- helpers ---------------------------------------------------------------------

    def _queries(self, fn) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            fn()
        return len(queries)

    def record(
        self, name: str, n: int, fn, *, runs: int = RUNS, warmup: int = WARMUP, paired=None
    ) -> Result:
        """Time `fn`. With `paired` (the floor's request), each run requests the floor and
        then the page, and the ratio is to the floor's median of these same runs: on a
        machine others share, both then meet the same load."""
        # Queries are counted on a warm request: the first after a long seeding may also
        # refresh the session, which is not the page's own cost.
        for _ in range(warmup):
            fn()
        queries = self._queries(fn) if warmup else None
        floor = self.floor
        if paired is None:
            times = _timed(fn, runs=runs, warmup=0)
        else:
            floors, times = [], []
            for _ in range(runs):
                floors += _timed(paired, runs=1, warmup=0)
                times += _timed(fn, runs=1, warmup=0)
            floor = statistics.median(floors)
        result = Result(name, n, statistics.median(times), _p95(times), queries, floor)
        self.results.append(result)
        print(result.line(), flush=True)
        return result

    def get(self, path: str, *, status: int = 200) -> Callable[[], object]:
        def fetch():
            response = self.client.get(path)
            if response.status_code != status:
                raise SystemExit(f"{path} answered {response.status_code}, expected {status}")
            if getattr(response, "streaming", False):
                for _chunk in response.streaming_content:
                    pass
            return response

        return fetch

    # ---- the run ---------------------------------------------------------------------

    def setup(self) -> None:
        import bench_data
        from django.test import Client
        from django_scopes import scopes_disabled

        from remedies.demo import _organisations, _users

        with scopes_disabled():  # seeding is maintenance across every tenant
            self.seeded = bench_data.seeded() if self.args.keep else 0
            if self.seeded:  # a database left by an earlier run with the same --keep
                self.world = bench_data.World.load()
                self.big = bench_data.big_case_of(self.world)
                print(f"# reusing {self.seeded:,} cases from {self.args.keep}", flush=True)
            else:
                _users(_organisations())
                self.world = bench_data.World()
                self.big = bench_data.big_case(self.world)
        self.client = Client()
        self.client.force_login(self.world.manager)

    def grow(self, size: int) -> None:
        import bench_data
        from django.core.cache import cache
        from django.db import connection
        from django_scopes import scopes_disabled

        if size < self.seeded:
            raise SystemExit(
                f"the kept database holds {self.seeded:,} cases: it cannot be measured at "
                f"{size:,} (use another --keep folder)"
            )
        with scopes_disabled():
            bench_data.seed(self.world, self.seeded, size)
        self.seeded = size
        # After a bulk load, as a database administrator would (autovacuum would get there
        # later): fresh statistics, so the planner knows the tables' new sizes; and on
        # PostgreSQL the visibility map, which a database in use has (autovacuum keeps it)
        # and a freshly loaded one lacks: without it every index-only scan reads each row's
        # page as well (the work queues' counts read some 16,000 pages at 100,000 cases).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        # Seeding bypasses the services, so no audit entry moves the cache versions.
        cache.clear()

    def measure(self, n: int) -> None:
        from django.core.cache import cache

        # Signed in afresh: seeding 100,000 cases may outlast the session's idle timeout.
        self.client.force_login(self.world.manager)
        floor_page = self.get("/bench/floor/")
        floor = self.record("floor", n, floor_page)
        self.floor = floor.median
        floor.floor = floor.median

        def scratch(fetch):
            def run():
                cache.clear()
                return fetch()

            return run

        # "_scratch": rendered afresh (the cache emptied first); without: as served.
        self.record("case_list_scratch", n, scratch(self.get("/cases/")), paired=floor_page)
        self.record("case_list", n, self.get("/cases/"), paired=floor_page)
        # さとう: hiragana finds 佐藤 through the normalised key
        # (posted as the filter form does: the list's URL carries a token, never the words)
        searched = self.get(
            self.client.post("/cases/", {"stage": "inquiry", "q": "さとう"})["Location"]
        )
        self.record("case_list_filtered_scratch", n, scratch(searched), paired=floor_page)
        self.record("case_list_filtered", n, searched, paired=floor_page)
        page = self.get(f"/cases/{self.big.reference}/")
        self.record("case_page_scratch", n, scratch(page), paired=floor_page)
        self.record("case_page", n, page, paired=floor_page)
        served = self.get("/dashboard/")
        self.record("dashboard_scratch", n, scratch(served), paired=floor_page)
        self.record("dashboard", n, served, paired=floor_page)
        self.record("queues", n, self.get("/queues/"), paired=floor_page)

    def heavy(self, n: int) -> None:
        """The costs measured once, at the largest size."""
        self.record("csv_export_10k", n, self.get("/cases/?kind=cashless&format=csv"))
        self._letters(n)
        if self.args.import_cases:
            self._import(n)

    def _letters(self, n: int) -> None:
        from django.core.management import call_command

        from cases.models import Case
        from cases.scoping import tenant_scope
        from remedies.documents import services as documents
        from remedies.models import DocumentKind

        staff = self.world.home_staff
        with tenant_scope(staff):
            case = Case.objects.filter(municipality=self.world.home).order_by("id").first()
            party = case.parties.order_by("label").first()

            def one_letter():
                documents.document_issue(
                    kind=DocumentKind.APOLOGY, by=staff, case=case, party=party, dated=date.today()
                )

            self.record("letter", n, one_letter)
            refs = list(
                Case.objects.filter(municipality=self.world.home)
                .order_by("id")
                .values_list("reference", flat=True)[1:501]
            )
        args = ["apology", "--all-parties", "--as", staff.username]
        for ref in refs:
            args += ["--case", ref]
        out = Path(tempfile.mkdtemp(prefix="tadasu-letters-"))
        count = 2 * len(refs)

        def bulk():
            with open(os.devnull, "w") as quiet:  # no progress bar in the results
                call_command("issue_document", *args, "--out", str(out), stdout=quiet, stderr=quiet)

        self.record(f"letters_{count}", n, bulk, runs=1, warmup=0)

    def _import(self, n: int) -> None:
        """Import a case file of `--import-cases` cases as an administrator does: the
        import_cases command, in its own process (its peak RSS is reported apart)."""
        from remedies.demo import demo_case_copies

        head, copies = demo_case_copies(self.args.import_cases)
        # Written case by case: the file is large, the benchmark's own memory must not be.
        path = Path(tempfile.mkdtemp(prefix="tadasu-import-")) / "cases.json"
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [')
            for i, case in enumerate(copies):
                out.write(("," if i else "") + json.dumps(case, ensure_ascii=False))
            out.write("]}")
        command = [sys.executable, str(BASE / "manage.py"), "import_cases", str(path)]
        # Started through a small Python that reports its child's peak RSS: Linux carries a
        # process's peak over fork and exec, so a child of this process (140 MB by now)
        # would report at least that much whatever the import itself needs.
        report = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )

        def run():
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", report, *command],
                check=True,
                cwd=BASE,
                capture_output=True,
                text=True,
            )
            self.import_rss = int(done.stdout.split()[-1]) / 1024  # Linux: kB

        self.record(f"import_{self.args.import_cases}", n, run, runs=1, warmup=0)
        print(f"import_peak_rss_mb {self.import_rss:.0f}", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def children_rss_mb() -> float:
    """The largest child process so far (the processes that drew letters in bulk; the
    import runs under a reporter of its own), counted from this process's RSS at the fork."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# Pages rendered afresh (issue 19): at most this many times the floor at the largest size,
# and the same query count as at the smallest. The work queues have no page cache: every
# request renders them afresh.
SCRATCH_PAGES = ("case_page_scratch", "dashboard_scratch", "queues")
SCRATCH_BUDGET = 8


def check_page_budgets(results: list[Result], sizes: list[int]) -> list[str]:
    """The pages' budgets: as served (5× the floor) and from scratch (8×), each with the
    same number of queries at the largest size as at the smallest."""
    top, bottom = max(sizes), min(sizes)
    at = {(r.name, r.n): r for r in results}
    failed = []
    budgets = [(name, 5) for name in ("case_list", "case_page", "dashboard")]
    budgets += [(name, SCRATCH_BUDGET) for name in SCRATCH_PAGES]
    for name, times in budgets:
        r = at[(name, top)]
        if r.ratio > times:
            failed.append(f"{name} at {top:,}: {r.ratio:.1f}× the floor (budget {times}×)")
        first = at[(name, bottom)]
        if r.queries != first.queries:
            failed.append(f"{name}: {first.queries} queries at {bottom:,}, {r.queries} at {top:,}")
    return failed


def check_budgets(
    results: list[Result], sizes: list[int], letters: int, import_rss: float | None
) -> list[str]:
    top, bottom = max(sizes), min(sizes)
    at = {(r.name, r.n): r for r in results}
    failed = check_page_budgets(results, sizes)

    def need(ok: bool, what: str) -> None:
        if not ok:
            failed.append(what)

    scratch = at[("dashboard_scratch", top)]
    need(scratch.median < 100, f"dashboard from scratch {scratch.median:.0f} ms (budget 100)")
    need(
        scratch.queries == at[("dashboard_scratch", bottom)].queries,
        "dashboard from scratch: query count grows",
    )
    csv = at[("csv_export_10k", top)]
    need(csv.median < 3000, f"CSV export {csv.median:.0f} ms (budget 3,000)")
    letter = at[("letter", top)]
    need(letter.median < 50, f"one letter {letter.median:.0f} ms warm (budget 50)")
    bulk = at[(f"letters_{letters}", top)]
    need(bulk.median < 30_000, f"{letters} letters {bulk.median / 1000:.1f} s (budget 30)")
    rss = peak_rss_mb()
    need(rss < 300, f"peak RSS {rss:.0f} MB (budget 300)")
    if import_rss is not None:
        need(import_rss < 300, f"peak RSS of import_cases {import_rss:.0f} MB (budget 300)")
    # An upper bound: a child's peak includes this process's at the fork (see _import).
    child = children_rss_mb()
    if child:
        need(child < 300, f"peak RSS of a letter-drawing process {child:.0f} MB (budget 300)")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--database-url", default=os.environ.get("TADASU_BENCH_DATABASE_URL"))
    # The import's own benchmark and budget are tools/bench_import.py (a fresh database);
    # `--import-cases 10000` still times it here, over the data grown above.
    parser.add_argument("--import-cases", type=int, default=0)
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="skip export, letters and import; only the pages' budgets are checked",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="build the database in DIR and keep it (SQLite file, keys); a later run with the "
        "same DIR reuses the cases already seeded and only adds up to the sizes asked",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.keep:
        workdir = Path(args.keep).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tadasu-bench-"))
    url = _configure(args.database_url, workdir, keep=bool(args.keep))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# tadasu bench {started} database={url.split('://')[0]} sizes={sizes}", flush=True)
    bench = Bench(args)
    bench.setup()
    for size in sizes:
        bench.grow(size)
        bench.measure(size)
    if args.pages_only:
        print(f"peak_rss_mb {peak_rss_mb():.0f}")
        failed = check_page_budgets(bench.results, sizes)
    else:
        bench.heavy(max(sizes))
        print(f"peak_rss_mb {peak_rss_mb():.0f}")
        # The largest of the processes this run started (at most: see _import).
        print(f"children_peak_rss_mb {children_rss_mb():.0f}")
        letters = next(
            int(r.name.split("_")[1]) for r in bench.results if r.name.startswith("letters_")
        )
        failed = check_budgets(bench.results, sizes, letters, bench.import_rss)
    for what in failed:
        print(f"BUDGET FAILED: {what}")
    if not failed:
        print("all budgets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
