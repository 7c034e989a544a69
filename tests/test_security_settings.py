"""Security settings: production check, headers, session lifetime, log-out, log-in lockout."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.db.models import F
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import gettext

from cases.lockout import client_ip_behind_proxy
from cases.middleware import SESSION_LOGIN_AT, SESSION_SEEN_AT, NoStoreMiddleware
from config.settings import env_int

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "pw-for-tests-1"  # tests/factories.py
IDLE_MESSAGE = "You have been logged out because there was no activity for a while."
CAP_MESSAGE = (
    "You have been logged out because you had been logged in for a long time. Please log in again."
)


def _japanese(msgid: str) -> str:
    # What a Japanese user reads: the catalogue's text once translated, the msgid until then.
    with translation.override("ja"):
        return gettext(msgid)


# --- production settings ----------------------------------------------------------------


def _deploy_check(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SECURE_SSL_REDIRECT", "DJANGO_DEBUG"}
    }
    environment.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "tadasu.example.jp",
            "TADASU_VAR_DIR": str(tmp_path),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("behind_proxy", ["0", "1"])
def test_production_settings_pass_the_deploy_check(tmp_path, behind_proxy):
    result = _deploy_check(tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER=behind_proxy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_does_fail_on_a_weak_secret(tmp_path):
    # The check above can fail: a short key is reported (security.W009).
    result = _deploy_check(tmp_path, DJANGO_SECRET_KEY="too-short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_session_limits_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TADASU_SESSION_IDLE_MINUTES", "30")
    assert env_int("TADASU_SESSION_IDLE_MINUTES", 15) == 30
    monkeypatch.setenv("TADASU_SESSION_IDLE_MINUTES", "")
    assert env_int("TADASU_SESSION_IDLE_MINUTES", 15) == 15
    for bad in ("0", "fifteen"):
        monkeypatch.setenv("TADASU_SESSION_IDLE_MINUTES", bad)
        with pytest.raises(Exception, match="TADASU_SESSION_IDLE_MINUTES"):
            env_int("TADASU_SESSION_IDLE_MINUTES", 15)


# --- headers ------------------------------------------------------------------------------


def test_a_signed_in_page_carries_csp_no_store_and_the_security_headers(client, world):
    client.force_login(world.staff)
    response = client.get("/cases/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    # Who is signed in, for which organisation, stays on every page.
    page = response.content.decode()
    assert str(world.city) in page and "who-user" in page


def test_the_log_in_page_is_not_cached_either(client, db):
    response = client.get("/accounts/login/")
    assert "no-store" in response["Cache-Control"]
    assert "default-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("content_type", ["application/pdf", "text/csv; charset=utf-8"])
def test_pdf_and_csv_are_never_stored_whoever_asks(content_type):
    request = RequestFactory().get("/download")  # no user at all
    middleware = NoStoreMiddleware(lambda request: HttpResponse(b"x", content_type=content_type))
    assert "no-store" in middleware(request)["Cache-Control"]


def test_an_anonymous_html_page_keeps_its_own_caching(client):
    request = RequestFactory().get("/static-page")
    response = NoStoreMiddleware(lambda request: HttpResponse("<p>hello</p>"))(request)
    assert not response.has_header("Cache-Control")


INLINE = re.compile(
    r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+\s*=|javascript:""",
    re.IGNORECASE,
)


