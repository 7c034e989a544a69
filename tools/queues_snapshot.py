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

import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
sys.path.insert(0, str(BASE / "tools"))

from snapshot_db import DEMO_USERS, arguments, blanked, open_database  # noqa: E402


def main() -> int:
    args = arguments(__doc__.split("\n", 1)[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = (
        ["manager", "staff", "manager-410001", "staff-410002", "auditor", "contractor"]
        if args.keep
        else DEMO_USERS
    )
    label = open_database(args)
    from django.test import Client
    from django_scopes import scopes_disabled

    from cases.models import User

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
            html = blanked(html)
            page = f"{response.status_code}\n{html}"
            (out / f"{label}-{name}-{language}.html").write_text(page, encoding="utf-8")
        User.objects.filter(pk=user.pk).update(language=saved)
    print(f"{label}: {len(list(out.glob(f'{label}-*')))} pages in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
