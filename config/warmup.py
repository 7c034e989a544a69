"""What a new server process would otherwise do on its first requests, done before it takes one.

A gunicorn worker imports the views lazily (on the first URL resolved), builds the table
`reverse` reads (per language) on the first link drawn, compiles each
template the first time it is rendered, works out the national business-day calendar
(jpholiday, about 30 ms a year) the first time a deadline is asked for, and reads the
Unicode tables of the individual-number screen (cases/mynumber.py, about 0.2 s) the first
time a text is screened. Measured on this
machine, the first work-queues page of a fresh process took 530 ms against 20 ms for the
second; when every worker of a freshly started (or restarted) server does that at once, the
first clerks' pages queue behind it. config/gunicorn.conf.py calls `warm_up` from
`post_worker_init`: each worker pays it before it accepts a request.

It touches no database, cache or file outside the code: nothing here is shared with another
process or holds anything open.
"""

import logging
import time
from datetime import date
from pathlib import Path

from django.conf import settings

log = logging.getLogger("tadasu.warmup")

# The years a page may ask deadlines about without computing a calendar: stages entered up to
# five years ago (a case open that long) and deadlines up to three years ahead.
YEARS_BEFORE, YEARS_AFTER = 5, 3


def project_templates() -> list[str]:
    """The names of the project's own templates (templates/ and each app's), not Django's."""
    base = Path(settings.BASE_DIR)
    roots = [Path(d) for t in settings.TEMPLATES for d in t.get("DIRS", [])]
    roots += sorted(p for p in base.glob("*/templates") if p.is_dir())
    names = set()
    for root in roots:
        if base not in root.resolve().parents:
            continue
        names.update(
            str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in {".html", ".txt"}
        )
    return sorted(names)


def warm_up(today: date | None = None) -> dict[str, int]:
    """Import every view, load each language's catalogue, compile the project's templates and
    the national calendar around `today`. Returns what was done (counts), for the log line."""
    from django.template.loader import get_template
    from django.urls import get_resolver
    from django.utils import translation

    from cases import deadlines, mynumber

    started = time.perf_counter()
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018  # imports config.urls and every view module
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Cases")  # loads the language's catalogue
            resolver.reverse_dict  # noqa: B018  # the table `reverse` reads, one per language
    templates = project_templates()
    for name in templates:
        get_template(name)
    year = (today or date.today()).year
    years = range(year - YEARS_BEFORE, year + YEARS_AFTER + 1)
    for each in years:
        deadlines.national_business_days(each)
    mynumber.contains_individual_number("１")  # its tables of characters, read once
    done = {
        "templates": len(templates),
        "calendar_years": len(years),
        "ms": round((time.perf_counter() - started) * 1000),
    }
    log.info("warmed up", extra={"event": "warm_up", **done})
    return done
