"""The 経過報告書 and the 報道発表資料, issued from the demo (the seed's three cases) through
the real services and read back as a reader of the PDF would read them."""

import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation
from django_scopes import scopes_disabled
from pypdf import PdfReader
from reportlab.graphics.shapes import String

from cases import services as case_services
from cases.models import Case, CaseKind, Office, User
from cases.scoping import tenant_scope
from remedies.documents import fonts as pdf_fonts
from remedies.documents.diagram import movement_drawing
from remedies.documents.fonts import MINCHO_CANDIDATES, fonts
from remedies.documents.press_release import harm_sentence
from remedies.documents.services import document_issue, document_preview, verify
from remedies.errors import RemedyError
from remedies.models import Document, DocumentKind, DocumentStatus

pytestmark = pytest.mark.django_db

ISSUED_ON = date(2023, 3, 22)
# The demo's fictitious citizens: no report or press release may carry them.
NAMES = ["山田", "田中", "佐藤", "鈴木", "ヤマダ", "サトウ"]
# The date column of each case's 経過 as the seed prints it, in order: the first date in
# full, later ones of the same year as 月日, a repeated date as 同日.
ACCOUNT_DATES = ["令和5年2月22日", "同日", "同日", "同日"]
KOKURAMINAMI_DATES = [
    "令和4年9月21日",
    "同日",
    "9月22日",
    "9月27日",
    "同日",
    "10月18日",
    "10月27日",
    "11月10日",
    "11月29日",
]
YAHATANISHI_DATES = [
    "令和5年2月7日",
    "同日",
    "2月10日",
    "3月7日",
    "同日",
    "3月10日",
    "3月16日",
]
# The demo's notes meant for staff: never in a press release.
INTERNAL_NOTES = ["例示", "仮称", "報道資料に記載なし"]


@pytest.fixture
def font(request, monkeypatch):
    """Both font set-ups: fonts() is cached per process, so clear it on the way in and out."""
    if request.param == "embedded":
        if not any(Path(c).is_file() for c in MINCHO_CANDIDATES):
            pytest.skip("no Japanese TrueType font installed")
        monkeypatch.delenv("TADASU_PDF_MINCHO", raising=False)
        monkeypatch.delenv("TADASU_PDF_GOTHIC", raising=False)
    else:
        monkeypatch.setenv("TADASU_PDF_MINCHO", "")
        monkeypatch.setenv("TADASU_PDF_GOTHIC", "")
    pdf_fonts.fonts.cache_clear()
    yield request.param
    pdf_fonts.fonts.cache_clear()


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())
    return User.objects.get(username="staff")


# The seed's three cases; the demo's fourth (a correction by the national system) is not in
# the city's press release.
SEED_WARDS = ("八幡東区役所", "小倉南区役所", "八幡西区役所")


@pytest.fixture
def demo_cases(demo) -> dict[str, Case]:
    with tenant_scope(demo):
        cases = {c.office.name.split(" ")[0]: c for c in Case.objects.select_related("office")}
    return {ward: cases[ward] for ward in SEED_WARDS}


def _plain(value: str) -> str:
    """Text without the line breaks and spaces that wrapping puts anywhere in Japanese."""
    return re.sub(r"\s+", "", value)


