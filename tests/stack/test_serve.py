"""The production stack as it runs: gunicorn with DJANGO_DEBUG=0 serves the CSS (WhiteNoise),
and two server processes sharing Redis see each other's cache invalidation."""

import re
import urllib.parse
import uuid
from datetime import date

import pytest

from .conftest import REDIS_URL, csrf_token, production_env, start_gunicorn, stop

pytestmark = pytest.mark.django_db  # the fixtures of the suite need it; servers use their own


def test_gunicorn_with_debug_off_serves_the_compressed_hashed_css(deployed, tmp_path):
    server = start_gunicorn(production_env(deployed), tmp_path / "gunicorn.log")
    try:
        response, page = server.request("GET", "/accounts/login/")
        assert response.status == 200
        href = re.search(rb'<link rel="stylesheet" href="([^"]+)"', page).group(1).decode()
        # The manifest's hashed name: browsers may keep it for ever.
        assert re.fullmatch(r"/static/css/tadasu\.[0-9a-f]{12}\.css", href), href
        response, css = server.request("GET", href, headers={"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/css")
        assert response.headers["Content-Encoding"] == "gzip"
        assert "max-age=315360000" in response.headers["Cache-Control"]
        response, css = server.request("GET", href)
        assert b".facts" in css
        # The worker warmed up (config/warmup.py) before it answered the first request.
        lines = server.log.read_text().splitlines()
        warmed = next(i for i, line in enumerate(lines) if '"event": "warm_up"' in line)
        first = next(i for i, line in enumerate(lines) if '"event": "request"' in line)
        assert warmed < first
    finally:
        stop(server)


@pytest.mark.redis
def test_two_servers_sharing_redis_see_each_others_invalidation(deployed, tmp_path):
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    prefix = f"stacktest-{uuid.uuid4().hex}"  # this run's keys only: Redis may be shared
    env = production_env(deployed, REDIS_URL=REDIS_URL, TADASU_CACHE_PREFIX=prefix)
    a = start_gunicorn(env, tmp_path / "a.log")
    b = start_gunicorn(env, tmp_path / "b.log")
    try:
        # Log in through A; the session lives in the shared database, so B knows it too.
        _, login = a.request("GET", "/accounts/login/")
        form = {"username": "staff", "password": "tadasu-demo", "csrfmiddlewaretoken": ""}
        form["csrfmiddlewaretoken"] = csrf_token(login)
        response, _ = a.request("POST", "/accounts/login/", urllib.parse.urlencode(form))
        assert response.status == 302
        b.cookies = a.cookies
        _, listing = b.request("GET", "/cases/")
        ref = re.search(rb'href="/cases/([0-9]{6}-[0-9]{4}-[0-9]+)/"', listing).group(1).decode()
        case = f"/cases/{ref}/"

        def page_keys() -> int:
            return sum(1 for key in store.scan_iter(f"{prefix}:*page:*"))

        response, before = b.request("GET", case)
        assert response.status == 200
        cached = page_keys()
        assert cached >= 1  # B rendered the case page into Redis ...
        response, _ = a.request("GET", case)
        assert response.status == 200 and page_keys() == cached  # ... and A served it from there
        # A write through A: a timeline line on the case.
        _, form_page = a.request("GET", f"{case}timeline/new/")
        text = "共有キャッシュの確認のため電話した。"
        entry = {
            "csrfmiddlewaretoken": csrf_token(form_page),
            "occurred_on": date.today().isoformat(),  # within any demo case's span
            "actor": "北九州市",
            "text": text,
        }
        response, _ = a.request("POST", f"{case}timeline/new/", urllib.parse.urlencode(entry))
        assert response.status == 302
        assert text.encode() not in before
        # B's next page shows it: the audit head moved, so B's cached body is not used.
        response, after = b.request("GET", case)
        assert response.status == 200 and text.encode() in after
    finally:
        stop(a)
        stop(b)
        for key in store.scan_iter(f"{prefix}:*"):
            store.delete(key)


@pytest.mark.parametrize(
    ("database", "redis", "said"),
    [
        ("", "redis://127.0.0.1:6379/0", "set DATABASE_URL"),
        ("sqlite:///var/x.sqlite3", "redis://127.0.0.1:6379/0", "DATABASE_URL is SQLite"),
        ("postgres://postgres@127.0.0.1:5432/x", "", "set REDIS_URL"),
    ],
)
def test_make_serve_refuses_what_it_cannot_run_on(database, redis, said):
    import subprocess
    import sys

    from .conftest import ROOT

    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database, "REDIS_URL": redis}
    done = subprocess.run(  # nosec B603  # our own script
        [sys.executable, "tools/serve.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and said in done.stderr
