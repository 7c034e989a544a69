"""The case list as managers use it: filters, search, sorting, exports."""

import csv
import io
from datetime import date
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from openpyxl import load_workbook

from cases import services
from cases.models import AuditEntry, CaseKind, Party
from cases.scoping import tenant_scope
from cases.search import normalise, party_search_key
from cases.views import PAGE_SIZE

from ..factories import CaseFactory

pytestmark = pytest.mark.django_db

URL = "/cases/"


def _login(client, user):
    client.force_login(user)
    return client


def _search(client, params: dict):
    """Search as the filter form does (a POST), and follow to the list; no URL on the way
    carries the words."""
    response = client.post(URL, params, follow=True)
    words = params.get("q", "")
    for url, _status in response.redirect_chain:
        assert not words or (words not in url and quote(words) not in url), url
    return response


def _shown(response, *cases) -> set[str]:
    body = response.content.decode()
    return {c.reference for c in cases if f">{c.reference}<" in body}


def _case(world, **fields):
    fields.setdefault("office", world.office)
    fields.setdefault("contractor", world.contractor_co)
    fields.setdefault("created_by", world.staff)
    return CaseFactory(**fields)


@pytest.fixture
def sato_case(world):
    case = _case(world)
    with tenant_scope(world.staff):
        services.party_add(
            case=case, by=world.staff, label="C氏", name="佐藤 花子", name_kana="サトウ ハナコ"
        )
    return case


# --- normalising ----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["さとう", "サトウ", "ｻﾄｳ", "佐藤", "佐藤　花子", "ｻﾄｳﾊﾅｺ"])
def test_every_way_of_typing_sato_is_in_the_key(typed):
    assert normalise(typed) in party_search_key("佐藤 花子", "さとう はなこ")


def test_key_does_not_match_across_name_and_kana():
    assert "花子サトウ" not in party_search_key("佐藤 花子", "サトウ ハナコ")


def test_party_update_refreshes_the_search_key(world, sato_case):
    with tenant_scope(world.staff):
        party = Party.objects.get(case=sato_case)
        services.party_update(party=party, by=world.staff, name="鈴木 花子", name_kana="スズキ")
        party.refresh_from_db()
    assert party.search_key == party_search_key("鈴木 花子", "スズキ")


# --- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["さとう", "サトウ", "ｻﾄｳ", "佐藤", "はなこ"])
def test_search_finds_sato_hanako_however_typed(client, world, sato_case, typed):
    other = _case(world)
    response = _search(_login(client, world.staff), {"q": typed})
    assert response.status_code == 200
    assert _shown(response, sato_case, other) == {sato_case.reference}


def test_search_finds_by_reference(client, world, sato_case):
    other = _case(world)
    response = _search(_login(client, world.staff), {"q": sato_case.reference.lower()})
    assert _shown(response, sato_case, other) == {sato_case.reference}


def test_case_with_two_matching_parties_is_listed_once(client, world, sato_case):
    with tenant_scope(world.staff):
        services.party_add(case=sato_case, by=world.staff, label="D氏", name="佐藤 一郎")
    body = _search(_login(client, world.staff), {"q": "佐藤"}).content.decode()
    assert body.count(f">{sato_case.reference}<") == 1


def test_contractor_search_never_finds_another_company_case(client, world, sato_case):
    # other_co serves the city too, but sato_case was at contractor_co's desk.
    response = _search(_login(client, world.other_contractor), {"q": "佐藤"})
    assert response.status_code == 200
    assert _shown(response, sato_case) == set()
    response = _search(_login(client, world.contractor), {"q": "佐藤"})
    assert _shown(response, sato_case) == {sato_case.reference}


def test_search_key_is_never_shown(client, world, sato_case):
    with scopes_disabled():
        key = Party.objects.get(case=sato_case).search_key
    body = _search(_login(client, world.staff), {"q": "さとう"}).content.decode()
    assert key not in body


# --- filters -----------------------------------------------------------------------------


def test_stage_filter_narrows_the_list(client, world):
    inquiry = _case(world)
    closed = _case(world)
    with scopes_disabled():
        type(closed).objects.filter(pk=closed.pk).update(stage="closed")
    response = _login(client, world.manager).get(URL, {"stage": "closed"})
    assert _shown(response, inquiry, closed) == {closed.reference}


def test_kind_filter_narrows_the_list(client, world):
    account = _case(world, kind=CaseKind.ACCOUNT_MISREGISTRATION)
    cashless = _case(world, kind=CaseKind.CASHLESS_LINK)
    response = _login(client, world.manager).get(URL, {"kind": "account"})
    assert _shown(response, account, cashless) == {account.reference}


def test_office_filter_narrows_the_list(client, world):
    here = _case(world, office=world.office)
    there = _case(world, office=world.office2)
    response = _login(client, world.manager).get(URL, {"office": world.office2.pk})
    assert _shown(response, here, there) == {there.reference}