def _text(pdf: bytes) -> str:
    return _plain("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _in_order(text: str, expected: list[str]) -> None:
    at = 0
    for item in expected:
        found = text.find(item, at)
        assert found >= 0, f"{item} not found after position {at}"
        at = found + len(item)


def _issue(user, **kwargs) -> Document:
    with tenant_scope(user):
        return document_issue(by=user, dated=ISSUED_ON, **kwargs)


# ---- 報道発表資料 --------------------------------------------------------------------------


@pytest.mark.parametrize("font", ["embedded", "cid"], indirect=True)
def test_press_release_over_the_demo_reads_as_the_seed(demo, demo_cases, font):
    cases = list(demo_cases.values())
    document = _issue(demo, kind=DocumentKind.PRESS_RELEASE, cases=cases)

    assert document.status == DocumentStatus.ISSUED and verify(document)
    with tenant_scope(demo):
        assert set(document.cases.all()) == set(cases)
    text = _text(bytes(document.pdf))
    _in_order(
        text,
        [
            "令和5年3月22日",
            "報道機関各位",
            "マイナポイント支援窓口における公金受取口座の誤登録等について",
            "マイナポータルから登録する公金受取口座に、別人の情報を登録する事務ミスと、"
            "キャッシュレス決済の誤った紐づけの事務ミス2件がありました。",
            "なお、マイナポイントは正しいポイント分がお渡しできており、また当該「公金受取口座」"
            "を用いた給付金等の交付は行われておらず、今回の事務ミスによる実害はありません。",
            "記",
            "1内容",
            "（1）公金受取口座の誤登録",
            "八幡東区役所のマイナポイント支援窓口において",
            "（2）キャッシュレス決済の誤登録",
            "①小倉南区役所のマイナポイント支援窓口において",
            "②八幡西区役所のマイナポイント支援窓口において",
            "2原因",
            "原因については、全件同じ。",
            "画面をログアウトせず、次の方の手続きを開始したことによる事務ミス。（別紙参照）",
            "3経過",
            "（1）公金受取口座の誤登録",
            *ACCOUNT_DATES,
            "（2）キャッシュレス決済の誤登録",
            "①小倉南区役所",
            *KOKURAMINAMI_DATES,
            "②八幡西区役所",
            *YAHATANISHI_DATES,
            "4再発防止策",
            "再発防止に向け、以下の運用の徹底を指導",
            "一人の対応を終える度に必ずログアウトし、申込画面を終了することを徹底。",
            "【問合せ先】",
            "北九州市デジタル市役所推進室",
            "TEL093-582-2144",
            "担当課長：須山担当係長：三浦（雄）",
            "公金受取口座誤登録の動き（推定）",
            "マイナポイント誤登録の動き（推定）",
        ],
    )
    # Each measure once, although all three cases record it.
    assert text.count("リーダーが確認する手順を追加") == 1
    # Not numbered as an outgoing letter; nothing meant for staff, no bookkeeping line.
    assert "デ推第" not in text and not document.number
    for note in INTERNAL_NOTES:
        assert note not in text, note
    for bookkeeping in ("案件を登録", "を発行", "ダウンロード", "段階を変更"):
        assert bookkeeping not in text, bookkeeping
    # Every date of the story, as the 経過 tables print it.
    for printed in ACCOUNT_DATES + KOKURAMINAMI_DATES + YAHATANISHI_DATES:
        assert printed in text
    for name in NAMES:
        assert name not in text
        assert name not in json.dumps(document.data, ensure_ascii=False)


def test_press_release_summarises_each_case_from_its_facts(demo, demo_cases):
    document = _issue(demo, kind=DocumentKind.PRESS_RELEASE, cases=list(demo_cases.values()))
    text = _text(bytes(document.pdf))

    # B is still unidentified: the release says so and why.
    assert (
        "自分名義の口座が登録された方（B氏）は特定に至っていない（身元をデジタル庁に照会中）"
        in (text)
    )
    # C was paid, D apologised to and the excess collected: every balance is zero.
    assert "別人（D氏）のキャッシュレス決済が登録された方（C氏）に謝罪し、" in text
    assert "（D氏）にも謝罪し、誤って多く付与された金額を返還いただいた。" in text
    assert text.count("この事務ミスによる実害はない。") == 3


def test_press_release_of_one_kind_is_titled_by_that_kind(demo, demo_cases):
    cashless = [demo_cases["小倉南区役所"], demo_cases["八幡西区役所"]]
    with tenant_scope(demo):
        text = _text(document_preview(kind=DocumentKind.PRESS_RELEASE, by=demo, cases=cashless))

    assert "マイナポイント支援窓口におけるキャッシュレス決済の誤登録について" in text
    assert "キャッシュレス決済の誤った紐づけの事務ミス2件がありました。" in text
    assert "公金受取口座" not in text
    assert "原因については、全件同じ。" in text
    assert "（1）" not in text  # one kind: no (1)(2) level, only ①②
    _in_order(text, ["①小倉南区役所", *KOKURAMINAMI_DATES, "②八幡西区役所"])


def test_press_release_preview_is_marked_and_not_stored(demo, demo_cases):
    with tenant_scope(demo):
        pdf = document_preview(
            kind=DocumentKind.PRESS_RELEASE, by=demo, cases=list(demo_cases.values())
        )

    assert "【案】未発行（プレビュー）" in _text(pdf)
    # No press release stored (the demo's instalment case holds an issued request).
    with scopes_disabled():
        assert not Document.objects.filter(kind=DocumentKind.PRESS_RELEASE).exists()


def test_press_release_over_two_municipalities_is_refused(demo, demo_cases):
    other_staff = User.objects.get(username="staff-other-city")
    with scopes_disabled():
        office = Office.objects.get(name="みなと市役所 市民窓口")
    with tenant_scope(other_staff):
        other_case = case_services.case_open(
            by=other_staff,
            office=office,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 3, 1),
        )
    mixed = [demo_cases["八幡西区役所"], other_case]

    with scopes_disabled(), pytest.raises(RemedyError):
        document_issue(kind=DocumentKind.PRESS_RELEASE, by=demo, cases=mixed)
    # The preview checks it too: it must not show another city's case either.
    with scopes_disabled(), pytest.raises(RemedyError):
        document_preview(kind=DocumentKind.PRESS_RELEASE, by=demo, cases=mixed)
    # No press release stored (the demo's instalment case holds an issued request).
    with scopes_disabled():
        assert not Document.objects.filter(kind=DocumentKind.PRESS_RELEASE).exists()


