"""Building reception sheets for tests: CSV in any encoding, XLSX."""

import csv
import io

from openpyxl import Workbook

HEADER = ("受付窓口", "端末", "開始時刻", "終了時刻", "氏名", "結果", "リーダー確認", "チェック表")
# The mapping of HEADER's columns as the preview page's selects post it (number from 0;
# "" for a column not in the sheet).
PAGE_MAPPING = {
    "office": 0,
    "terminal": 1,
    "start": 2,
    "end": 3,
    "name": 4,
    "outcome": 5,
    "leader": 6,
    "checklist": 7,
    "date": "",
    "procedure": "",
}


def rows_of(rows) -> list[tuple]:
    """Rows of (office, terminal, start, end, name, outcome[, leader, checklist])."""
    return [tuple(r) + ("",) * (len(HEADER) - len(r)) for r in rows]


def reception_csv(rows, *, encoding: str = "utf-8", header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows_of(rows))
    return buffer.getvalue().encode(encoding)


def reception_xlsx(rows, *, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows_of(rows):
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
