"""The reference story through the real UI, with the mouse; axe-core on every page shown."""

import pytest

from .ui import MouseUi, axe_violations
from .walk import walk

pytestmark = [pytest.mark.e2e, pytest.mark.axe]


def test_the_story_of_c_and_d_through_the_ui(page, people):
    seen = []

    def no_serious_violations(page):
        seen.append(page.url)
        assert axe_violations(page) == [], page.url

    walk(MouseUi(page), people, check_page=no_serious_violations)
    assert len(seen) > 15
