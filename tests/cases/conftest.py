from tests.remedies.conftest import answered, story  # noqa: F401 — shared fixtures
