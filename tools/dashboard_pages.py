"""The dashboard's HTML as its readers get it, rendered afresh, written to files for comparing
two checkouts byte for byte (a change for speed must not change a byte the user sees).

    PYTHONPATH=. .venv/bin/python tools/dashboard_pages.py --demo /tmp/dash-demo --out /tmp/a
    PYTHONPATH=. .venv/bin/python tools/dashboard_pages.py --keep /tmp/dash-1k --out /tmp/a
    (the same from the other checkout with --out /tmp/b)
    diff -r /tmp/a /tmp/b

`--demo DIR`: a database of the demo (`load_demo`, made in DIR the first time) seen by staff,
manager, contractor and auditor (403 for two of them), for this 年度, 2024, 2022, a range of
dates, an empty 年度 and a refused range. `--keep DIR`: a database tools/bench.py kept, seen by
its manager, its auditor and another city's manager, for this 年度, 2025 and 2023. Both in
Japanese and English, the page cache emptied before each request; CSRF tokens and nonces are
blanked. The users' language is set for each request and put back. docs/PERFORMANCE.md
(the dashboard's sixth pass) used it.
"""

import argparse
import logging
import os
import re
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "tools"))

DEMO_USERS = ["staff", "manager", "contractor", "auditor"]
DEMO_QUERIES = [
    "",
    "?year=2024",
    "?year=2022",
    "?start=2023-01-15&end=2024-06-30",
    "?year=2017",
    "?start=2024-06-30&end=2023-01-15",
]
BENCH_USERS = ["manager", "auditor", "manager-410001"]
BENCH_QUERIES = ["", "?year=2025", "?year=2023"]
BLANK = [
    (
        re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'),
        'name="csrfmiddlewaretoken" value=""',
    ),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--keep", help="a database folder tools/bench.py kept")
    where.add_argument("--demo", help="a folder for the demo's database (made once)")
    parser.add_argument("--out", required=True, help="the folder the pages are written to")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.keep:
        import bench

        bench._configure(None, Path(args.keep).resolve(), keep=True)
        label, names, queries = Path(args.keep).name, BENCH_USERS, BENCH_QUERIES
    else:
        demo = Path(args.demo).resolve()
        demo.mkdir(parents=True, exist_ok=True)
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{demo / 'demo.sqlite3'}",
                "TADASU_VAR_DIR": str(demo),
                "DJANGO_DEBUG": "1",
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
        )
        label, names, queries = "demo", DEMO_USERS, DEMO_QUERIES

    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django_scopes import scopes_disabled

    from cases.models import User

    if args.demo and not (demo / "loaded").exists():
        call_command("migrate", verbosity=0)
        call_command("load_demo")
        (demo / "loaded").write_text("1")

    override_settings(ALLOWED_HOSTS=["testserver"]).enable()
    with scopes_disabled():
        users = {u.username: u for u in User.objects.filter(username__in=names)}
    written = 0
    for name in names:
        user = users[name]
        saved = user.language
        for language in ("ja", "en"):
            User.objects.filter(pk=user.pk).update(language=language)
            client = Client()
            client.force_login(user)
            for i, query in enumerate(queries):
                cache.clear()
                response = client.get("/dashboard/" + query)
                html = response.content.decode()
                for pattern, blank in BLANK:
                    html = pattern.sub(blank, html)
                page = out / f"{label}-{name}-{language}-{i}.html"
                page.write_text(f"{response.status_code}\n{html}", encoding="utf-8")
                written += 1
        User.objects.filter(pk=user.pk).update(language=saved)
    print(f"{label}: {written} pages in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