def test_office_of_another_city_is_refused_with_a_message(client, world):
    response = _login(client, world.manager).get(URL, {"office": world.other_city_office.pk})
    assert response.status_code == 200
    assert response.context["filter_form"].errors["office"]


def test_contractor_filter_narrows_the_list(client, world):
    ours = _case(world, contractor=world.contractor_co)
    theirs = _case(world, contractor=world.other_co)
    response = _login(client, world.manager).get(URL, {"contractor": world.other_co.pk})
    assert _shown(response, ours, theirs) == {theirs.reference}


def test_discovered_range_narrows_the_list(client, world):
    early = _case(world, discovered_on=date(2023, 1, 10))
    middle = _case(world, discovered_on=date(2023, 2, 7))
    late = _case(world, discovered_on=date(2023, 3, 30))
    response = _login(client, world.manager).get(
        URL, {"discovered_from": "2023-02-01", "discovered_to": "2023-02-28"}
    )
    assert _shown(response, early, middle, late) == {middle.reference}


def test_sort_by_reference(client, world):
    b = _case(world, reference="R-2", discovered_on=date(2023, 3, 1))
    a = _case(world, reference="R-1", discovered_on=date(2023, 1, 1))
    response = _login(client, world.manager).get(URL, {"sort": "reference"})
    assert [c.reference for c in response.context["page"].object_list] == [
        a.reference,
        b.reference,
    ]


def test_sort_by_stage_follows_the_stage_machine(client, world):
    settlement = _case(world)
    inquiry = _case(world)
    with scopes_disabled():
        type(settlement).objects.filter(pk=settlement.pk).update(stage="settlement")
    response = _login(client, world.manager).get(URL, {"sort": "stage"})
    refs = [c.reference for c in response.context["page"].object_list]
    assert refs == [inquiry.reference, settlement.reference]


def test_pager_keeps_the_filters(client, world):
    for _ in range(PAGE_SIZE + 1):
        _case(world, kind=CaseKind.OTHER)
    body = _login(client, world.manager).get(URL, {"kind": "other"}).content.decode()
    assert "kind=other&amp;page=2" in body


@pytest.mark.parametrize(
    "params",
    [
        {"discovered_from": "2023-13-45"},
        {"discovered_to": "yesterday"},
        {"stage": "nonsense"},
        {"kind": "x" * 20000},
        {"q": "佐" * 20000},
        {"q": "a\x00b"},
        {"office": "99999999999999999999999"},
        {"contractor": "abc"},
        {"sort": "-password"},
        {"page": "-1"},
    ],
)
def test_bad_filter_values_answer_200_with_a_message(client, world, params):
    _case(world)
    response = _login(client, world.manager).get(URL, params, follow=True)
    assert response.status_code == 200
    if "page" not in params:
        assert response.context["filter_form"].errors
        assert 'role="alert"' in response.content.decode()