def test_lead_says_harm_remains_while_someone_is_still_owed():
    owed = {
        "links": [{"data_kind": "cashless_account", "paid_through": True}],
        "people": [{"balance": 5000}, {"balance": -5000}],
    }

    sentence = harm_sentence([owed])

    assert "マイナポイントの一部が正しい方に付与されていない状態であり" in sentence
    assert "実害はありません" not in sentence


# ---- 経過報告書 ----------------------------------------------------------------------------


@pytest.mark.parametrize("font", ["embedded", "cid"], indirect=True)
def test_report_tells_the_case_by_labels_only(demo, demo_cases, font):
    case = demo_cases["八幡西区役所"]
    document = _issue(demo, kind=DocumentKind.REPORT, case=case)

    text = _text(bytes(document.pdf))
    _in_order(
        text,
        [
            "北九州市長様",  # addressed to the head, from the department
            "北九州市デジタル市役所推進室",
            "経過報告書",
            "案件番号",  # the screens' term
            "401005-2022-003",
            "1内容",
            "（1）関係者",
            "C氏",
            "別人（D氏）のキャッシュレス決済が登録された方",
            "D氏",
            "（2）誤登録の動き（推定）",
            "2原因",
            "【ログアウト漏れ】",
            "3経過",
            "令和5年2月7日",
            # The report is internal: it shows every line of the story, staff notes marked.
            "金額は例示（報道資料に記載なし）。（内部）",
            "3月16日",
            "4精算の状況",
            "精算済",
            "費用負担",
            "5再発防止策",
            "以上",
        ],
    )
    assert "事案番号" not in text
    for name in ["佐藤", "花子", "鈴木", "次郎", "サトウ", "スズキ"]:
        assert name not in text
        assert name not in json.dumps(document.data, ensure_ascii=False)


