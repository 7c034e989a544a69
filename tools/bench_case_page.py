"""A page rendered afresh, N times, for a processor-instruction count (not a timer).

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.2 \\
        .venv/bin/python tools/bench_case_page.py --keep /tmp/bench-1k --requests 2
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.12 \\
        .venv/bin/python tools/bench_case_page.py --keep /tmp/bench-1k --requests 12

Instructions per request = (the second run's total - the first's) / 10: start-up, imports
and the warm-up request cancel out. Unlike milliseconds, the count does not move with what
else the machine runs. `--keep DIR` is a database tools/bench.py built and kept
(`tools/bench.py --sizes 1000 --pages-only --keep DIR`); the page is the benchmark's: its
big case (20 parties, 200 timeline entries), as its manager sees it, the page cache emptied
before each request (what `case_page_scratch` measures). `--page dashboard`: the dashboard
instead, as the same manager sees it (`dashboard_scratch`); `--page queues`: the same
manager's work queues (`queues`: they have no page cache, every request renders them
afresh); `--page floor`: the benchmark's floor (a signed-in page of the base template
alone), to which the budgets compare a page.
docs/PERFORMANCE.md records results.
"""

import argparse
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "tools"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", required=True, help="a database folder tools/bench.py kept")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--page", choices=["case", "dashboard", "queues", "floor"], default="case")
    args = parser.parse_args()

    import bench

    bench._configure(None, Path(args.keep).resolve(), keep=True)
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)  # the request log is part of the floor, not the page
    import bench_data
    from django.core.cache import cache
    from django.test import Client
    from django_scopes import scopes_disabled

    with scopes_disabled():
        world = bench_data.World.load()
        path = {
            "case": f"/cases/{bench_data.big_case_of(world).reference}/",
            "dashboard": "/dashboard/",
            "queues": "/queues/",
            "floor": "/bench/floor/",
        }[args.page]
    from django.test.utils import override_settings

    override_settings(ROOT_URLCONF="bench_urls").enable()  # the floor's URL besides the project's
    client = Client()
    client.force_login(world.manager)
    for _ in range(1 + args.requests):  # one warm-up request, then the counted ones
        cache.clear()
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
