"""The names and sentences of audit entries (cases/audit_describe.py): every code the code
base writes has a Japanese name, and each main action reads as a sentence, masked."""

import ast
from pathlib import Path

import pytest
from django.contrib import admin
from django.utils import translation

from cases import audit_describe
from cases.audit_describe import ACTIONS, describe, is_known, label_of

ROOT = Path(__file__).resolve().parents[2]
APPS = ["cases", "remedies", "receptions", "overview", "jobs", "config"]
# Codes built at run time (f-strings), each with what it is built from; a new one must be
# added to the registry and here.
DYNAMIC_PREFIXES = {"tadasu.ledger.", "tadasu.case.stage.", "tadasu.document.", "tadasu.admin."}


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(encoding="utf-8"))


def _is_audit_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name == "audit_log"


def _values(node: ast.AST, tree: ast.Module, scope: ast.AST) -> tuple[set[str], set[str]]:
    """The codes an argument can be (exact), and the prefixes of codes built at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}, set()
    if isinstance(node, ast.IfExp):
        a, pa = _values(node.body, tree, scope)
        b, pb = _values(node.orelse, tree, scope)
        return a | b, pa | pb
    if isinstance(node, ast.JoinedStr):
        first = node.values[0]
        assert isinstance(first, ast.Constant), ast.unparse(node)
        return set(), {first.value}
    if isinstance(node, ast.Name):
        # A local assignment in the calling function, else a module constant.
        for holder in (scope, tree):
            for stmt in ast.walk(holder):
                if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
                ):
                    return _values(stmt.value, tree, scope)
    raise AssertionError(f"an audit code this test cannot read: {ast.unparse(node)}")


def _audit_codes() -> tuple[set[str], set[str]]:
    codes: set[str] = set()
    prefixes: set[str] = set()
    for _path, tree in _sources():
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for node in ast.walk(func):
                if _is_audit_call(node):
                    exact, built = _values(node.args[0], tree, func)
                    codes |= exact
                    prefixes |= built
    return codes, prefixes


def test_every_action_code_written_in_the_code_has_a_name():
    codes, prefixes = _audit_codes()
    assert len(codes) >= 35  # the scan found the calls
    assert {c for c in codes if c not in ACTIONS} == set()
    assert prefixes == DYNAMIC_PREFIXES, "a new code built at run time: add it to the registry"


def test_every_code_built_at_run_time_has_a_name():
    from remedies.documents import services as documents
    from remedies.models import EntryKind
    from remedies.workflow import STEPS

    for kind in EntryKind.values:
        assert f"tadasu.ledger.{kind}" in ACTIONS, kind
    for step in STEPS:
        assert f"tadasu.case.stage.{step}" in ACTIONS, step
    # Documents: the verbs remedies/documents/services.py passes to _log().
    tree = ast.parse(Path(documents.__file__).read_text(encoding="utf-8"))
    verbs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_log":
            exact, built = _values(node.args[1], tree, tree)
            assert not built
            verbs |= exact
    assert verbs >= {"issued", "approved", "downloaded", "requested"}
    for verb in verbs:
        assert f"tadasu.document.{verb}" in ACTIONS, verb
    # The admin site: every model registered there, each way it is changed.
    for model in admin.site._registry:
        for verb in ("added", "changed", "deleted"):
            code = f"tadasu.admin.{model._meta.model_name}.{verb}"
            assert is_known(code), code


def test_every_name_is_in_japanese():
    with translation.override("ja"):
        untranslated = [code for code, action in ACTIONS.items() if str(action.label).isascii()]
        assert untranslated == []
        assert label_of("tadasu.case.stage.close") == "案件の完了"
        assert label_of("tadasu.admin.user.changed") == "ユーザーの変更（管理画面）"
        assert audit_describe.choices()[-1] == ("tadasu.admin.", "管理画面での変更")
    with translation.override("en"):
        assert label_of("tadasu.case.stage.close") == "Case closed"


def ja(code: str, data: dict) -> str:
    with translation.override("ja"):
        return describe(code, data)


@pytest.mark.parametrize(
    "code, data, sentence",
    [
        (
            "tadasu.case.stage.close",
            {"from": "settlement", "to": "closed", "note": ""},
            "段階を「精算」から「完了」に変更",
        ),
        (
            "tadasu.case.stage.withdraw",
            {"from": "inquiry", "to": "withdrawn", "note": "重複して登録したため"},
            "段階を「調査」から「取下げ」に変更（理由：重複して登録したため）",
        ),
        (
            "tadasu.ledger.payment",
            {"party": "C氏", "delta": -5000, "side": "contractor", "method": "bank_transfer"},
            "C氏に5,000円を支払（口座振込、委託事業者負担）",
        ),
        (
            "tadasu.ledger.collection",
            {"party": "D氏", "delta": 5000, "side": "municipality", "method": "cash"},
            "D氏から5,000円を徴収（現金、自治体負担）",
        ),
        (
            "tadasu.ledger.misallocation",
            {"party": "C氏", "delta": 5000, "side": "", "method": ""},
            "C氏への未払5,000円を計上",
        ),
        (
            "tadasu.ledger.reversal",
            {"party": "C氏", "delta": -5000, "side": "", "method": ""},
            "C氏：△5,000円",
        ),
        (
            "tadasu.party.revealed",
            {"label": "C氏", "purpose": "view", "fields": ["phone", "account_number"]},
            "C氏の個人情報を表示（電話番号、口座番号）",
        ),
        (
            "tadasu.party.revealed",
            {"label": "C氏", "purpose": "view", "fields": ["address"], "reason": "監査のため"},
            "C氏の個人情報を表示（住所）（理由：監査のため）",
        ),
        (
            "tadasu.document.issued",
            {"kind": "apology", "number": "デ推第8号", "version": 1, "sha256": "ab"},
            "お詫び状（デ推第8号）を発行",
        ),
        (
            "tadasu.document.issued",
            {"kind": "receipt", "number": "デ推第9号", "version": 2, "sha256": "ab"},
            "受領書（デ推第9号）、第2版を発行",
        ),
        (
            "tadasu.document.issued",
            {"kind": "apology", "number": "デ推第8号", "version": 1, "recipient": "C氏"},
            "C氏へのお詫び状（デ推第8号）を発行",
        ),
        (
            "tadasu.misregistration.added",
            {"source": "D氏", "target": "C氏", "data_kind": "cashless_account"},
            "D氏のキャッシュレス決済がC氏に登録された誤りを記録",
        ),
        (
            "tadasu.auth.login_failed",
            {"username": "staff"},
            "ユーザー名「staff」でのログインに失敗",
        ),
        ("tadasu.auth.login", {}, ""),
    ],
)
def test_main_actions_read_as_sentences(code, data, sentence):
    assert ja(code, data) == sentence


def test_personal_values_are_masked_as_on_the_case_page_even_in_an_old_unmasked_entry():
    data = {
        "label": "C氏",
        "fields": ["account_number", "address", "name", "phone"],
        "changes": {
            "account_number": ["", "1234567"],
            "address": ["", "福岡県北九州市八幡西区黒崎3丁目15-3"],
            "name": ["", "山田 花子"],
            "phone": ["", "093-123-4567"],
        },
    }
    text = ja("tadasu.party.changed", data)
    assert "1234567" not in text and "＊＊＊＊4567" in text
    assert "黒崎" not in text and "福岡県北九州市＊＊＊＊" in text
    assert "花子" not in text and "山＊＊" in text
    assert "093-123" not in text
    assert text.startswith("C氏の情報を変更：口座番号: なし → ＊＊＊＊4567 / 住所: なし → 福岡県北")


def test_the_admin_sites_entries_name_the_object_and_keep_an_offices_name():
    text = ja("tadasu.admin.office.deleted", {"object": "X", "values": {"name": "八幡西区役所"}})
    assert text == "管理画面で区役所・窓口「X」を削除: 名称: 八幡西区役所"
    changes = {"email": ["", "a@b.jp"]}
    text = ja("tadasu.admin.user.changed", {"object": "staff", "changes": changes})
    assert "a@b.jp" not in text and "メールアドレス: なし → ＊＊＊＊b.jp" in text
    text = ja("tadasu.admin.user.changed", {"object": "staff", "password": "password changed"})
    assert text == "管理画面でユーザー「staff」を変更 / パスワードを変更"


def test_unknown_keys_read_as_labelled_items_never_as_a_python_repr():
    text = ja("tadasu.contact.answered", {"reason": "確認", "extra": [1, 2], "ok": True})
    assert text == "理由: 確認 / extra: 1、2 / ok: あり"
    assert "{" not in ja("tadasu.no.such.action", {"before": {"a": 1}, "party": "C氏"})
    assert ja("tadasu.no.such.action", {"party": "C氏"}) == "対象者: C氏"
    # An entry of an older shape than its sentence expects still reads.
    assert ja("tadasu.ledger.payment", {"party": "C氏"}).startswith("C氏に")


def test_the_sentences_read_in_english_too():
    data = {"party": "C氏", "delta": -5000, "side": "contractor", "method": "bank_transfer"}
    with translation.override("en"):
        assert describe("tadasu.ledger.payment", data) == (
            "Paid ¥5,000 to C氏 (bank transfer, borne by the contractor)"
        )
        stage = {"from": "settlement", "to": "closed", "note": ""}
        assert describe("tadasu.case.stage.close", stage) == (
            "Changed the stage from “settlement” to “closed”"
        )
