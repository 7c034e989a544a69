"""A clerk's write that meets a lock held too long (a case file being imported into the same
municipality holds its audit chain's head until it commits) is answered with a page that
says nothing was saved and to send it again: 503, never a server error, never half a write.

The web server's connections give up waiting after TADASU_DB_LOCK_TIMEOUT seconds on
PostgreSQL (config/gunicorn.conf.py sets it for the web processes only); SQLite gives up
after its busy timeout with "database is locked"."""

import os
import subprocess  # nosec B404  # runs our own settings module in a fresh interpreter
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.urls import reverse
from django_scopes import scopes_disabled

from cases import services
from cases.models import AuditHead, CaseKind, CauseCategory, TimelineEvent

ROOT = Path(__file__).resolve().parents[2]


def _timeline_post(case) -> dict:
    return {"occurred_on": "2023-02-08", "actor": "市職員", "text": "電話で事情を伺った。"}


def _entries(case) -> int:
    with scopes_disabled():
        return TimelineEvent.objects.filter(case=case, text="電話で事情を伺った。").count()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): a row lock and lock_timeout",
)
@pytest.mark.django_db(transaction=True)
def test_a_write_that_waits_too_long_for_the_citys_audit_head_is_told_nothing_was_saved(
    world, client
):
    case = services.case_open(
        by=world.staff,
        office=world.office,
        contractor=world.contractor_co,
        kind=CaseKind.CASHLESS_LINK,
        discovered_on=date(2023, 2, 7),
        cause_category=CauseCategory.LOGOUT_OMITTED,
        cause_text="ログアウト漏れ",
        prevention="対応の都度ログアウトする。",
    )
    client.force_login(world.staff)  # audited: the city's chain has a head
    chain = world.city.pk
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_the_head() -> None:
        # What an import does: the city's audit head locked until its transaction commits.
        try:
            with transaction.atomic():
                AuditHead.objects.select_for_update().get(chain=chain)
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()
            done.set()

    holder = threading.Thread(target=hold_the_head)
    holder.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")  # the web server's setting, shortened
        response = client.post(
            reverse("cases:timeline_new", kwargs={"ref": case.reference}), _timeline_post(case)
        )
    finally:
        release.set()
        done.wait(30)
        holder.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "保存されていません" in page
    assert "もう一度送信してください" in page
    assert _entries(case) == 0  # nothing of the write was kept

    # Once the lock is gone the same post goes through, once.
    response = client.post(
        reverse("cases:timeline_new", kwargs={"ref": case.reference}), _timeline_post(case)
    )
    assert response.status_code == 302
    assert _entries(case) == 1


@pytest.mark.django_db
def test_sqlite_busy_timeout_gets_the_same_page_in_the_users_language(
    world, case, client, monkeypatch
):
    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "timeline_add", locked)
    world.staff.language = "en"
    world.staff.save(update_fields=["language"])
    client.force_login(world.staff)
    response = client.post(
        reverse("cases:timeline_new", kwargs={"ref": case.reference}), _timeline_post(case)
    )
    assert response.status_code == 503
    assert "Nothing of what you sent has been saved" in response.content.decode()


@pytest.mark.django_db
def test_other_database_errors_are_not_mistaken_for_a_busy_database(
    world, case, client, monkeypatch
):
    def broken(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "timeline_add", broken)
    client.raise_request_exception = True
    client.force_login(world.staff)
    with pytest.raises(OperationalError):
        client.post(
            reverse("cases:timeline_new", kwargs={"ref": case.reference}), _timeline_post(case)
        )


def _settings_options(env: dict) -> str:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "from django.conf import settings;"
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options', ''))"
    )
    result = subprocess.run(  # noqa: S603  # nosec B603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_lock_timeout_reaches_postgresql_connections_only_when_set(tmp_path):
    url = "postgres://postgres@127.0.0.1:5432/whatever"
    base = {"DATABASE_URL": url, "TADASU_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "1"}
    serial = "-c max_parallel_workers_per_gather=0"
    assert (
        _settings_options({**base, "TADASU_DB_LOCK_TIMEOUT": "15"})
        == f"-c lock_timeout=15000 {serial}"
    )
    assert _settings_options({**base, "TADASU_DB_LOCK_TIMEOUT": ""}) == serial


def test_postgresql_connections_run_each_query_in_one_process_unless_told(tmp_path):
    """No parallel workers for a page's queries (each would be a process started for one
    query, taking a core from another request), unless TADASU_DB_PARALLEL_WORKERS says."""
    base = {"TADASU_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "1", "TADASU_DB_LOCK_TIMEOUT": ""}
    url = "postgres://postgres@127.0.0.1:5432/whatever"
    assert _settings_options({**base, "DATABASE_URL": url}) == (
        "-c max_parallel_workers_per_gather=0"
    )
    assert _settings_options({**base, "DATABASE_URL": url, "TADASU_DB_PARALLEL_WORKERS": "2"}) == (
        "-c max_parallel_workers_per_gather=2"
    )
    sqlite = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert _settings_options({**base, "DATABASE_URL": sqlite}) == ""


@pytest.mark.django_db
def test_the_setting_reaches_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_gunicorn_sets_the_lock_timeout_for_the_web_processes():
    text = (ROOT / "config" / "gunicorn.conf.py").read_text()
    namespace: dict = {}
    saved = os.environ.pop("TADASU_DB_LOCK_TIMEOUT", None)
    try:
        exec(compile(text, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102  # nosec B102
        assert os.environ["TADASU_DB_LOCK_TIMEOUT"] == "15"
        assert int(os.environ["TADASU_DB_LOCK_TIMEOUT"]) < namespace["timeout"]
    finally:
        os.environ.pop("TADASU_DB_LOCK_TIMEOUT", None)
        if saved is not None:
            os.environ["TADASU_DB_LOCK_TIMEOUT"] = saved
