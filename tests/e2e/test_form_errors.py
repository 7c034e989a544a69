"""A form sent with mistakes, on a phone (390 × 844) in an English-locale browser, as the
Digital Agency's form pattern asks: the error summary is shown and focused, each of its
lines links to its field and moves the focus there, the page passes axe-core and the form
patterns, and nothing scrolls sideways. Dates are typed year first or in 和暦."""

import re

import pytest
from playwright.sync_api import expect

from remedies.demo import DEMO_PASSWORD

from .pages import _case
from .ui import MouseUi, axe_violations, form_pattern_problems

pytestmark = [pytest.mark.e2e, pytest.mark.axe]

PHONE = {"width": 390, "height": 844}


def test_a_failed_form_on_a_phone_names_each_mistake_and_leads_to_its_field(page, demo):
    page.set_viewport_size(PHONE)
    ui = MouseUi(page)
    ui.log_in("staff", password=DEMO_PASSWORD)
    page.goto(_case(demo, "agreements/new/"))
    # Nothing risky chosen for the clerk; the date of the agreement is today's.
    expect(page.get_by_label(re.compile("^負担者"))).to_have_value("")
    expect(page.get_by_label(re.compile("^補償の方法"))).to_have_value("")
    expect(page.get_by_label(re.compile("^合意日"))).not_to_have_value("")
    # A date in 和暦 and an amount, the rest left out.
    ui.fill("合意日", "令和5年3月7日")
    ui.fill("金額（円）", "5,000")
    ui.press_button("保存", exact=True)

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("入力内容に誤りがあります")
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text("負担者：負担者を選択してください。")
    expect(links.nth(1)).to_have_text("補償の方法：補償の方法を選択してください。")
    # What was typed stays, read back: the 和暦 date as the date it was understood as.
    expect(page.get_by_label(re.compile("^合意日"))).to_have_value("2023-03-07")
    expect(page.locator("#id_agreed_on_wareki")).to_have_text("令和5年3月7日")

    problems = axe_violations(page) + form_pattern_problems(page)
    assert problems == []
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways at 390 px: {width}"

    links.nth(0).click()
    expect(page.get_by_label(re.compile("^負担者"))).to_be_focused()
    expect(page.get_by_label(re.compile("^負担者"))).to_have_attribute("aria-invalid", "true")


def test_a_date_that_is_no_date_is_answered_next_to_its_field(page, demo):
    ui = MouseUi(page)
    ui.log_in("staff", password=DEMO_PASSWORD)
    page.goto(_case(demo, "timeline/new/"))
    ui.fill("日付", "05/01/2024", exact=True)  # month first: never guessed at
    ui.press_button("保存", exact=True)
    error = page.locator("#id_occurred_on_error")
    expect(error).to_contain_text("年・月・日の順で入力してください")
    expect(page.locator(".error-summary a[href='#id_occurred_on']")).to_be_visible()
