"""What Tadasu creates on disk is owner-only (issue 17: the SQLite file and var/ were created
world-readable): var/ and its folders 0700, the database, generated keys and uploads 0600."""

import os
import stat
import subprocess  # nosec B404  # runs this checkout's manage.py with this interpreter
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def test_settings_ask_for_owner_only_uploads():
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700


def test_a_fresh_checkout_creates_var_the_database_and_keys_owner_only(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TADASU_FIELD_KEYS")}
    env |= {"DJANGO_DEBUG": "1", "TADASU_VAR_DIR": str(var)}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(  # noqa: S603  # nosec B603  # fixed argument list, no shell
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        # A permissive umask, as a shared server may have: the modes must not depend on it.
        preexec_fn=lambda: os.umask(0o002),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    created = [var / "tadasu.sqlite3", var / "secret_key", var / "field_key"]
    created += [p for p in var.glob("tadasu.sqlite3-*")]  # WAL and shared-memory files
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
