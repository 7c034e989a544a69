"""The audit trail as an auditor reads it, on a desk screen and on a phone: axe-core, the
form patterns of its filters, and no sideways scrolling of the page."""

import pytest

from remedies.demo import DEMO_PASSWORD

from .ui import MouseUi, axe_violations, form_pattern_problems

pytestmark = [pytest.mark.e2e, pytest.mark.axe]

WIDTHS = {"desk": (1280, 900), "phone": (390, 844)}


def _overflow(page) -> dict:
    return page.evaluate(
        """() => {
            const wrap = document.querySelector('.audit-wrap');
            const table = document.querySelector('table.audit');
            return {
                page: document.documentElement.scrollWidth,
                window: window.innerWidth,
                wrap: wrap ? wrap.clientWidth : 0,
                table: table ? table.scrollWidth : 0,
            };
        }"""
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_the_audit_trail_reads_at_desk_and_phone_widths(page, demo, width):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    MouseUi(page).log_in("auditor", password=DEMO_PASSWORD)
    for url in ("/audit/", "/audit/?action=tadasu.case.stage.close&date_from=2023-02-30"):
        page.goto(url)
        assert page.locator("table.audit tbody tr").count() >= 1
        problems = axe_violations(page) + form_pattern_problems(page)
        assert problems == [], f"{url} at {width}: {problems}"
        sizes = _overflow(page)
        # No page-level sideways scroll; the table fits its card (nothing scrolls inside).
        assert sizes["page"] <= sizes["window"], sizes
        assert sizes["table"] <= sizes["wrap"], sizes
    page.goto("/audit/?action=tadasu.case.stage.close")
    details = page.locator("table.audit td.details").all_inner_texts()
    assert "段階を「精算」から「完了」に変更" in details, details
