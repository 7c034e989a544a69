"""How a test operates a page: with the mouse (Playwright's locators) or by keyboard alone.

The walk in test_walk.py is written once against `Ui`; `MouseUi` clicks and fills, and
`KeyboardUi` reaches every control with Tab / Shift+Tab only and operates it with the keys a
keyboard user has (typing, Space, Enter, arrow keys). The keyboard version also checks that
every control it lands on shows a visible focus indicator. A control that Tab cannot reach,
or that only a mouse can operate, fails the keyboard walk.

Controls are found by their accessible name (label, role and name): a control without
one cannot be found, which is an accessibility bug in the template, not in the test.
"""

import re
from datetime import date
from pathlib import Path

from playwright.sync_api import Download, Locator, Page, expect

from cases.wareki import wareki

from .conftest import AXE_JS, PASSWORD

# Every element Tab can stop at, in DOM order (no positive tabindex is used in Tadasu).
_TABBABLES_JS = """
() => {
  const all = document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]');
  return Array.from(all).filter(el => {
    if (el.disabled || el.tabIndex < 0) return false;
    if (el.type === 'hidden') return false;
    const details = el.closest('details:not([open])');
    if (details && el.tagName !== 'SUMMARY') return false;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    return el.getClientRects().length > 0 || el.classList.contains('skip-link');
  });
}
"""


_DISTANCE_JS = f"""(target) => {{
  // One stop per control: the app's dates are text boxes (cases/forms_base.DateInput), not
  // the browser's segmented date field.
  const stops = ({_TABBABLES_JS})();
  const to = stops.indexOf(target);
  const from = stops.indexOf(document.activeElement);
  if (to < 0) return null;
  return to - from;
}}"""


class Ui:
    def __init__(self, page: Page):
        self.page = page

    # -- what the walk calls --------------------------------------------------------------
    def fill(self, label: str, value: str, *, exact: bool = False) -> None:
        raise NotImplementedError

    def fill_date(self, label: str, value: date, *, exact: bool = False) -> None:
        raise NotImplementedError

    def select(self, label: str, option: str, *, exact: bool = False) -> None:
        raise NotImplementedError

    def check(self, label: str, checked: bool = True, *, exact: bool = False) -> None:
        raise NotImplementedError

    def press_button(self, name: str, *, exact: bool = False, within: Locator | None = None):
        raise NotImplementedError

    def follow_link(self, name: str, *, exact: bool = False, within: Locator | None = None):
        raise NotImplementedError

    def download(self, name: str, *, within: Locator | None = None) -> Download:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def _scope(self, within: Locator | None):
        return within if within is not None else self.page

    def label(self, label: str, exact: bool) -> Locator:
        # Labels of required fields end in 「※必須」: match the label text, then that mark.
        if exact:
            name = re.compile(rf"^{re.escape(label)}( ※必須)?$")
            return self.page.get_by_label(name)
        return self.page.get_by_label(label)

    def log_in(self, username: str, *, password: str = PASSWORD) -> None:
        self.page.goto("/accounts/login/")
        self.fill("ユーザー名", username)
        self.fill("パスワード", password)
        self.press_button("ログイン")
        expect(self.page.get_by_role("heading", level=1)).not_to_have_text("ログイン")

    def log_out(self) -> None:
        self.press_button("ログアウト")
        expect(self.page.get_by_role("heading", level=1)).to_have_text("ログイン")


class MouseUi(Ui):
    def fill(self, label, value, *, exact=False):
        self.label(label, exact).fill(value)

    def fill_date(self, label, value, *, exact=False):
        self.label(label, exact).fill(value.isoformat())

    def select(self, label, option, *, exact=False):
        self.label(label, exact).select_option(label=option)

    def check(self, label, checked=True, *, exact=False):
        self.label(label, exact).set_checked(checked)

    def press_button(self, name, *, exact=False, within=None):
        self._scope(within).get_by_role("button", name=name, exact=exact).click()

    def follow_link(self, name, *, exact=False, within=None):
        self._scope(within).get_by_role("link", name=name, exact=exact).click()

    def download(self, name, *, within=None):
        with self.page.expect_download() as info:
            self._scope(within).get_by_role("link", name=name).first.click()
        return info.value


