"""Benchmark: import a case file of 10,000 cases (a benchmark, not a test).

    .venv/bin/python tools/bench_import.py [--cases 10000] [--database-url URL] [--budget 30]

Builds a throwaway database (SQLite in a temporary folder by default; a PostgreSQL URL is
dropped and created again, so never point it at real data), loads the demo organisations,
writes a case file of `--cases` copies of the demo's cases (remedies.demo.demo_case_copies:
every kind of action, each copy with seqs of its own) and imports it as `import_cases`
does (remedies.interchange.import_file: one transaction, every action through its
service). Then, untimed, the audit chains are verified (verify_audit) and the ledger totals
compared with the entries (ledger_totals --check). Prints one line:

    BENCH-IMPORT database=… cases=… seconds=… ms_per_case=… cpu_seconds=… queries=… …

(`cpu_seconds`: this process's own CPU time, the database server's not included; on a
machine shared with other work it moves less than the wall-clock `seconds`;
`server_cpu_seconds`: the PostgreSQL server process's, when it runs on this machine) and the peak
RSS. `--shape compiled` cuts every case down to the actions the compiled path handles
(remedies/interchange/compiled.py: people, links, agency contacts), to time that path
alone; `--shape people` further, to what its first part handled (no links, no contacts);
`--replay-only` replays every case as before it. With --budget (the demo's cases whole
only), exits 1 naming what failed when the import took longer (seconds) or its process
peaked above 300 MB.
docs/PERFORMANCE.md records results.
"""

import argparse
import cProfile
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "tools"))

RSS_BUDGET_MB = 300


def write_file(path: Path, count: int, shape: str = "demo") -> None:
    """The demo's cases, `count` of them, written one at a time (never held whole); with
    shape "compiled", cut down to what the compiled path handles (demo.cut_to_compiled);
    with shape "people", to the opening, the parties and their edits, 経過 lines by hand."""
    from remedies.demo import cut_to_compiled, demo_case_copies

    head, copies = demo_case_copies(count)
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [')
        for i, case in enumerate(copies):
            if shape != "demo":
                case = cut_to_compiled(case, links_and_contacts=shape == "compiled")
            out.write(("," if i else "") + json.dumps(case, ensure_ascii=False))
        out.write("]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("TADASU_BENCH_DATABASE_URL"))
    parser.add_argument("--budget", type=float, help="seconds the import may take")
    parser.add_argument(
        "--shape",
        choices=("demo", "compiled", "people"),
        default="demo",
        help="demo: the demo's cases whole (the budget's file); compiled: cut down to the "
        "actions the compiled path handles (remedies.demo.cut_to_compiled); people: without "
        "links and contacts either (what the compiled path's first part handled)",
    )
    parser.add_argument(
        "--replay-only",
        action="store_true",
        help="replay every case (import_file(compile=False)), as before the compiled path",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile of the import alone (not the setup, not the checks) to FILE",
    )
    args = parser.parse_args()
    if args.budget is not None and (args.shape != "demo" or args.replay_only):
        parser.error("--budget is for the demo's cases whole, on the default path")

    import bench  # the same throwaway database and settings as tools/bench.py

    workdir = Path(tempfile.mkdtemp(prefix="tadasu-bench-import-"))
    url = bench._configure(args.database_url, workdir)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scopes_disabled

    from cases import bulk
    from cases.audit_verify import verify_chain
    from remedies.demo import _organisations, _users
    from remedies.interchange import import_file

    call_command("migrate", verbosity=0)
    with scopes_disabled():
        _users(_organisations())
    path = workdir / "cases.json"
    write_file(path, args.cases, args.shape)
    size = path.stat().st_size / 1e6
    print(
        f"# tadasu bench_import {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"database={url.split('://')[0]} cases={args.cases:,} file={size:.1f} MB "
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    def progress(done: int, total: int) -> None:
        if done % 1000 == 0:
            of = f"{total:,}" if total is not None else "?"  # read ahead: known at the end
            print(f"  {done:,} of {of} cases, {time.perf_counter() - started:.0f} s")

    def backend_cpu() -> float | None:
        """The CPU seconds of the database's server process for this connection, when the
        server runs on this machine (PostgreSQL: one process a connection); else None."""
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    profiler = cProfile.Profile() if args.profile else None
    server = backend_cpu()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    copies = bulk.copies_sent()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count), path.open("rb") as stream:
        if profiler is not None:
            profiler.enable()
        outcome = import_file(stream, progress=progress, compile=not args.replay_only)
        if profiler is not None:
            profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # The process that reads the file ahead (remedies/interchange/ahead.py), once it ended.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reader_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    reader_rss = after.ru_maxrss / 1024
    copies = bulk.copies_sent() - copies  # COPYs sent from bulk.overlapped()'s thread
    server = None if server is None else backend_cpu() - server
    if profiler is not None:
        profiler.dump_stats(args.profile)
    if len(outcome.cases) != args.cases:
        raise SystemExit(f"{len(outcome.cases)} cases imported, not {args.cases}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    print(
        f"BENCH-IMPORT database={connection.vendor} cases={args.cases} shape={args.shape} "
        f"path={'replay' if args.replay_only else 'compiled+replay'} seconds={seconds:.1f} "
        f"ms_per_case={1000 * seconds / args.cases:.1f} cpu_seconds={cpu:.1f} "
        f"reader_cpu_seconds={reader_cpu:.1f} "
        f"server_cpu_seconds={'-' if server is None else f'{server:.1f}'} "
        f"queries={queries} copies_from_thread={copies} "
        f"queries_per_case={queries / args.cases:.1f} peak_rss_mb={rss:.0f} "
        f"reader_peak_rss_mb={reader_rss:.0f} "
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )
    # Untimed: what the import leaves must check.
    with scopes_disabled():
        entries, problems = verify_chain()
    if problems:
        raise SystemExit(f"the audit chains do not verify: {problems[:3]}")
    call_command("ledger_totals", "--check")
    print(f"audit chains verified ({entries:,} entries); ledger totals checked")
    failed = []
    if args.budget is not None and seconds > args.budget:
        failed.append(f"{args.cases:,} cases imported in {seconds:.1f} s (budget {args.budget:g})")
    if rss > RSS_BUDGET_MB:
        failed.append(f"peak RSS of the import {rss:.0f} MB (budget {RSS_BUDGET_MB})")
    for what in failed:
        print(f"BUDGET FAILED: {what}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
