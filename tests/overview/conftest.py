from datetime import date

import pytest

from tests.receptions.conftest import import_rows  # noqa: F401 — shared fixtures
from tests.remedies.conftest import answered, story  # noqa: F401

# The day the tests are run "on": after the reference cases, a Wednesday.
TODAY = date(2023, 3, 1)


@pytest.fixture
def today(monkeypatch):
    """Freeze the local date every service and view reads (timezone.localdate)."""
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args, **kwargs: TODAY)
    return TODAY
