"""The work queues' HTML, saved page by page, to compare two versions of the code byte for byte.

    .venv/bin/python tools/queues_snapshot.py --demo /tmp/snap-demo --out /tmp/before
    .venv/bin/python tools/queues_snapshot.py --keep /tmp/bench-1k --out /tmp/before
    (change the code, then the same with --out /tmp/after)
    diff -r /tmp/before /tmp/after

`--demo DIR`: a database of the demo (`load_demo`, DJANGO_DEBUG=1) made in DIR the first time
(migrated each time), as staff, manager, contractor, the other company's staff, auditor and
the other city's staff. `--keep DIR`: a database tools/bench.py kept, as its manager and
staff, another city's manager and staff, the auditor and the contractor. Each in Japanese and
English (the user's language is set for the request and put back). CSRF tokens and nonces
are blanked. The date is today's: compare runs of the same day.
"""

import argparse
import os
import re
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "tools"))

BLANK = [
    (re.compile(r'(name="csrfmiddlewaretoken" value=)"[^"]*"'), r'\1""'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--keep", help="a database folder tools/bench.py kept")
    where.add_argument("--demo", help="a folder for a database of the demo")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.keep:
        import bench

        bench._configure(None, Path(args.keep).resolve(), keep=True)
        label = Path(args.keep).name
        names = ["manager", "staff", "manager-410001", "staff-410002", "auditor", "contractor"]
    else:
        demo = Path(args.demo).resolve()
        demo.mkdir(exist_ok=True)
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{demo / 'demo.sqlite3'}",
                "TADASU_VAR_DIR": str(demo),
                "DJANGO_DEBUG": "1",
                "DJANGO_SETTINGS_MODULE": "config.settings",
            }
        )
        label = "demo"
        names = ["staff", "manager", "contractor", "other-contractor", "auditor"]
        names.append("staff-other-city")

    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django_scopes import scopes_disabled

    from cases.models import User

    if args.demo:
        call_command("migrate", verbosity=0)
        if not (demo / "loaded").exists():
            call_command("load_demo")
            (demo / "loaded").write_text("1")
    override_settings(ALLOWED_HOSTS=["testserver"]).enable()
    with scopes_disabled():
        users = {u.username: u for u in User.objects.filter(username__in=names)}
    for name in names:
        user = users.get(name)
        if user is None:
            print(f"no user {name}")
            continue
        saved = user.language
        for language in ("ja", "en"):
            User.objects.filter(pk=user.pk).update(language=language)
            client = Client()
            client.force_login(user)
            response = client.get("/queues/")
            html = response.content.decode()
            for pattern, blank in BLANK:
                html = pattern.sub(blank, html)
            page = f"{response.status_code}\n{html}"
            (out / f"{label}-{name}-{language}.html").write_text(page, encoding="utf-8")
        User.objects.filter(pk=user.pk).update(language=saved)
    print(f"{label}: {len(list(out.glob(f'{label}-*')))} pages in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