def test_report_draws_who_got_whose_data(demo, demo_cases):
    document = _issue(demo, kind=DocumentKind.REPORT, case=demo_cases["八幡西区役所"])
    text = _text(bytes(document.pdf))

    # The diagram's own strings: the arrow's data kind and where the points went.
    # The note reads along the arrow (D's account → C's record): D got C's points.
    assert "キャッシュレス決済D氏にC氏分のポイントが付与" in text
    assert "C氏分のポイントがD氏へ" not in text
    assert "矢印の元の方の情報" in text


def test_report_shows_an_unidentified_person_and_no_money_moved(demo, demo_cases):
    document = _issue(demo, kind=DocumentKind.REPORT, case=demo_cases["八幡東区役所"])
    text = _text(bytes(document.pdf))

    assert "未特定（身元をデジタル庁に照会中）" in text
    assert "B氏（未特定）" in text  # the diagram's box
    assert "公金受取口座給付金等の交付なし" in text
    assert "金銭の移動なし" in text
    _in_order(text, ACCOUNT_DATES)


def test_report_shows_the_cost_the_contractor_bore(demo, demo_cases):
    document = _issue(demo, kind=DocumentKind.REPORT, case=demo_cases["小倉南区役所"])
    text = _text(bytes(document.pdf))

    assert "委託事業者5,000円、市0円" in text
    assert "精算済（償却あり）" in text  # F's excess was written off by the manager


def test_report_is_japanese_whoever_issues_it(demo, demo_cases):
    with translation.override("en"):
        document = _issue(demo, kind=DocumentKind.REPORT, case=demo_cases["八幡西区役所"])

    assert document.data["case"]["stage_label"] == "完了"
    assert "完了" in _text(bytes(document.pdf))


# ---- the diagram ---------------------------------------------------------------------------


def _link(source: str, target: str, kind: str = "cashless_account") -> dict:
    label = {"cashless_account": "キャッシュレス決済", "bank_account": "公金受取口座"}[kind]
    return {
        "source": source,
        "target": target,
        "data_kind": kind,
        "data_label": label,
        "paid_through": kind == "cashless_account",
    }


def _strings(drawing) -> list[String]:
    return [s for s in drawing.contents if isinstance(s, String)]


def test_diagram_draws_a_chain_with_each_person_once_in_reading_order():
    # A got B's, B got C's.
    drawing = movement_drawing([_link("B氏", "A氏"), _link("C氏", "B氏")], width=460, fonts=fonts())

    boxes = {s.text: s.x for s in _strings(drawing) if s.text in ("A氏", "B氏", "C氏")}
    assert [s.text for s in _strings(drawing)].count("B氏") == 1
    assert boxes["C氏"] < boxes["B氏"] < boxes["A氏"]
    assert [s.text for s in _strings(drawing)].count("キャッシュレス決済") == 2


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_diagram_fits_one_to_four_unrelated_links_on_the_page(count):
    pairs = [("B氏", "A氏"), ("D氏", "C氏"), ("F氏", "E氏"), ("H氏", "G氏")][:count]
    drawing = movement_drawing([_link(s, t) for s, t in pairs], width=460, fonts=fonts())

    labels = [s.text for s in _strings(drawing)]
    for source, target in pairs:
        assert labels.count(source) == labels.count(target) == 1
    assert all(0 <= s.x <= 460 and 0 <= s.y <= drawing.height for s in _strings(drawing))
    assert drawing.height < 700  # an A4 frame


def test_diagram_draws_a_hub_once_with_the_far_links_over_the_row():
    # A hub: four other people's accounts were registered into A's record in turn.
    links = [_link(p, "A氏") for p in ("B氏", "C氏", "D氏", "E氏")]
    drawing = movement_drawing(links, width=460, fonts=fonts(), unidentified={"B氏"})

    texts = [s.text for s in _strings(drawing)]
    assert texts.count("A氏") == 1 and "（未特定）" in texts
    assert all(0 <= s.x <= 460 for s in _strings(drawing))
