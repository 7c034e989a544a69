"""The reference story of case 3 (C氏 / D氏, 八幡西区), worked through the real UI.

Each persona logs in through the log-in form and does what the story gives them to do;
after each step the test reads the page the way its user would: the stage, the balances,
the 経過, the masked numbers, the documents' numbers. `walk()` takes a Ui, so the same walk
runs with the mouse (test_walk.py) and by keyboard alone (test_keyboard.py).
"""

import io
import re
from collections.abc import Callable
from datetime import date

from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from .ui import Ui

CASE_URL = re.compile(r"/cases/([^/]+)/(#.*)?$")


def section(page: Page, heading: str) -> Locator:
    """The card whose h2 contains `heading` (cards are labelled by their heading)."""
    name = re.compile(rf"^(\d+ )?{re.escape(heading)}$")
    return page.get_by_role("region", name=name)


def stage_is(page: Page, label: str) -> None:
    expect(page.locator(".page-head .stage")).to_have_text(label)
    expect(section(page, "対応状況").locator('[aria-current="step"]')).to_have_text(label)


def balance_row(page: Page, label: str) -> Locator:
    return section(page, "残高・精算").locator("table.balances tr", has_text=label)


def timeline_has(page: Page, *texts: str) -> None:
    timeline = section(page, "経過")
    for text in texts:
        expect(timeline).to_contain_text(text)


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF"), content[:16]
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


def message_is(page: Page, text: str) -> None:
    expect(page.get_by_role("status")).to_contain_text(text)


def open_case(ui: Ui, ref: str) -> None:
    """From wherever log-in lands: the case list in the main menu, then the case."""
    page = ui.page
    ui.follow_link("案件一覧", within=page.get_by_role("navigation", name="メインメニュー"))
    ui.follow_link(ref, within=page.locator("main table"))
    stage = page.locator(".page-head .stage")
    expect(stage).to_be_visible()


