"""JSON log lines without personal data, and /healthz."""

import io
import json
import logging

import pytest
from django.test import Client
from django.urls import reverse

from jobs import views as job_views
from jobs.worker import heartbeat

from ..factories import CaseFactory

pytestmark = pytest.mark.django_db

SECRET_NAME = "秘密山 花子"
ACCOUNT = "9876543"


@pytest.fixture
def log_lines():
    """What the configured console handler writes (settings.LOGGING), line by line."""
    handler = next(h for h in logging.getLogger("tadasu").handlers if h.name == "console")
    buffer = io.StringIO()
    before = handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler.setStream(before)


def test_a_request_with_personal_data_logs_one_json_line_without_it(client, world, log_lines):
    case = CaseFactory(municipality=world.city, office=world.office)
    client.force_login(world.staff)
    url = reverse("cases:party_new", kwargs={"ref": case.reference})
    response = client.post(
        f"{url}?q={SECRET_NAME}",
        {
            "label": "Z氏",
            "identified": "on",
            "name": SECRET_NAME,
            "phone": "0931234567",
            "bank": "みずほ銀行 小倉支店",
            "account_number": ACCOUNT,
        },
        HTTP_X_REQUEST_ID="proxy-req-12345678",
    )
    assert response.status_code == 302
    lines = log_lines()
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 1
    line = requests[0]
    assert line["path"] == url  # no query string
    assert line["user_id"] == world.staff.pk and line["municipality_id"] == world.city.pk
    assert line["status"] == 302 and line["method"] == "POST"
    assert line["request_id"] == "proxy-req-12345678" == response.headers["X-Request-ID"]
    assert isinstance(line["duration_ms"], float)
    everything = json.dumps(lines, ensure_ascii=False)
    for secret in (SECRET_NAME, ACCOUNT, "0931234567", world.staff.username, "sessionid"):
        assert secret not in everything


def test_an_error_is_logged_with_its_frames_but_not_its_message(world, log_lines, monkeypatch):
    def broken(membership):
        raise ValueError(f"{SECRET_NAME} の口座 {ACCOUNT}")

    monkeypatch.setattr(job_views.selectors, "visible_jobs", broken)
    client = Client(raise_request_exception=False)
    client.force_login(world.staff)
    assert client.get(f"{reverse('jobs:list')}?q={SECRET_NAME}").status_code == 500
    lines = log_lines()
    error = next(line for line in lines if line["logger"] == "django.request")
    assert "builtins.ValueError" in error["exc_info"] and "jobs/views.py" in error["exc_info"]
    everything = json.dumps(lines, ensure_ascii=False)
    assert SECRET_NAME not in everything and ACCOUNT not in everything


def test_healthz_is_200_when_everything_answers(client, world):
    heartbeat("a-worker")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "jobs": "ok", "workers": 1}


def test_healthz_names_what_is_down(client, world, settings):
    # No worker heard of: jobs would wait for ever.
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["jobs"] == "down"
    heartbeat("a-worker")
    # A cache that does not answer (nothing listens on port 9 of this machine).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "down", "jobs": "ok", "workers": 1}


def test_healthz_costs_three_queries_and_no_session(client, world, django_assert_max_num_queries):
    heartbeat("a-worker")
    with django_assert_max_num_queries(3):
        response = client.get("/healthz")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "sessionid" not in response.cookies


def test_the_development_servers_request_lines_leave_out_the_query_string(log_lines):
    # As django.core.servers.basehttp logs a request line.
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /cases/?q={SECRET_NAME} HTTP/1.1", "200", "512"
    )
    (line,) = log_lines()
    assert line["message"] == '"GET /cases/ HTTP/1.1" 200 512'
