"""Importing sheets: encodings, XLSX, the header guess, all-or-nothing, My Number."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django_scopes import scopes_disabled

from cases.models import AuditEntry
from cases.scoping import tenant_scope
from receptions import services, sheets
from receptions.errors import SheetRefused
from receptions.models import Outcome, Reception, ReceptionSheet

from .conftest import MAPPING
from .sheets import HEADER, reception_csv, reception_xlsx

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
MY_NUMBER = "123456789018"  # passes the check digit (public test value)


def _rows(office):
    return [
        (office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "途中退席", "未", "未"),
        (office.name, "2", "2023/2/7 10:30", "10:55", "佐藤 花子", "完了", "済", "○"),
    ]


def _import(world, data, *, mapping=MAPPING):
    with tenant_scope(world.staff):
        return services.sheet_import(
            data=data, file_name="sheet", mapping=mapping, by=world.staff, contractor=None
        )


def _stored(world):
    with scopes_disabled():
        return list(Reception.objects.order_by("started_at").values_list("citizen_name", flat=True))


@pytest.mark.parametrize(
    "encode",
    [
        lambda rows: reception_csv(rows),
        lambda rows: b"\xef\xbb\xbf" + reception_csv(rows),  # Excel's UTF-8 with BOM
        lambda rows: reception_csv(rows, encoding="cp932"),  # Shift_JIS as Excel saves it
        lambda rows: reception_xlsx(rows),
    ],
    ids=["utf-8", "utf-8-bom", "cp932", "xlsx"],
)
def test_a_sheet_imports_in_every_encoding_and_as_xlsx(world, encode):
    sheet = _import(world, encode(_rows(world.office)))
    assert sheet.row_count == 2
    assert _stored(world) == ["鈴木 次郎", "佐藤 花子"]
    with scopes_disabled():
        d = Reception.objects.get(citizen_name="鈴木 次郎")
        c = Reception.objects.get(citizen_name="佐藤 花子")
    assert d.outcome == Outcome.LEFT and not d.leader_checked and not d.checklist_signed
    assert c.outcome == Outcome.COMPLETED and c.leader_checked and c.checklist_signed
    assert d.started_at == datetime(2023, 2, 7, 10, 15, tzinfo=TOKYO)
    assert d.ended_at == datetime(2023, 2, 7, 10, 25, tzinfo=TOKYO)
    assert d.office == world.office


def test_xlsx_cells_with_native_dates_and_numbers(world):
    start = datetime(2023, 2, 7, 9, 0)
    data = reception_xlsx([(world.office.name, 3, start, None, "高橋 一郎", "中断", True, 0)])
    _import(world, data)
    with scopes_disabled():
        r = Reception.objects.get()
    assert r.terminal == "3" and r.started_at == start.replace(tzinfo=TOKYO)
    assert r.outcome == Outcome.SUSPENDED and r.leader_checked and not r.checklist_signed


def test_one_bad_row_imports_nothing_and_names_the_row(world):
    rows = [*_rows(world.office), (world.office.name, "2", "2023-02-31 10:00", "", "誰か", "完了")]
    rows.append(("存在しない窓口", "1", "2023-02-07 11:00", "", "誰か", "不明"))
    with pytest.raises(SheetRefused) as refused:
        _import(world, reception_csv(rows))
    label = {target: str(label) for target, (label, _names) in sheets.TARGETS.items()}
    lines = {(line, column) for line, column, _message in refused.value.rows}
    # Line 1 is the header: the bad rows are lines 4 and 5 of the file.
    assert (4, label["start"]) in lines
    assert (5, label["office"]) in lines and (5, label["outcome"]) in lines
    assert _stored(world) == []
    with scopes_disabled():
        assert not ReceptionSheet.objects.exists()


@pytest.mark.parametrize("start", ["0001/1/1 0:0", "1867-12-31 10:00"])
def test_a_time_before_meiji_is_refused_as_a_typo_not_a_crash(world, start):
    # Year 1 in Japan's time cannot even be converted to UTC (found by Hypothesis).
    rows = [(world.office.name, "1", start, "", "誰か", "完了")]
    with pytest.raises(SheetRefused) as refused:
        _import(world, reception_csv(rows))
    label = str(sheets.TARGETS["start"][0])
    assert [(line, column) for line, column, _ in refused.value.rows] == [(2, label)]
    assert _stored(world) == []


def test_a_sheet_with_an_individual_number_is_refused_without_echoing_it(world):
    rows = [*_rows(world.office)]
    rows[1] = (*rows[1][:5], "完了", "済", f"番号 {MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]}")
    with pytest.raises(SheetRefused) as refused:
        _import(world, reception_csv(rows))
    assert MY_NUMBER not in refused.value.message and MY_NUMBER[:4] not in refused.value.message
    assert "3" in refused.value.message  # the line of the file
    assert _stored(world) == []


def test_an_individual_number_in_an_unmapped_column_of_xlsx_is_refused(world):
    header = (*HEADER, "備考")
    data = reception_xlsx([(*_rows(world.office)[0], int(MY_NUMBER))], header=header)
    with pytest.raises(SheetRefused):
        _import(world, data)


def test_twelve_digits_failing_the_check_digit_are_not_a_my_number(world):
    rows = [(world.office.name, "123456789019", "2023-02-07 10:00", "", "鈴木 次郎", "完了")]
    _import(world, reception_csv(rows))
    assert _stored(world) == ["鈴木 次郎"]


def test_the_same_file_twice_is_refused(world):
    data = reception_csv(_rows(world.office))
    _import(world, data)
    with pytest.raises(SheetRefused, match="取込済み"):
        _import(world, data)
    assert len(_stored(world)) == 2


def test_one_audit_entry_per_import_without_names(world):
    rows = _rows(world.office) * 20
    rows = [
        (*r[:2], f"2023-02-07 {9 + i // 60:02d}:{i % 60:02d}", *r[3:]) for i, r in enumerate(rows)
    ]
    _import(world, reception_csv(rows))
    entries = list(AuditEntry.objects.filter(action="tadasu.reception.sheet_imported"))
    assert len(entries) == 1 and entries[0].data["rows"] == 40
    assert "佐藤" not in str(entries[0].data)


def test_only_city_staff_and_managers_import(world):
    for user in (world.contractor, world.auditor):
        with tenant_scope(user), pytest.raises(PermissionDenied):
            services.sheet_import(
                data=reception_csv(_rows(world.office)),
                file_name="x.csv",
                mapping=MAPPING,
                by=user,
            )


def test_an_office_of_another_city_is_not_found(world):
    rows = [(world.other_city_office.name, "1", "2023-02-07 10:00", "", "鈴木 次郎", "完了")]
    with pytest.raises(SheetRefused) as refused:
        _import(world, reception_csv(rows))
    assert refused.value.rows[0][0] == 2


def test_header_names_are_guessed_in_japanese_and_english():
    guess = sheets.guess_mapping(
        [
            "No",
            "受付日",
            "窓口名",
            "端末番号",
            "開始",
            "終了",
            "お名前",
            "手続き",
            "状態",
            "リーダー確認",
            "チェック表署名",
        ]
    )
    assert guess == {
        "office": 2,
        "terminal": 3,
        "date": 1,
        "start": 4,
        "end": 5,
        "name": 6,
        "procedure": 7,
        "outcome": 8,
        "leader": 9,
        "checklist": 10,
    }
    english = sheets.guess_mapping(["Office", "Terminal", "Start", "End", "Name", "Outcome"])
    assert [english[t] for t in ("office", "terminal", "start", "end", "name", "outcome")] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]


def test_a_date_column_with_times(world):
    header = ("日付", "窓口", "端末", "開始時刻", "終了時刻", "氏名", "結果")
    data = reception_csv(
        [("2023-02-07", world.office.name, "1", "10:00", "10:20", "伊藤 美咲", "完了")],
        header=header,
    )
    mapping = sheets.guess_mapping(list(header))
    _import(world, data, mapping=mapping)
    with scopes_disabled():
        r = Reception.objects.get()
    assert r.started_at == datetime(2023, 2, 7, 10, 0, tzinfo=TOKYO)


def test_an_unreadable_file_is_refused_with_a_message():
    for data in (b"\x81\xff\xfe" * 20, b"PK\x03\x04broken zip", b"only a header\n"):
        with pytest.raises(SheetRefused):
            sheets.read_table(data)
