"""The case page's HTML (`case_detail`, rendered afresh) and the whole timeline's page
(`case_timeline`, which shares its table), saved page by page, to compare two versions of
the code byte for byte (a change for speed must not change a byte the user sees).

    .venv/bin/python tools/case_pages_snapshot.py --demo /tmp/cp-demo --out /tmp/before
    .venv/bin/python tools/case_pages_snapshot.py --keep /tmp/bench-100k --out /tmp/before
    (change the code, then the same with --out /tmp/after)
    diff -r /tmp/before /tmp/after

`--demo DIR`: a database of the demo (`load_demo`, DJANGO_DEBUG=1) made in DIR the first time
(migrated each time): every case of it, as staff, manager, contractor, the other company's
staff, auditor and the other city's staff (404 where the case is not theirs). `--keep DIR`:
a database tools/bench.py kept: its big case (20 parties, 200 timeline entries) and the
first four cases of its city (the demo's, imported), as its manager, staff, auditor,
contractor and another city's manager (404). Each in Japanese and English (the user's
language is set for the request and put back), the page cache emptied before each request.
CSRF tokens and nonces are blanked. The date is today's: compare runs of the same day.
docs/PERFORMANCE.md (the case page's fourth pass) used it.
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
        ["manager", "staff", "auditor", "contractor", "manager-410001"] if args.keep else DEMO_USERS
    )
    label = open_database(args)
    from django.core.cache import cache
    from django.test import Client
    from django_scopes import scopes_disabled

    from cases.models import Case, User

    with scopes_disabled():
        users = {u.username: u for u in User.objects.filter(username__in=names)}
        if args.keep:
            import bench_data

            world = bench_data.World.load()
            references = [bench_data.big_case_of(world).reference]
            # The demo's cases, which the benchmark's city (the demo's) holds first.
            first = Case.objects.filter(municipality=world.home).order_by("id")[:4]
            references += [c.reference for c in first if c.reference not in references]
        else:
            references = list(Case.objects.order_by("id").values_list("reference", flat=True))
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
            for reference in references:
                for page_name, suffix in (("case", ""), ("timeline", "timeline/")):
                    cache.clear()
                    response = client.get(f"/cases/{reference}/{suffix}")
                    html = response.content.decode()
                    html = blanked(html)
                    page = f"{response.status_code}\n{html}"
                    file = f"{label}-{name}-{language}-{reference}-{page_name}.html"
                    (out / file).write_text(page, encoding="utf-8")
        User.objects.filter(pk=user.pk).update(language=saved)
    print(f"{label}: {len(list(out.glob(f'{label}-*')))} pages in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
