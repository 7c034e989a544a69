"""Reception sheets are bounded before they are parsed (issue 17: a 575 KB .xlsx expanded to
300,000 rows, 44 s and 321 MB): rows, columns, cells, and how far an .xlsx expands. Each
refusal is a clear message next to the upload field."""

import time
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from receptions import sheets
from receptions.errors import SheetRefused
from receptions.models import PendingUpload

from .bombs import xlsx_rows
from .sheets import reception_csv

pytestmark = pytest.mark.django_db


def _rows(world, n: int):
    return [(world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "完了")] * n


@pytest.mark.parametrize("dimension", [True, False], ids=["declared", "undeclared"])
def test_an_xlsx_of_300000_rows_is_refused_quickly_in_little_memory(dimension):
    data = xlsx_rows(300_000, dimension=dimension)
    assert len(data) < 2_000_000  # a small file
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SheetRefused) as refused:
            sheets.read_table(data)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "100,000" in refused.value.message  # "more than 100,000 rows"
    assert seconds < 20  # generous for a shared machine under tracemalloc (was 44 s)
    assert peak < 40 * 1024 * 1024  # was 321 MB


def test_a_sheet_of_the_largest_size_is_read(world, settings):
    settings.TADASU_RECEPTION_MAX_ROWS = 50
    assert len(sheets.read_table(reception_csv(_rows(world, 50))).rows) == 50
    assert len(sheets.read_table(xlsx_rows(50, dimension=False)).rows) == 50


def test_a_csv_with_one_row_too_many_is_refused(world, settings):
    settings.TADASU_RECEPTION_MAX_ROWS = 50
    with pytest.raises(SheetRefused) as refused:
        sheets.read_table(reception_csv(_rows(world, 51)))
    assert "50" in refused.value.message
    with pytest.raises(SheetRefused):
        sheets.read_table(xlsx_rows(51, dimension=False))


def test_too_many_columns_are_refused(world):
    header = [f"列{i}" for i in range(101)]
    with pytest.raises(SheetRefused) as refused:
        sheets.read_table(reception_csv([], header=header) + b"a\r\n")
    assert "100" in refused.value.message


def test_too_many_cells_are_refused(world, monkeypatch):
    monkeypatch.setattr(sheets, "MAX_CELLS", 1000)
    with pytest.raises(SheetRefused) as refused:
        sheets.read_table(xlsx_rows(200, dimension=False, columns=8))
    assert "1,000" in refused.value.message
    with pytest.raises(SheetRefused):
        sheets.read_table(reception_csv(_rows(world, 200)))


def test_an_xlsx_expanding_too_far_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setattr(sheets, "MAX_XLSX_EXPANSION_MB", 1)
    data = xlsx_rows(30_000, dimension=True)  # ~2.5 MB of XML in a small file
    with pytest.raises(SheetRefused) as refused:
        sheets.read_table(data)
    assert "1MBを超え" in refused.value.message


def test_the_refusal_is_shown_next_to_the_upload_field(client, world):
    client.force_login(world.staff)
    response = client.post(
        reverse("receptions:upload"),
        {"file": SimpleUploadedFile("bomb.xlsx", xlsx_rows(300_000, dimension=False))},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_file_error"' in body and "100,000行を超えて" in body
    assert not PendingUpload.objects.exists()