def walk(ui: Ui, people, *, check_page: Callable[[Page], None] = lambda page: None) -> str:
    """The whole story; returns the case reference. check_page runs on every page shown."""
    page = ui.page

    # -- 1. The contractor reports the error from its desk --------------------------------
    ui.log_in("contractor")
    check_page(page)
    ui.follow_link("誤登録の報告", within=page.get_by_role("navigation", name="メインメニュー"))
    expect(page.get_by_role("heading", level=1)).to_have_text("誤登録の報告")
    check_page(page)
    ui.select("区役所・窓口", "北九州市 八幡西区役所 マイナポイント支援窓口")
    ui.select("誤登録の種別", "キャッシュレス決済の誤登録")
    ui.fill_date("判明日", date(2023, 2, 7))
    ui.fill(
        "判明の経緯",
        "支援窓口に来た方（C氏）のマイナポイントに、別人（D氏）のキャッシュレス決済が登録されていた。",
    )
    ui.select("原因", "ログアウト漏れ", exact=True)
    ui.fill("原因の詳細", "中断した方の画面をログアウトせず、次の方の手続きを開始した。")
    ui.press_button("報告を送信")
    expect(page).to_have_url(CASE_URL)
    ref = CASE_URL.search(page.url)[1]
    message_is(page, ref)
    stage_is(page, "調査")
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("株式会社エイジェック")
    expect(facts).to_contain_text("令和5年2月7日")
    expect(facts).to_contain_text("未定")
    timeline_has(page, "委託事業者（株式会社エイジェック）から北九州市に報告")
    # A contractor reports; the city works the case: no editing, no stage buttons.
    expect(page.get_by_role("link", name="対象者の追加")).to_have_count(0)
    expect(page.get_by_role("button", name="関係機関照会へ進む")).to_have_count(0)
    check_page(page)
    ui.log_out()

    # -- 2. City staff take it on, add C and D, link them, contact the agency ---------------
    ui.log_in("staff")
    open_case(ui, ref)
    stage_is(page, "調査")
    ui.press_button("この案件を担当する")
    message_is(page, "担当者")
    expect(page.locator("dl.facts").first).to_contain_text("市川 職員")
    # The refer step says what is missing.
    expect(section(page, "対応状況")).to_contain_text("誤登録が記録されていません")
    check_page(page)

    for label, name, kana, phone, account in (
        ("C氏", "佐藤 花子", "サトウ ハナコ", "093-000-0003", "MP-2023-0207-0011"),
        ("D氏", "鈴木 次郎", "スズキ ジロウ", "093-000-0004", "MP-2023-0207-0012"),
    ):
        ui.follow_link("対象者の追加")
        check_page(page)
        ui.fill("呼称", label)
        ui.check("身元判明（氏名確認済み）")
        ui.fill("氏名", name, exact=True)
        ui.fill("ふりがな", kana)
        ui.fill("電話番号", phone)
        ui.fill("住所", "北九州市八幡西区（架空）3-3")
        ui.fill("キャッシュレス決済サービス", "みほんペイ")
        ui.fill("決済サービスのID", account)
        ui.press_button("保存")
        message_is(page, label)
        row = section(page, "内容").locator("tr", has_text=label)
        expect(row).to_contain_text(name)
        # Phone and payment ID masked to their last four characters, address to its city.
        expect(row).to_contain_text("＊＊＊＊" + phone[-4:])
        expect(row).to_contain_text("＊＊＊＊" + account[-4:])
        expect(row).to_contain_text("北九州市＊＊＊＊")
        expect(row).not_to_contain_text(phone)
        expect(row).not_to_contain_text(account)

    # The blocked step links to the form that supplies what is missing.
    ui.follow_link("誤登録の記録", within=section(page, "対応状況"))
    check_page(page)
    # The form reads as one sentence; its preview follows each choice.
    preview = page.locator("#link-preview")
    ui.select("誰の（情報の本人）", "D氏 鈴木 次郎")
    ui.select("どの情報が", "キャッシュレス決済", exact=True)
    expect(preview).to_contain_text("D氏のキャッシュレス決済が…のマイナポイントに登録された")
    ui.select("誰の（登録先の方）", "C氏 佐藤 花子")
    expect(preview).to_contain_text("D氏のキャッシュレス決済がC氏のマイナポイントに登録された")
    ui.check("公金またはポイントの支払いあり")
    ui.fill("備考", "C氏に付与されるべきポイントがD氏に付与された")
    ui.press_button("保存")
    expect(section(page, "内容")).to_contain_text(
        "D氏のキャッシュレス決済がC氏のマイナポイントに登録された"
    )
    # Cause came with the report: the case can go to the agencies now.
    ui.press_button("関係機関照会へ進む")
    message_is(page, "関係機関照会へ進む")
    stage_is(page, "関係機関照会")
    timeline_has(page, "段階を変更（調査 → 関係機関照会）")

    ui.follow_link("関係機関照会の記録", within=section(page, "関係機関への照会"))
    check_page(page)
    ui.check("マイナポイント緊急窓口")
    ui.select("照会元", "委託事業者")
    ui.fill_date("照会日", date(2023, 2, 7))
    ui.select("照会方法", "電話")
    ui.fill("報告・照会の内容", "委託事業者からマイナポイント緊急窓口に連絡し、対応を依頼")
    ui.fill_date("回答日", date(2023, 2, 7))
    ui.fill("回答", "対応できる旨の回答", exact=True)
    ui.press_button("保存")
    contacts = section(page, "関係機関への照会")
    expect(contacts).to_contain_text("マイナポイント緊急窓口")
    expect(contacts).to_contain_text("対応できる旨の回答")
    timeline_has(page, "委託事業者からマイナポイント緊急窓口に連絡し、対応を依頼")

    # 3/7: the operator shows that C's 5,000 points went to D.
    ui.follow_link("誤配分（誤って配分された金額）の記録", within=section(page, "対応状況"))
    check_page(page)
    ui.select("本来受け取るべき対象者", "C氏 佐藤 花子")
    ui.select("実際に受け取った対象者", "D氏 鈴木 次郎")
    ui.fill("金額（円）", "5,000")
    ui.fill_date("日付", date(2023, 3, 7), exact=True)
    ui.fill("備考", "C氏のポイントがD氏に2重に付与されていた")
    ui.press_button("保存")
    expect(balance_row(page, "C氏")).to_contain_text("5,000円")
    expect(balance_row(page, "C氏")).to_contain_text("未払あり")
    expect(balance_row(page, "D氏")).to_contain_text("△5,000円")
    expect(balance_row(page, "D氏")).to_contain_text("過大付与あり")

    ui.press_button("補償協議へ進む")
    stage_is(page, "補償協議")
    ui.follow_link("補償の合意の記録", within=section(page, "対応状況"))
    check_page(page)
    ui.select("負担者", "委託事業者")
    ui.fill("金額（円）", "5000")
    ui.select("補償の方法", "現金")
    ui.fill_date("合意日", date(2023, 3, 7))
    ui.select("対象者", "C氏 佐藤 花子")
    ui.press_button("保存")
    expect(section(page, "補償の合意")).to_contain_text("5,000円")
    ui.press_button("補償の合意により訪問・謝罪へ進む")
    stage_is(page, "訪問・謝罪")
    # Settling needs a visit or a letter for each of them.
    expect(section(page, "対応状況")).to_contain_text("C氏")
    ui.log_out()

    # -- 3. The contractor visits C and hands over what went to D ---------------------------
    ui.log_in("contractor")
    open_case(ui, ref)
    stage_is(page, "訪問・謝罪")
    ui.follow_link("訪問の記録", within=section(page, "訪問・謝罪"))
    check_page(page)
    ui.select("訪問先の対象者", "C氏 佐藤 花子")
    ui.fill_date("訪問日", date(2023, 3, 10))
    ui.fill("訪問場所", "C氏宅")
    ui.select("訪問の目的", "受渡し")
    ui.check("対面で謝罪した")
    ui.fill("対応者（委託事業者）", "株式会社エイジェック")
    ui.fill("訪問の結果", "C氏宅を訪問して謝罪。誤ってD氏に付与された金額をお渡し。")
    ui.fill("お渡しした金額（円）", "5,000")
    ui.select("お渡しの方法", "現金")
    ui.press_button("保存")
    visits = section(page, "訪問・謝罪")
    expect(visits).to_contain_text("受渡し")
    expect(visits).to_contain_text("令和5年3月10日")
    expect(balance_row(page, "C氏")).to_contain_text("精算済")
    expect(balance_row(page, "D氏")).to_contain_text("△5,000円")
    timeline_has(page, "C氏宅を訪問して謝罪。誤ってD氏に付与された金額をお渡し。")
    ui.log_out()

    # -- 4. Staff: the joint check with D at the ward office, and the collection -----------
    ui.log_in("staff")
    open_case(ui, ref)
    ui.follow_link("訪問の記録", within=section(page, "訪問・謝罪"))
    ui.select("訪問先の対象者", "D氏 鈴木 次郎")
    ui.fill_date("訪問日", date(2023, 3, 16))
    ui.fill("訪問場所", "八幡西区役所 マイナポイント支援窓口")
    ui.select("訪問の目的", "三者確認")
    ui.fill("対応者（自治体）", "市職員")
    ui.fill("対応者（委託事業者）", "株式会社エイジェック")
    ui.fill("訪問の結果", "三者でポイントの状態を確認し、誤って多く付与された金額を徴収。")
    ui.fill("徴収した金額（円）", "5000")
    ui.select("徴収者", "委託事業者")
    ui.select("返還の方法", "現金")
    ui.press_button("保存")
    expect(balance_row(page, "D氏")).to_contain_text("精算済")
    expect(balance_row(page, "D氏")).to_contain_text("0円")
    expect(section(page, "訪問・謝罪")).to_contain_text("三者確認")
    ui.press_button("精算へ進む")
    stage_is(page, "精算")

    # Prevention measures, which closing needs.
    # At 精算 staff are told a manager closes, and what still stands in the way, with its form.
    panel = section(page, "対応状況")
    expect(panel).to_contain_text("精算が済んだら、管理職が案件を完了にします。")
    ui.follow_link("案件情報の編集", within=section(page, "対応状況"))
    check_page(page)
    ui.fill("再発防止策", "一人の対応を終える度に必ずログアウトし、申込画面を終了する。")
    ui.press_button("保存")
    expect(section(page, "再発防止策")).to_contain_text("必ずログアウト")

    # The link set right, which closing needs (cases/links.py): D's account out of C's record.
    ui.follow_link("修正を記録", within=section(page, "対応状況"))
    check_page(page)
    ui.fill_date("修正日", date(2023, 3, 16))
    ui.select("修正の方法", "本人がマイナポータルで修正")
    ui.press_button("保存")
    # Its action now offers to change the record: it was saved.
    expect(page.get_by_role("link", name="修正の記録を訂正")).to_be_visible()

    # -- 5. Letters and receipts: issued, listed with their numbers, downloaded ------------
    # The apology letters: one way, from each person's line under お詫び状.
    apologies = section(page, "訪問・謝罪")
    for label in ("C氏", "D氏"):
        expect(apologies.locator("li", has_text=label)).to_contain_text("お詫び状は未発行です")
        ui.follow_link(f"お詫び状を発行する {label}", within=apologies)
        check_page(page)
        # The page opens on the apology letter, for that person: nothing else to choose.
        expect(page.locator('[aria-current="page"]')).to_have_text("お詫び状")
        expect(page.get_by_label("対象者")).to_have_value(re.compile(r"\d+"))
        ui.press_button("発行する")
        message_is(page, "文書を発行しました")
    ui.follow_link("送付を記録する C氏", within=section(page, "訪問・謝罪"))
    check_page(page)
    ui.select("送付の方法", "郵送")  # on the letter's date, as the form proposes
    ui.press_button("保存")
    message_is(page, "お詫び状の送付を記録しました")
    expect(section(page, "訪問・謝罪").locator("li", has_text="C氏")).to_contain_text("郵送")
    # The receipt and the settlement confirmation: the kind first, then its fields only.
    for kind, party, entry in (
        ("受領書", None, "C氏 5,000円"),
        ("精算・返還確認書", "D氏 鈴木 次郎", None),
    ):
        ui.follow_link("文書の作成")
        check_page(page)
        ui.follow_link(kind, exact=True)
        check_page(page)
        if party:
            ui.select("対象者", party)
        else:
            expect(page.get_by_label("対象者")).to_have_count(0)
        if entry:
            control = page.get_by_label("支払")
            option = control.locator("option", has_text=entry).first.inner_text()
            ui.select("支払", option.strip())
        ui.press_button("発行する")
        message_is(page, "文書を発行しました")
    documents = section(page, "文書")
    expect(documents.locator("tbody tr")).to_have_count(4)
    # Only the outgoing letters take a document number; the receipt and the settlement
    # confirmation are forms the person signs.
    numbers = [n.strip() for n in documents.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    letters = [n for n in numbers if re.search(r"第\d+号", n)]
    assert len(set(letters)) == 2 and numbers.count("") == 2, numbers
    expect(documents).to_contain_text("改ざんなし")

    letter = documents.locator("tr", has_text="お詫び状 · C氏")
    pdf = ui.download("ダウンロード", within=letter)
    with open(pdf.path(), "rb") as f:
        text = pdf_text(f.read())
    assert "佐藤 花子" in text and "お詫び" in text, text
    receipt = documents.locator("tr", has_text="受領書")
    with open(ui.download("ダウンロード", within=receipt).path(), "rb") as f:
        text = pdf_text(f.read())
    assert "受　領　書" in text and "金5,000円" in text and "佐藤 花子" in text, text
    # Issuing and downloading are in the audit trail, not in the 経過.
    expect(section(page, "経過")).not_to_contain_text("を発行")
    ui.log_out()

    # -- 6. The manager closes the case ----------------------------------------------------
    ui.log_in("manager")
    open_case(ui, ref)
    stage_is(page, "精算")
    ui.press_button("案件を完了する")
    stage_is(page, "完了")
    timeline_has(page, "段階を変更（精算 → 完了）")
    for label in ("C氏", "D氏"):
        expect(balance_row(page, label)).to_contain_text("精算済")
    check_page(page)
    ui.follow_link("案件一覧", within=page.get_by_role("navigation", name="メインメニュー"))
    expect(page.locator("tr", has_text=ref)).to_contain_text("完了")
    ui.log_out()
    return ref
