"""The same story by keyboard alone: Tab / Shift+Tab, typing, Space, Enter, arrow keys.

Every control the walk uses must be reachable with Tab and show a visible focus ring; the
mouse is never used (KeyboardUi has no click).
"""

import pytest

from .ui import KeyboardUi
from .walk import walk

pytestmark = pytest.mark.e2e


def test_the_story_of_c_and_d_by_keyboard_alone(page, people):
    ui = KeyboardUi(page)
    walk(ui, people)
    print(f"keyboard walk: {ui.tabs} Tab presses")
    assert ui.tabs > 100
