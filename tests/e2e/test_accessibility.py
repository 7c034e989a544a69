"""axe-core and the design system's form patterns on every main page (pages.PAGES).

Each page is checked as its usual user sees it and, for forms, again after an empty
submit, where the errors must be tied to their fields. axe-core runs with its default
rules (WCAG 2.x A/AA, contrast included); serious and critical violations fail.
"""

import pytest
from playwright.sync_api import expect

from remedies.demo import DEMO_PASSWORD

from .pages import PAGES
from .ui import MouseUi, axe_violations, form_pattern_problems

pytestmark = [pytest.mark.e2e, pytest.mark.axe]


def test_every_main_page_passes_axe_and_the_form_patterns(page, demo):
    ui = MouseUi(page)
    problems: dict[str, list[str]] = {}
    checked = []
    current_user = None
    for main in PAGES:
        if main.user != current_user:
            if current_user is not None:
                page.context.clear_cookies()
            if main.user is not None:
                ui.log_in(main.user, password=DEMO_PASSWORD)
            current_user = main.user
        response = page.goto(main.url(demo))
        if main.optional and response.status == 404:
            print(f"skipped {main.name}: {main.url(demo)} answers 404 on this branch")
            continue
        found = [] if response.status == main.status else [f"HTTP {response.status}"]
        found += axe_violations(page) + form_pattern_problems(page)
        if main.submit_empty:
            ui.press_button(main.submit_empty, exact=True)
            expect(page.locator(".error-summary")).to_be_visible()
            invalid = page.locator('[aria-invalid="true"]')
            expect(invalid.first).to_be_attached()
            found += [f"after submit: {p}" for p in axe_violations(page)]
            found += [f"after submit: {p}" for p in form_pattern_problems(page)]
        if found:
            problems[main.name] = found
        checked.append(main.name)
    assert problems == {}, "\n".join(f"{k}: {v}" for k, vs in problems.items() for v in vs)
    assert len(checked) >= 36, checked