class KeyboardUi(Ui):
    """Only page.keyboard: Tab/Shift+Tab to a control, then typing, Space, Enter, arrows."""

    MAX_TABS = 400

    def __init__(self, page: Page):
        super().__init__(page)
        self.tabs = 0  # how many Tab presses the walk took, for the report

    def _focus(self, target: Locator) -> None:
        """Tab (or Shift+Tab) until the target has focus; checks it is visibly focused."""
        target = target.first
        expect(target).to_be_attached()
        handle = target.element_handle()
        if self.page.evaluate("() => document.activeElement === document.body"):
            # A fresh page, maybe scrolled to a #fragment: Tab starts from there, not from
            # the top. One Tab tells where the focus starts.
            self.page.keyboard.press("Tab")
            self.tabs += 1
        # The distance in tab order, then that many presses; checked, and measured again
        # if the count was inexact. Only keys, either way.
        for _ in range(6):
            if handle.evaluate("el => el === document.activeElement"):
                break
            distance = self.page.evaluate(_DISTANCE_JS, handle)
            assert distance is not None, f"not reachable with Tab: {target}"
            key = "Tab" if distance > 0 else "Shift+Tab"
            for _ in range(max(abs(distance), 1)):
                self.page.keyboard.press(key)
                self.tabs += 1
        focused = handle.evaluate("el => el === document.activeElement")
        assert focused, f"Tab never reached {target}"
        visible = handle.evaluate(
            """el => {
              const s = getComputedStyle(el);
              return el.matches(':focus-visible') && s.outlineStyle !== 'none'
                && parseFloat(s.outlineWidth) >= 2;
            }"""
        )
        assert visible, f"no visible focus indicator on {target}"

    def fill(self, label, value, *, exact=False):
        self._focus(self.label(label, exact))
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        if value:
            self.page.keyboard.type(value)

    def fill_date(self, label, value, *, exact=False):
        # A text box taking the date year first (cases/forms_base.DateInput): typed as the
        # papers write it, in 和暦, whatever the browser's locale.
        self.fill(label, wareki(value), exact=exact)

    def select(self, label, option, *, exact=False):
        control = self.label(label, exact)
        self._focus(control)
        wanted, current = control.evaluate(
            """(el, text) => [Array.from(el.options).findIndex(o => o.label.trim() === text),
                              el.selectedIndex]""",
            option,
        )
        assert wanted >= 0, f"no option {option!r} in {label!r}"
        key = "ArrowDown" if wanted > current else "ArrowUp"
        for _ in range(abs(wanted - current)):
            self.page.keyboard.press(key)
        expect(control).to_have_js_property("selectedIndex", wanted)

    def check(self, label, checked=True, *, exact=False):
        control = self.label(label, exact)
        self._focus(control)
        if control.is_checked() != checked:
            self.page.keyboard.press("Space")
        expect(control).to_be_checked(checked=checked)

    def press_button(self, name, *, exact=False, within=None):
        self._focus(self._scope(within).get_by_role("button", name=name, exact=exact))
        self.page.keyboard.press("Enter")

    def follow_link(self, name, *, exact=False, within=None):
        self._focus(self._scope(within).get_by_role("link", name=name, exact=exact))
        self.page.keyboard.press("Enter")

    def download(self, name, *, within=None):
        self._focus(self._scope(within).get_by_role("link", name=name))
        with self.page.expect_download() as info:
            self.page.keyboard.press("Enter")
        return info.value


# --- axe-core ------------------------------------------------------------------------------
def axe_violations(page: Page, *, impacts=("serious", "critical")) -> list[str]:
    """axe-core's serious and critical violations on the current page, one line each.

    Evaluated through the DevTools protocol, so the page's Content-Security-Policy (no
    inline script) stays on while axe runs.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(Path(AXE_JS).read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['targets'])}"
        for v in found
        if v["impact"] in impacts
    ]


# --- the Digital Agency design system's form patterns (デジタル庁デザインシステム) ---------------
_FORM_PATTERNS_JS = """
() => {
  const problems = [];
  const controls = document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea');
  const name = el => el.id || el.name || el.outerHTML.slice(0, 60);
  const labelsOf = el => {
    const labels = Array.from(el.labels || []);
    const group = el.closest('fieldset');
    const legend = group && group.querySelector('legend');
    return {labels, legend};
  };
  for (const el of controls) {
    const {labels, legend} = labelsOf(el);
    const labelled = labels.some(l => l.textContent.trim()) || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push(`no label: ${name(el)}`);
    if (el.placeholder && !labelled) problems.push(`placeholder as the only hint: ${name(el)}`);
    if (el.required || el.getAttribute('aria-required') === 'true') {
      // In a group (checkboxes), the mark belongs on the legend; otherwise on the label.
      const grouped = legend && (el.type === 'checkbox' || el.type === 'radio');
      const marked = grouped ? legend.textContent.includes('※必須')
        : labels.some(l => l.textContent.includes('※必須'));
      if (!marked) problems.push(`required without ※必須: ${name(el)}`);
    }
    if (el.getAttribute('aria-invalid') === 'true') {
      const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
      const errors = ids.map(id => document.getElementById(id))
        .filter(e => e && e.textContent.trim() && e.classList.contains('error'));
      if (!errors.length) problems.push(`error not tied by aria-describedby: ${name(el)}`);
    }
  }
  // Every field error shown must belong to a control that points at it.
  for (const error of document.querySelectorAll('.field .error[id]')) {
    const owner = document.querySelector(`[aria-describedby~="${error.id}"]`);
    if (!owner) problems.push(`error not referenced by its control: ${error.id}`);
  }
  return problems;
}
"""


def form_pattern_problems(page: Page) -> list[str]:
    """Labels on every control, ※必須 on required ones, errors tied with aria-describedby,
    no placeholder-only hints. (Contrast is axe-core's color-contrast rule.)"""
    return page.evaluate(_FORM_PATTERNS_JS)
