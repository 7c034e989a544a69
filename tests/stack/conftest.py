"""Real server processes for the production-stack tests: gunicorn (as `make serve` starts
it) on free loopback ports, against a database file and Redis shared between them.

Redis: tests marked `redis` skip when nothing answers at TADASU_TEST_REDIS_URL, except under
CI=true, where they fail (as the browser tests do without Chromium: CI must not turn green
by skipping them).
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
REDIS_URL = os.environ.get("TADASU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_missing_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:
        return f"Redis does not answer at {REDIS_URL} ({type(error).__name__})"
    return None


def pytest_collection_modifyitems(config, items):
    reason = None
    checked = False
    for item in items:
        if "redis" not in item.keywords:
            continue
        if not checked:
            reason, checked = redis_missing_reason(), True
        if reason is None:
            continue
        if os.environ.get("CI") == "true":
            item.add_marker(pytest.mark.e2e_missing(reason))
        else:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _fail_in_ci_when_redis_missing(request):
    marker = request.node.get_closest_marker("e2e_missing")
    if marker is not None:
        pytest.fail(f"CI=true and {marker.args[0]}", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """DJANGO_DEBUG=0 with everything else on this checkout's test keys (pytest's env)."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "TADASU_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'tadasu.sqlite3'}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "TADASU_STATIC_MANIFEST": "1",
        "TADASU_LOG_FORMAT": "json",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(  # noqa: S603  # nosec B603  # our own manage.py, fixed arguments
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body.encode(), headers=sent)
        response = connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        connection.close()
        return response, data


def start_gunicorn(env: dict, log: Path) -> Server:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  # nosec B603  # gunicorn from this venv
            [
                GUNICORN,
                "config.wsgi",
                "-c",
                "config/gunicorn.conf.py",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn stopped: {log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(port, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("gunicorn did not start within 60 s")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def csrf_token(html: bytes) -> str:
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1).decode()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    """A var/ folder as `make serve` leaves it: migrated database, demo data (loaded with
    DJANGO_DEBUG=1, as load_demo requires), collected and compressed static files."""
    var_dir = tmp_path_factory.mktemp("var")
    env = production_env(var_dir)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env | {"DJANGO_DEBUG": "1"}, "load_demo")
    manage(env, "collectstatic", "--noinput", "-v0")
    return var_dir