def test_bad_filter_refuses_the_export(client, world):
    _case(world)
    response = _login(client, world.manager).get(URL, {"stage": "nonsense", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_query_count_does_not_grow_with_the_list(client, world):
    _login(client, world.manager)
    url = client.post(URL, {"q": "T-", "sort": "stage"})["Location"]
    counts = []
    for count in (3, PAGE_SIZE):
        CaseFactory.create_batch(
            count - len(counts) * 3,
            office=world.office,
            contractor=world.contractor_co,
            assignee=world.staff,
            created_by=world.staff,
        )
        cache.clear()  # factory rows bypass the audited services that move the page version
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.context["page"].object_list) == PAGE_SIZE
    assert counts[0] == counts[1]


# --- exports ---------------------------------------------------------------------------------


def _csv_rows(response) -> list[list[str]]:
    content = response.content
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_export_has_bom_and_the_filtered_rows(client, world, sato_case):
    _case(world, kind=CaseKind.OTHER)
    listed = _search(_login(client, world.manager), {"q": "さとう"})
    response = client.get(
        listed.request["PATH_INFO"] + "?" + listed.request["QUERY_STRING"] + "&format=csv"
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "attachment" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert len(rows) == 2
    assert rows[1][0] == sato_case.reference
    assert "C氏 佐藤 花子" in rows[1]


def test_xlsx_export_opens_with_openpyxl(client, world, sato_case):
    response = _login(client, world.staff).get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == sato_case.reference
    assert rows[1][-1] == "C氏 佐藤 花子"


@pytest.mark.parametrize("role", ["contractor", "auditor"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contractors_and_auditors_get_no_names(client, world, sato_case, role, fmt):
    response = _login(client, getattr(world, role)).get(URL, {"format": fmt})
    assert response.status_code == 200
    if fmt == "csv":
        rows = _csv_rows(response)
    else:
        rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows[0]) == 7
    assert rows[1][0] == sato_case.reference
    flat = " ".join(str(v) for row in rows for v in row)
    assert "佐藤" not in flat
    assert "C氏" not in flat


def test_export_is_audited(client, world, sato_case):
    _login(client, world.manager).get(URL, {"format": "csv"})
    entry = AuditEntry.objects.filter(action="tadasu.case.exported").get()
    assert entry.user == world.manager
    assert entry.data == {"format": "csv", "rows": 1}


def test_export_cell_starting_with_equals_stays_text(client, world):
    case = _case(world)
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="=1+1", name="山田 太郎")
    response = _login(client, world.manager).get(URL, {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert list(sheet.iter_rows(values_only=True))[1][-1] == "'=1+1 山田 太郎"


@pytest.mark.parametrize("label", ["＝1+1", "＋1", "－1", "＠SUM(A1)", "﹦1+1", " ＝1+1"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_full_width_formula_start_is_neutralised_too(client, world, label, fmt):
    case = _case(world)
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label=label, name="山田 太郎")
    response = _login(client, world.manager).get(URL, {"format": fmt})
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content)).active
        cell = list(sheet.iter_rows(values_only=True))[1][-1]
    else:
        cell = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1][-1]
    assert cell == f"'{label.strip()} 山田 太郎"


@pytest.mark.parametrize(
    "value", ["=1", "\t=1", "\r=1", "\n=1", "\u200b=1", "\u2066＝1", "\u3000＠x", "-1"]
)
def test_every_formula_start_is_read_past_invisible_characters(value):
    from cases.exports import spreadsheet_safe

    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["北九州市", "A氏 山田 太郎", "401005-2022-001", "（株）＝"])
def test_ordinary_cells_are_left_alone(value):
    from cases.exports import spreadsheet_safe

    assert spreadsheet_safe(value) == value


def test_export_links_carry_the_filters(client, world):
    body = _login(client, world.manager).get(URL, {"kind": "other"}).content.decode()
    assert "?kind=other&amp;format=csv" in body
    assert "?kind=other&amp;format=xlsx" in body


def test_export_names_the_assignee_family_name_first_and_leaves_unassigned_empty(client, world):
    assigned = _case(world)
    unassigned = _case(world, kind=CaseKind.OTHER)
    with scopes_disabled():
        type(assigned).objects.filter(pk=assigned.pk).update(assignee=world.staff)
        type(unassigned).objects.filter(pk=unassigned.pk).update(assignee=None)
    rows = {r[0]: r for r in _csv_rows(_login(client, world.manager).get(URL, {"format": "csv"}))}
    assert rows[assigned.reference][6] == f"{world.staff.last_name} {world.staff.first_name}"
    assert rows[unassigned.reference][6] == ""
    assert rows[unassigned.reference][5] == "調査"  # labels in the reader's language


# --- who the case is about, and what happened, on each row --------------------------------


@pytest.fixture
def people_case(world):
    case = CaseFactory(
        office=world.office,
        contractor=world.contractor_co,
        created_by=world.staff,
        summary="C氏のマイナポイントにD氏のキャッシュレス決済が登録されていた。" + "経緯" * 40,
    )
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        services.party_add(
            case=case,
            by=world.staff,
            label="D氏",
            identified=False,
            identification_note="身元をデジタル庁に照会中",
        )
    cache.clear()
    return case


def _row(client, case) -> str:
    page = client.get(URL).content.decode()
    start = page.index(f">{case.reference}</a>")
    return page[start : page.index("</tr>", start)]


@pytest.mark.parametrize("role", ["staff", "manager", "auditor", "contractor"])
def test_each_row_names_its_people_and_says_in_a_line_what_happened(
    client, world, people_case, role
):
    row = _row(_login(client, getattr(world, role)), people_case)
    assert "C氏 佐藤 花子" in row
    assert "D氏" in row and "身元未判明" in row
    assert "C氏のマイナポイントにD氏のキャッシュレス決済が登録されていた。" in row
    assert "経緯" * 40 not in row  # one line, cut short


def test_contractor_staff_see_only_labels_once_the_case_is_closed(client, world, people_case):
    with scopes_disabled():
        type(people_case).objects.filter(pk=people_case.pk).update(stage="closed")
    cache.clear()
    row = _row(_login(client, world.contractor), people_case)
    assert "C氏" in row and "佐藤" not in row
    cache.clear()
    assert "C氏 佐藤 花子" in _row(_login(client, world.staff), people_case)


def test_other_company_contractor_sees_neither_the_row_nor_the_names(client, world, people_case):
    page = _login(client, world.other_contractor).get(URL).content.decode()
    assert people_case.reference not in page and "佐藤" not in page
