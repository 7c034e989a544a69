"""The completion-rate panel: right figures, a bounded number of queries, on the page."""

import pytest
from django.urls import reverse

from cases.scoping import tenant_scope
from receptions.selectors import completion_rates

pytestmark = pytest.mark.django_db


def _day(world, n: int, *, month: int = 2) -> list[tuple]:
    """n receptions per pattern on a day of the month: signed, unsigned, suspended without
    a leader check, left mid-way with one."""
    rows = []
    for i in range(n):
        t = f"2023-{month:02d}-07 {9 + (i // 15):02d}:{(i * 4) % 60:02d}"
        rows += [
            (world.office.name, f"A{i}", t, "", f"署名 {i}", "完了", "済", "済"),
            (world.office.name, f"B{i}", t, "", f"未署名 {i}", "完了", "済", "未"),
            (world.office.name, f"C{i}", t, "", f"中断 {i}", "中断", "未", "未"),
            (world.office2.name, f"D{i}", t, "", f"退席 {i}", "途中退席", "済", "済"),
        ]
    return rows


def test_rates_by_office_and_month_and_the_unchecked_receptions(world, import_rows):
    import_rows(_day(world, 2) + _day(world, 1, month=3))
    with tenant_scope(world.manager):
        panel = completion_rates()
    table = {
        (r.office, r.month.month): (r.total, r.complete, r.unchecked, r.rate) for r in panel.rows
    }
    assert table[(world.office.name, 2)] == (6, 2, 2, 33.3)
    assert table[(world.office.name, 3)] == (3, 1, 1, 33.3)
    assert table[(world.office2.name, 2)] == (2, 2, 0, 100.0)
    assert panel.unchecked_count == 3
    assert {r.citizen_name for r in panel.unchecked} == {"中断 0", "中断 1"}


@pytest.mark.parametrize("size", [2, 40])
def test_the_panel_costs_the_same_queries_for_few_and_many_rows(
    world, import_rows, size, django_assert_max_num_queries
):
    import_rows(_day(world, size) + _day(world, size, month=3))
    with tenant_scope(world.manager), django_assert_max_num_queries(2):
        panel = completion_rates()
        assert panel.unchecked_count == 2 * size


@pytest.mark.parametrize("size", [2, 40])
def test_the_receptions_page_queries_are_bounded(
    client, world, import_rows, size, django_assert_max_num_queries
):
    import_rows(_day(world, size))
    client.force_login(world.manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("receptions:index"))
    text = response.content.decode()
    assert "完了チェック表の実施率" in text
    assert f"リーダー確認のない中断・途中退席の受付：{size}件" in text


def test_a_contractor_sees_only_its_own_desks_figures(world, import_rows):
    import_rows(_day(world, 1))
    import_rows(_day(world, 3), contractor=world.other_co, file_name="other.csv")
    with tenant_scope(world.contractor):
        assert sum(r.total for r in completion_rates().rows) == 4
    with tenant_scope(world.other_contractor):
        assert sum(r.total for r in completion_rates().rows) == 12
    with tenant_scope(world.manager):
        assert sum(r.total for r in completion_rates().rows) == 16
