"""The link form's live preview follows its selects (static/js/link_sentence.js)."""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from tests.factories import CaseFactory, PartyFactory

from .ui import MouseUi

pytestmark = [pytest.mark.e2e]


def test_the_preview_changes_when_a_select_changes(page, people):
    with scopes_disabled():
        case = CaseFactory(
            office=people.office, contractor=people.contractor_co, created_by=people.staff
        )
        PartyFactory(case=case, label="C氏", name="佐藤 花子")
        PartyFactory(case=case, label="D氏", name="鈴木 次郎")
    ui = MouseUi(page)
    ui.log_in("staff")
    page.goto(f"/cases/{case.reference}/links/new/")
    preview = page.locator("#link-preview")
    expect(preview).to_contain_text("二人の対象者と情報を選択すると")
    ui.select("誰の（情報の本人）", "D氏 鈴木 次郎")
    ui.select("誰の（登録先の方）", "C氏 佐藤 花子")
    expect(preview).to_contain_text("D氏のキャッシュレス決済がC氏のマイナポイントに登録された。")
    # Swapping the people swaps the sentence: the direction reads as it will be stored.
    ui.select("誰の（情報の本人）", "C氏 佐藤 花子")
    ui.select("誰の（登録先の方）", "D氏 鈴木 次郎")
    expect(preview).to_contain_text("C氏のキャッシュレス決済がD氏のマイナポイントに登録された。")
    ui.select("どの情報が", "その他の情報")
    expect(preview).to_contain_text("C氏のその他の情報がD氏の記録に登録された。")
    expect(page.locator("#link-record")).to_have_text("記録")
