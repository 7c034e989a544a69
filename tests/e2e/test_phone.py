"""Tadasu on a phone and on a desk screen.

- At 1280 px the header is one row for every role (the tops of the first and last items of
  the main menu agree, and the header is no taller than one row).
- At 390 × 844 (a phone) the whole story is walked again, contractor staff recording the
  visit at C's door among it, and no page it passes scrolls sideways.
- At 360 and 390 px the main pages do not scroll sideways, pass axe-core, and the menu folds
  behind a button that says whether it is open (aria-expanded).
"""

import pytest
from playwright.sync_api import expect

from remedies.demo import DEMO_PASSWORD

from .pages import PAGES
from .ui import MouseUi, axe_violations
from .walk import walk

pytestmark = [pytest.mark.e2e, pytest.mark.axe]

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}

_OVERFLOW_JS = """() => ({
  scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  wide: Array.from(document.querySelectorAll('main *')).filter(el => {
    const r = el.getBoundingClientRect();
    return r.right > window.innerWidth + 1 && !el.closest('.table-wrap');
  }).slice(0, 3).map(el => el.tagName + '.' + el.className)})"""


def sideways(page) -> str | None:
    """Why the page scrolls sideways, or None when it does not."""
    found = page.evaluate(_OVERFLOW_JS)
    if found["scroll"] <= found["inner"]:
        return None
    return f"{page.url}: {found['scroll']} px wide in {found['inner']} ({found['wide']})"


class PhoneUi(MouseUi):
    """The mouse walk, with a finger: a control in the folded menu is reached by opening
    the menu first, and every page passed is checked for sideways scrolling."""

    def __init__(self, page):
        super().__init__(page)
        self.pages: list[str] = []

    def _menu_first(self, role, name, exact, within):
        scope = self._scope(within)
        if scope.get_by_role(role, name=name, exact=exact).count():
            return
        toggle = self.page.get_by_role("button", name="メニュー")
        if toggle.count() and toggle.get_attribute("aria-expanded") == "false":
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")

    def _arrived(self):
        self.page.wait_for_load_state()
        problem = sideways(self.page)
        assert problem is None, problem
        self.pages.append(self.page.url)

    def press_button(self, name, *, exact=False, within=None):
        self._menu_first("button", name, exact, within)
        super().press_button(name, exact=exact, within=within)
        self._arrived()

    def follow_link(self, name, *, exact=False, within=None):
        self._menu_first("link", name, exact, within)
        super().follow_link(name, exact=exact, within=within)
        self._arrived()


def test_the_story_on_a_phone_without_sideways_scrolling(page, people):
    page.set_viewport_size(PHONE)
    ui = PhoneUi(page)

    def check(page):
        problem = sideways(page)
        assert problem is None, problem
        assert axe_violations(page) == [], page.url

    walk(ui, people, check_page=check)
    assert len(ui.pages) > 40, ui.pages


def _menu_tops(page) -> list[int]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
             '.site-nav a, .who-org, .who button, .lang-switch select'))
           .map(el => Math.round(el.getBoundingClientRect().top))"""
    )


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_the_header_is_one_row_on_a_desk_screen_for_every_role(page, demo, width):
    ui = MouseUi(page)
    page.set_viewport_size({"width": width, "height": 900})
    heights = {}
    for user in ("staff", "manager", "contractor", "auditor", "admin"):
        page.context.clear_cookies()
        ui.log_in(user, password=DEMO_PASSWORD)
        page.goto("/cases/" if user != "admin" else "/setup/municipality/")
        expect(page.get_by_role("button", name="メニュー")).to_be_hidden()
        nav = page.get_by_role("navigation", name="メインメニュー")
        links = nav.get_by_role("link")
        first, last = links.first.bounding_box(), links.last.bounding_box()
        assert abs(first["y"] - last["y"]) < 2, (user, first, last)
        header = page.locator(".site-header").bounding_box()
        heights[user] = header["height"]
        # Everything in the header sits within the one row: nothing wrapped below it.
        for top in _menu_tops(page):
            assert top < header["y"] + header["height"] / 2, (user, top, header)
    assert max(heights.values()) <= 64, heights


# The pages the phone pass visits: the case page (each role), the visit form, the lists.
PHONE_PAGES = [
    p
    for p in PAGES
    if p.name
    in {
        "case list",
        "case page (open)",
        "case page (closed)",
        "case page (contractor)",
        "visit",
        "whole timeline",
        "work queues",
        "work queues (manager)",
        "dashboard",
        "documents",
        "audit trail",
        "reception sheets",
    }
]


@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390", "360"])
def test_main_pages_fit_a_phone_and_pass_axe_with_the_menu_folded_and_open(page, demo, viewport):
    page.set_viewport_size(viewport)
    ui = MouseUi(page)
    problems: dict[str, list[str]] = {}
    current = None
    for main in PHONE_PAGES:
        if main.user != current:
            page.context.clear_cookies()
            ui.log_in(main.user, password=DEMO_PASSWORD)
            current = main.user
        page.goto(main.url(demo))
        found = [p for p in [sideways(page)] if p] + axe_violations(page)
        toggle = page.get_by_role("button", name="メニュー")
        header = page.locator(".site-header").bounding_box()
        if header["height"] > 72:
            found.append(f"header {header['height']} px tall with the menu folded")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        menu = page.get_by_role("navigation", name="メインメニュー")
        expect(menu).to_be_visible()
        for link in menu.get_by_role("link").all():
            box = link.bounding_box()
            if box["height"] < 44:
                found.append(f"menu link {link.inner_text()} only {box['height']} px tall")
        found += [f"menu open: {p}" for p in axe_violations(page)]
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(menu).to_be_hidden()
        if found:
            problems[main.name] = found
    assert problems == {}, "\n".join(f"{k}: {v}" for k, vs in problems.items() for v in vs)
    assert len(PHONE_PAGES) >= 12


def test_contractor_staff_find_the_visit_form_first_on_the_case_page(page, demo):
    page.set_viewport_size(PHONE)
    ui = MouseUi(page)
    ui.log_in("contractor", password=DEMO_PASSWORD)
    page.goto(f"/cases/{demo.open_ref}/")
    shortcut = page.get_by_role("link", name="訪問を記録する")
    box = shortcut.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box  # on the first screen
    assert box["height"] >= 44, box
    # The index of the sections follows it and jumps to each one.
    index = page.get_by_role("navigation", name="このページの目次")
    expect(index.get_by_role("link", name="経過")).to_be_visible()
    index.get_by_role("link", name="経過").click()
    expect(page).to_have_url(f"{page.url.split('#')[0].rstrip('/')}/#h-timeline")
    shortcut.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("訪問")
    assert sideways(page) is None
