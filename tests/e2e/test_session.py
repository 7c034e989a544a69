"""What a shared desk PC must not show: after log-out, after idle time, to another company."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from remedies.demo import DEMO_PASSWORD

from .ui import MouseUi

pytestmark = pytest.mark.e2e

CASE = "/cases/401005-2022-003/"
# Personal data of the demo's C氏 and D氏 (fictitious), as the case page shows them.
PERSONAL = ["佐藤 花子", "鈴木 次郎"]


def test_back_after_log_out_shows_no_personal_data(page, demo):
    ui = MouseUi(page)
    # The case is closed: a manager may reveal, giving the reason (cases/reveal.py).
    ui.log_in("manager", password=DEMO_PASSWORD)
    page.goto(CASE)
    for name in PERSONAL:
        expect(page.locator("main")).to_contain_text(name)
    ui.press_button("表示 C氏")  # the audited reveal: phone and address in clear
    ui.fill("表示が必要な理由", "住民からの再照会")
    ui.press_button("表示する", exact=True)
    expect(page.locator("main")).to_contain_text("093-000-0003")
    ui.log_out()

    # Back, three times: first to the reveal and its reason page (POSTs answered with
    # no-store: Chromium refuses to show them from its cache, ERR_CACHE_MISS), then to the
    # case page (fetched again, and so sent to the log-in page). None may show anything of
    # C or D.
    body = page.locator("body")
    for _ in range(3):
        try:
            page.go_back()
        except PlaywrightError as error:
            assert "ERR_CACHE_MISS" in str(error), error
        for text in [*PERSONAL, "093-000-0003"]:
            expect(body).not_to_contain_text(text)
    # Whatever Back did, the browser shows the log-in page, not a cached case page.
    expect(page.get_by_role("heading", level=1)).to_have_text("ログイン")


def test_idle_session_returns_to_log_in_with_the_reason(page, demo, settings):
    ui = MouseUi(page)
    ui.log_in("staff", password=DEMO_PASSWORD)
    page.goto(CASE)
    expect(page.locator("main")).to_contain_text(PERSONAL[0])
    # The live server reads the same settings: any pause since the last request is now
    # longer than the idle limit (instead of waiting 15 minutes).
    settings.TADASU_SESSION_IDLE_TIMEOUT = timedelta(0)
    page.reload()
    expect(page).to_have_url(re.compile(rf"/accounts/login/\?next={CASE}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("ログイン")
    expect(page.get_by_role("status")).to_contain_text("一定時間操作がなかったため")
    expect(page.locator("body")).not_to_contain_text(PERSONAL[0])
    # Logged out for good: with the normal limit again, the case still asks for a log-in.
    settings.TADASU_SESSION_IDLE_TIMEOUT = timedelta(minutes=15)
    page.goto(CASE)
    expect(page.get_by_role("heading", level=1)).to_have_text("ログイン")


def test_a_contractor_of_another_company_cannot_reach_the_case_by_url(page, demo):
    ui = MouseUi(page)
    ui.log_in("other-contractor", password=DEMO_PASSWORD)
    for url in (CASE, f"{CASE}visits/new/", "/cases/401005-2022-001/"):
        response = page.goto(url)
        assert response.status == 404, url
        expect(page.get_by_role("heading", level=1)).to_have_text("ページが見つかりません")
        for text in [*PERSONAL, "401005-2022-003", "八幡西区"]:
            expect(page.locator("main")).not_to_contain_text(text)
    # Their own case list does not show the case either.
    page.goto("/cases/")
    expect(page.locator("main")).not_to_contain_text("401005-2022-003")
