"""A server worker's warm-up (config/warmup.py, called from gunicorn's post_worker_init):
what its first requests would otherwise pay for is done before it takes one."""

import runpy
from datetime import date
from pathlib import Path

from django.template import engines

from cases import deadlines
from config.warmup import project_templates, warm_up

ROOT = Path(__file__).resolve().parent.parent


def test_warm_up_computes_the_calendar_around_today_and_compiles_every_project_template():
    deadlines.national_business_days.cache_clear()
    loader = engines["django"].engine.template_loaders[0]
    if hasattr(loader, "reset"):
        loader.reset()

    done = warm_up(today=date(2026, 12, 3))

    assert done["calendar_years"] == 9
    info = deadlines.national_business_days.cache_info()
    assert info.currsize == 9
    assert info.hits == 0
    # A deadline in the years around today is now answered from the cache.
    calendar = deadlines.BusinessCalendar()
    assert calendar.add(date(2023, 4, 3), 10) == date(2023, 4, 17)
    assert calendar.add(date(2027, 4, 30), 1) == date(2027, 5, 6)  # Golden Week
    assert deadlines.national_business_days.cache_info().currsize == 9
    names = project_templates()
    assert "cases/case_detail.html" in names or any(n.startswith("cases/") for n in names)
    assert not any(n.startswith("admin/base") for n in names)  # Django's own are not ours
    assert done["templates"] == len(names)
    if hasattr(loader, "get_template_cache"):  # the cached loader (DEBUG off)
        compiled = set(loader.get_template_cache)
        assert set(names) <= compiled


def test_gunicorn_runs_the_warm_up_before_a_worker_takes_requests():
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    deadlines.national_business_days.cache_clear()

    class Worker:
        log = None

    conf["post_worker_init"](Worker())
    assert deadlines.national_business_days.cache_info().currsize >= 9
