"""What the page snapshot scripts share (tools/queues_snapshot.py,
tools/case_pages_snapshot.py): their arguments, the database they read (a demo made once in
a folder, or a database tools/bench.py kept), and the blanking of what changes from one
request to the next (CSRF tokens and nonces)."""

import argparse
import os
import re
from pathlib import Path

BLANK = [
    (re.compile(r'(name="csrfmiddlewaretoken" value=)"[^"]*"'), r'\1""'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
]
DEMO_USERS = ["staff", "manager", "contractor", "other-contractor", "auditor", "staff-other-city"]


def blanked(html: str) -> str:
    for pattern, replacement in BLANK:
        html = pattern.sub(replacement, html)
    return html


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--keep", help="a database folder tools/bench.py kept")
    where.add_argument("--demo", help="a folder for a database of the demo")
    parser.add_argument("--out", required=True)
    return parser.parse_args()


def open_database(args: argparse.Namespace) -> str:
    """Django set up on the database the arguments name (the demo's migrated, and loaded
    the first time); its label for the files' names."""
    if args.keep:
        import bench

        bench._configure(None, Path(args.keep).resolve(), keep=True)
        label = Path(args.keep).name
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
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    from django.core.management import call_command
    from django.test.utils import override_settings

    if args.demo:
        call_command("migrate", verbosity=0)
        if not (demo / "loaded").exists():
            call_command("load_demo")
            (demo / "loaded").write_text("1")
    override_settings(ALLOWED_HOSTS=["testserver"]).enable()
    return label
