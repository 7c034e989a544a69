"""The audit trail page and its CSV (/audit/, /audit/export/): what an auditor reads."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.audit import audit_log
from cases.models import AuditEntry, Role
from cases.services import party_update
from tests.factories import CaseFactory, PartyFactory, member

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8, as the case list's CSV
    return list(csv.reader(io.StringIO(text[1:])))


def _header(html: str) -> list[str]:
    thead = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    return re.findall(r"<th scope=\"col\">(.*?)</th>", thead)


def _rows(html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []


@pytest.fixture
def trail(world, case):
    """A case with a payment and a stage change by staff, and a log-in of the manager."""
    audit_log(
        "tadasu.ledger.payment",
        by=world.staff,
        case=case,
        data={"party": "C氏", "delta": -5000, "side": "contractor", "method": "bank_transfer"},
    )
    audit_log(
        "tadasu.case.stage.close",
        by=world.manager,
        case=case,
        data={"from": "settlement", "to": "closed", "note": ""},
    )
    audit_log("tadasu.auth.login", by=world.manager)
    return case


def test_the_trail_reads_in_japanese_with_the_user_named_once(client, world, trail):
    world.staff.last_name, world.staff.first_name = "小倉", "一郎"
    world.staff.save()
    client.force_login(world.auditor)
    html = client.get("/audit/").content.decode()
    assert _header(html) == ["日時", "案件", "利用者", "操作", "内容", "端末"]
    assert "C氏に5,000円を支払（口座振込、委託事業者負担）" in html
    assert "段階を「精算」から「完了」に変更" in html and "案件の完了" in html
    body = "".join(_rows(html))
    assert "tadasu." not in body and "{&#x27;" not in body and "{" not in body
    payment = next(r for r in _rows(html) if "支払" in r)
    assert payment.count("小倉") == 1 and "staff" not in payment
    assert "小倉 一郎（自治体職員）" in payment


def test_auditors_see_only_their_own_municipality_and_staff_none(client, world, trail):
    other_case = CaseFactory(office=world.other_city_office, created_by=world.staff_other_city)
    audit_log("tadasu.case.opened", by=world.staff_other_city, case=other_case, data={})
    client.force_login(world.auditor)
    html = client.get("/audit/").content.decode()
    # The three of the trail and the auditor's own log-in.
    assert other_case.reference not in html and len(_rows(html)) == 4
    assert other_case.reference not in str(_csv(client.get("/audit/export/")))
    client.force_login(world.staff)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export/").status_code == 403


def test_filters_by_case_user_action_and_dates(client, world, trail):
    other = CaseFactory(office=world.office, created_by=world.staff)
    audit_log("tadasu.case.opened", by=world.staff, case=other, data={"reference": "x"})
    old = AuditEntry.objects.get(case=other)
    client.force_login(world.auditor)

    def rows(query: str) -> list[str]:
        response = client.get("/audit/?" + query)
        assert response.status_code == 200
        return _rows(response.content.decode())

    assert len(rows(f"case={trail.reference}")) == 2
    assert len(rows(f"user={world.manager.pk}")) == 2
    assert len(rows("action=tadasu.case.stage.close")) == 1
    assert len(rows(f"action=tadasu.case.opened&user={world.manager.pk}")) == 0
    today = timezone.localdate(old.at)
    assert len(rows(f"date_from={today}&date_to={today}")) == 5  # and the auditor's log-in
    assert len(rows(f"date_from={today + timedelta(days=1)}")) == 0
    assert len(rows(f"date_to={today - timedelta(days=1)}")) == 0
    # The action select: Japanese names, 「すべて」 first.
    html = client.get("/audit/").content.decode()
    select = re.search(r'<select name="action".*?</select>', html, re.S).group(0)
    assert '<option value="" selected>すべて</option>' in select
    assert '<option value="tadasu.case.stage.close">案件の完了</option>' in select
    users = re.search(r'<select name="user".*?</select>', html, re.S).group(0)
    assert "manager" in users and world.staff_other_city.username not in users


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("date_from=2023-02-30", "date_from", "期間の開始日を日付で入力してください"),
        ("date_to=tomorrow", "date_to", "期間の終了日を日付で入力してください"),
        ("date_from=2023-03-02&date_to=2023-03-01", "date_to", "終了日には開始日以降の日付"),
        ("date_to=9999-12-31", None, None),
        ("date_from=1800-01-01", "date_from", "明治元年"),
        ("action=tadasu.no.such", "action", "操作は一覧から選択してください"),
        ("user=999999999999999999999", "user", "利用者は一覧から選択してください"),
        ("case=%00", "case", "何か文字を入力してください"),
        ("page=abc", None, None),
    ],
)
def test_bad_filters_get_a_message_next_to_the_field_never_a_500(
    client, world, trail, query, field, message
):
    client.force_login(world.auditor)
    response = client.get("/audit/?" + query)
    assert response.status_code == 200
    html = response.content.decode()
    if field is None:
        assert 'class="error"' not in html
        return
    error = re.search(rf'<p class="error" id="id_{field}_error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1)
    assert f'aria-describedby="id_{field}_error"' in html or "aria-describedby" in html
    assert client.get("/audit/export/?" + query).status_code == 200


def test_the_csv_has_the_screens_columns_and_filters(client, world, trail):
    client.force_login(world.auditor)
    html = client.get(f"/audit/?user={world.manager.pk}").content.decode()
    table = _csv(client.get(f"/audit/export/?user={world.manager.pk}"))
    assert table[0] == _header(html) == ["日時", "案件", "利用者", "操作", "内容", "端末"]
    assert [r[3] for r in table[1:]] == ["ログイン", "案件の完了"]
    assert table[2][1] == trail.reference and table[2][4] == "段階を「精算」から「完了」に変更"
    # The export link on the page carries the filters.
    assert f'href="/audit/export/?user={world.manager.pk}"' in html
    # The export itself is on record, with the filters it used.
    exported = AuditEntry.objects.filter(action="tadasu.audit.exported").last()
    assert exported.data == {"user": str(world.manager.pk)}


def test_no_account_number_in_the_page_or_the_csv(client, world, case, unscoped):
    party = PartyFactory(case=case, label="C氏", name="山田 花子")
    party_update(
        party=party,
        by=world.staff,
        label="C氏",
        identified=True,
        name="山田 花子",
        name_kana="",
        phone="093-555-0123",
        address="福岡県北九州市八幡西区黒崎3丁目15-3",
        bank_name="北九州銀行 黒崎支店",
        account_number="7654321",
        payment_service="",
        payment_account="",
        identification_note="",
        identified_on=None,
    )
    # An entry written before masking was the rule holds the values in clear.
    audit_log(
        "tadasu.party.changed",
        by=world.staff,
        case=case,
        data={"label": "C氏", "changes": {"account_number": ["", "1112223"]}},
    )
    client.force_login(world.auditor)
    html = client.get("/audit/").content.decode()
    text = str(_csv(client.get("/audit/export/")))
    for shown in (html, text):
        assert "7654321" not in shown and "1112223" not in shown
        assert "093-555" not in shown
        assert "黒崎3丁目" not in shown and "花子" not in shown
        assert "＊＊＊＊4321" in shown and "＊＊＊＊2223" in shown


@pytest.mark.parametrize("entries", [10, 50, 200])
def test_a_page_takes_the_same_few_queries_however_long_the_trail(
    client, world, django_assert_max_num_queries, entries
):
    users = [world.staff, world.manager, member(Role.STAFF, municipality=world.city)]
    cases = [CaseFactory(office=world.office, created_by=world.staff) for _ in range(3)]
    for n in range(entries):
        audit_log(
            "tadasu.ledger.payment",
            by=users[n % 3],
            case=cases[n % 3],
            data={"party": "C氏", "delta": -n - 1, "side": "municipality", "method": "cash"},
        )
    client.force_login(world.auditor)
    client.get("/audit/")  # sessions, caches
    with django_assert_max_num_queries(9):
        response = client.get("/audit/")
    # force_login wrote the auditor's log-in: one entry more.
    assert len(_rows(response.content.decode())) == min(entries + 1, 50)
    # Its own audit entry takes six (the chain's head, the entry) of the export's queries.
    with django_assert_max_num_queries(11):
        # The header, the entries, the log-in and the export itself.
        assert len(_csv(client.get("/audit/export/"))) == entries + 3


def test_the_pages_follow_on_with_the_filters(client, world, case):
    for _n in range(60):
        audit_log("tadasu.auth.login", by=world.staff)
    client.force_login(world.auditor)
    html = client.get(f"/audit/?user={world.staff.pk}").content.decode()
    assert "1/2ページ" in html or "2ページ中1ページ目" in html
    assert f'href="?user={world.staff.pk}&amp;page=2"' in html
    second = client.get(f"/audit/?user={world.staff.pk}&page=2").content.decode()
    assert len(_rows(second)) == 10


def test_odd_filter_values_never_break_the_page_or_the_streamed_csv(client, world, trail):
    """As tests/test_fuzz_all_forms.py probes them; the CSV is read to its end, since a
    streamed file that fails half-way would not show as a 500."""
    probes = ["a\x00b", str(2**63), "0001-01-01", "\u202e1", "あ" * 20_000, ["1", "2"]]
    client.force_login(world.auditor)
    for name in ("case", "user", "action", "date_from", "date_to", "page"):
        for probe in probes:
            assert client.get("/audit/", {name: probe}).status_code == 200, (name, probe)
            response = client.get("/audit/export/", {name: probe})
            assert response.status_code == 200 and _csv(response)[0][0] == "日時"


def test_entries_of_no_user_say_who_acted(client, world):
    audit_log(
        "tadasu.reminders.sent",
        by=None,
        municipality_id=world.city.pk,
        data={"mails": 3, "cases": 5, "within_days": 3},
    )
    audit_log(
        "tadasu.auth.login_failed",
        by=None,
        municipality_id=world.city.pk,
        data={"username": "staff"},
    )
    client.force_login(world.auditor)
    table = _csv(client.get("/audit/export/"))
    rows = {r[3]: r for r in table[1:]}
    assert rows["期限通知メールの送信"][2:5] == [
        "（システム）",
        "期限通知メールの送信",
        "期限通知メールを3通送信（対象5件）",
    ]
    assert rows["ログイン失敗"][2] == "（ログイン前）"
