"""On SQLite, concurrent writers wait for each other and the loser of a race gets the same
409 as on PostgreSQL (issue 17: four identical payment POSTs at once gave [302, 500, 500,
500], "database is locked"). Needs a file database, so it runs tests/remedies/sqlite_race.py
in a process of its own."""

import json
import os
import subprocess  # nosec B404  # runs this checkout's own script with this interpreter
import sys
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(__file__).with_name("sqlite_race.py")


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite's locking; PostgreSQL has its own race tests (test_concurrency.py)",
)
def test_four_identical_payments_at_once_give_one_302_and_three_409s(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(  # noqa: S603  # nosec B603  # fixed argument list, no shell
        [sys.executable, str(SCRIPT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"statuses": [302, 409, 409, 409], "payments": 1}, result.stderr[-3000:]