def test_templates_hold_no_inline_script_or_style_so_the_csp_can_forbid_them():
    templates = [
        path
        for folder in ("templates", "cases", "remedies")
        for path in (BASE_DIR / folder).rglob("*.html")
    ]
    assert templates
    offenders = [
        f"{path.relative_to(BASE_DIR)}: {match.group(0)!r}"
        for path in templates
        for match in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --- session lifetime ---------------------------------------------------------------------


def _age_session(client, *, login_by: timedelta = timedelta(0), seen_by: timedelta) -> None:
    session = client.session
    session[SESSION_LOGIN_AT] -= login_by.total_seconds()
    session[SESSION_SEEN_AT] -= seen_by.total_seconds()
    session.save()


def test_an_idle_session_is_logged_out_and_told_why(client, world, case):
    client.force_login(world.staff)
    key = client.session.session_key
    _age_session(client, login_by=timedelta(minutes=16), seen_by=timedelta(minutes=16))

    response = client.get(f"/cases/{case.reference}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/cases/")
    assert not Session.objects.filter(session_key=key).exists()

    login_page = client.get(response["Location"])
    assert _japanese(IDLE_MESSAGE) in login_page.content.decode()
    assert client.get(f"/cases/{case.reference}/").status_code == 302


def test_activity_keeps_the_session_alive(client, world):
    client.force_login(world.staff)
    for _ in range(3):  # 3 × 14 minutes: longer than the idle limit, never idle that long
        _age_session(client, login_by=timedelta(minutes=14), seen_by=timedelta(minutes=14))
        assert client.get("/cases/").status_code == 200


def test_the_idle_limit_follows_the_setting(client, world, settings):
    settings.TADASU_SESSION_IDLE_TIMEOUT = timedelta(minutes=2)
    client.force_login(world.staff)
    _age_session(client, seen_by=timedelta(minutes=3))
    assert client.get("/cases/").status_code == 302


def test_a_session_ends_after_the_cap_however_active(client, world):
    client.force_login(world.staff)
    _age_session(client, login_by=timedelta(hours=10, minutes=1), seen_by=timedelta(0))
    response = client.get("/cases/", follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert _japanese(CAP_MESSAGE) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_log_out_clears_the_session_and_the_case_page_asks_to_log_in(client, world, case):
    client.force_login(world.staff)
    page = client.get(f"/cases/{case.reference}/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    key = client.session.session_key

    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()

    response = client.get(f"/cases/{case.reference}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/cases/{case.reference}/"


# --- failed log-ins -----------------------------------------------------------------------


def _log_in(client, username: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_five_failures_lock_that_user_from_that_address_only(client, world):
    for attempt in range(1, 6):
        response = _log_in(client, "staff", "wrong", "10.0.0.1")
        assert response.status_code == (429 if attempt == 5 else 200), attempt

    # Locked: even the right password, from that address, for 15 minutes.
    locked = _log_in(client, "staff", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert _japanese("Log-in temporarily blocked") in page
    assert "15" in page and "5" in page
    assert "_auth_user_id" not in client.session

    # The same user from another address, and another user from the same address, get in.
    other_address = type(client)()
    assert _log_in(other_address, "staff", PASSWORD, "10.0.0.2").status_code == 302
    colleague = type(client)()
    assert _log_in(colleague, "manager", PASSWORD, "10.0.0.1").status_code == 302
    assert colleague.get("/cases/").status_code == 200

    # After the cool-off the user may try again.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    assert _log_in(client, "staff", PASSWORD, "10.0.0.1").status_code == 302


def test_a_successful_log_in_resets_the_count(client, world):
    for _ in range(4):
        assert _log_in(client, "staff", "wrong", "10.0.0.1").status_code == 200
    assert _log_in(client, "staff", PASSWORD, "10.0.0.1").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        assert _log_in(client, "staff", "wrong", "10.0.0.1").status_code == 200
    assert _log_in(client, "staff", PASSWORD, "10.0.0.1").status_code == 302


def test_the_test_client_still_logs_in_through_axes(client, world):
    assert client.login(username="staff", password=PASSWORD)
    assert client.get("/cases/").status_code == 200


def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended():
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="127.0.0.1"
    )
    assert client_ip_behind_proxy(request) == "203.0.113.7"
    assert client_ip_behind_proxy(RequestFactory().get("/", REMOTE_ADDR="10.1.1.1")) == "10.1.1.1"
