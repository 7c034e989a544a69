"""Reading a reception sheet: bytes → header and rows of text, then rows → values.

CSV in UTF-8 (with or without BOM) or Shift_JIS (CP932), or XLSX (openpyxl, read-only).
Nothing here touches the database; receptions/services.py turns parsed rows into rows.
"""

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from cases.mynumber import INVISIBLE_MESSAGE, contains_individual_number, has_invisible_controls

from .errors import SheetRefused
from .models import Outcome

# The target fields of a reception, in the order the preview shows them, with the header
# names (normalised: NFKC, no spaces, casefolded) that guess the column.
TARGETS: dict[str, tuple] = {
    "office": (
        gettext_lazy("Office / desk"),
        ("窓口", "受付窓口", "窓口名", "会場", "office", "desk"),
    ),
    "terminal": (gettext_lazy("Terminal"), ("端末", "端末番号", "端末no", "pc", "terminal")),
    "date": (gettext_lazy("Date"), ("日付", "受付日", "年月日", "date")),
    "start": (
        gettext_lazy("Start time"),
        ("開始", "開始時刻", "開始日時", "受付時刻", "受付日時", "start", "started", "starttime"),
    ),
    "end": (
        gettext_lazy("End time"),
        ("終了", "終了時刻", "終了日時", "end", "ended", "endtime"),
    ),
    "name": (
        gettext_lazy("Citizen name"),
        ("氏名", "お名前", "名前", "来庁者", "来庁者氏名", "name", "citizen"),
    ),
    "procedure": (gettext_lazy("Procedure"), ("手続", "手続き", "手続内容", "procedure")),
    "outcome": (
        pgettext_lazy("reception", "Outcome"),
        ("結果", "状態", "対応結果", "状況", "outcome", "status", "result"),
    ),
    "leader": (
        gettext_lazy("Leader check done"),
        ("リーダー確認", "リーダーチェック", "リーダー", "leader", "leadercheck"),
    ),
    "checklist": (
        gettext_lazy("Checklist signed"),
        ("チェック表", "チェックシート", "完了チェック表", "チェック表署名", "checklist"),
    ),
}
REQUIRED = ("office", "terminal", "start", "name", "outcome")
PREVIEW_ROWS = 5

OUTCOMES = {
    Outcome.COMPLETED: ("完了", "済", "終了", "completed", "complete", "done"),
    Outcome.SUSPENDED: ("中断", "保留", "suspended", "pending"),
    Outcome.LEFT: ("途中退席", "退席", "離席", "途中離席", "left", "leftmid-way", "leftmidway"),
}
_OUTCOME_OF = {word: value for value, words in OUTCOMES.items() for word in words}
YES = {"済", "済み", "○", "〇", "◯", "✓", "✔", "レ", "有", "あり", "はい", "yes", "y", "true", "1"}
NO = {"", "未", "未了", "×", "✕", "-", "ー", "無", "なし", "いいえ", "no", "n", "false", "0"}

_DATETIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]+(\d{1,2})[:時](\d{1,2})(?:[:分](\d{1,2}))?秒?)?$"
)
_TIME = re.compile(r"^(\d{1,2})[:時](\d{1,2})(?:[:分](\d{1,2}))?秒?$")
MAX_CELL = 200


def max_bytes() -> int:
    return settings.TADASU_RECEPTION_MAX_MB * 1024 * 1024


def key(text: str) -> str:
    """A header or keyword as compared: NFKC, no spaces, casefolded."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass
class Table:
    header: list[str]
    rows: list[list[object]]  # cells as read: str for CSV, native types for XLSX

    def preview(self) -> list[list[str]]:
        return [[cell_text(c) for c in row] for row in self.rows[:PREVIEW_ROWS]]


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).replace("\x00", "").strip()[: MAX_CELL * 2]


def to_csv(table: Table) -> bytes:
    """The sheet as UTF-8 CSV text, every cell as `cell_text` reads it (which the parsers
    read back to the same values). An Excel upload is kept in this form between preview
    and confirmation: reading 100,000 rows of XLSX takes openpyxl many seconds, CSV one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([cell_text(c) for c in row] for row in table.rows)
    return out.getvalue().encode("utf-8")


def is_xlsx(data: bytes) -> bool:
    return zipfile.is_zipfile(io.BytesIO(data))


def decode(data: bytes) -> str:
    """UTF-8 with or without BOM, else CP932 (Shift_JIS as Excel writes it)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise SheetRefused(
            _(
                "The characters of this file could not be read. Save it as CSV in UTF-8 or "
                "Shift_JIS, or as an Excel (.xlsx) file."
            )
        ) from None


# What a sheet may hold, checked before and while it is parsed: a desk's sheet for a month
# is a few thousand rows of a dozen columns; 100,000 rows is the largest the import is
# measured with (tools/bench_receptions.py). A small .xlsx can expand far beyond its size
# (a 575 KB file once held 300,000 rows), so its declared sizes are checked first.
def max_rows() -> int:
    return settings.TADASU_RECEPTION_MAX_ROWS


MAX_COLUMNS = 100
MAX_CELLS = 2_000_000  # rows × columns as the sheet declares or holds them
MAX_XLSX_EXPANSION_MB = 200  # the .xlsx's parts, uncompressed, all together


def _too_many_rows() -> SheetRefused:
    return SheetRefused(
        _(
            "The sheet has more than %(rows)s rows. Split it into several files of at most "
            "%(rows)s receptions each."
        )
        % {"rows": f"{max_rows():,}"}
    )


def _too_many_columns() -> SheetRefused:
    return SheetRefused(
        _("The sheet has more than %(columns)s columns. Keep only the reception columns.")
        % {"columns": MAX_COLUMNS}
    )


def _too_many_cells() -> SheetRefused:
    return SheetRefused(
        _(
            "The sheet has more than %(cells)s cells. Split it into several files, or delete "
            "the columns that are not needed."
        )
        % {"cells": f"{MAX_CELLS:,}"}
    )


def _read_csv(data: bytes, limit: int | None) -> list[list[object]]:
    text = decode(data)
    rows: list[list[object]] = []
    cells = 0
    try:
        for count, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            cells += len(row)
            _check_size(count, len(row), cells)
            if any(row):
                rows.append(row)
                if limit is not None and len(rows) > limit:
                    break
    except csv.Error:
        raise SheetRefused(_("This file could not be read as CSV.")) from None
    return rows


def _check_xlsx_parts(data: bytes) -> None:
    """An .xlsx's size before openpyxl opens it: first its parts' sizes from the zip's
    directory (zipfile reads no part beyond the size declared there, so these bound the
    rest), then the rows and cells of its XML parts counted as bytes. openpyxl cannot be
    asked: opening a worksheet that declares no <dimension> parses every row of it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_XLSX_EXPANSION_MB * 1024 * 1024:
                raise SheetRefused(
                    _(
                        "This Excel file expands to more than %(mb)s MB. Split it into "
                        "several files, or save it as CSV."
                    )
                    % {"mb": MAX_XLSX_EXPANSION_MB}
                )
            rows = cells = 0
            for info in infos:
                if info.filename.endswith(".xml"):
                    with archive.open(info) as part:
                        more_rows, _columns, more_cells = _count_xml(part)
                    rows, cells = rows + more_rows, cells + more_cells
                    _check_size(rows, 0, cells)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise SheetRefused(_("This Excel file could not be read.")) from None


def _check_size(rows: int, columns: int, cells: int) -> None:
    if rows > max_rows() + 1:  # the header line and the receptions
        raise _too_many_rows()
    if columns > MAX_COLUMNS:
        raise _too_many_columns()
    if cells > MAX_CELLS:
        raise _too_many_cells()


# A row or cell element of SpreadsheetML, with or without a namespace prefix.
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")


def _count_xml(part) -> tuple[int, int, int]:
    """Rows and cells of a part's XML, counted in its bytes 1 MB at a time (the middle
    figure, columns, is left to the row-by-row check)."""
    rows = cells = 0
    tail = b""
    while chunk := part.read(1024 * 1024):
        text = tail + chunk
        # Cut at the last "<": an element's name never holds one, so every name before it
        # is whole, and the one after it is counted with the next chunk.
        cut = max(text.rfind(b"<"), 0)
        head, tail = text[:cut], text[cut:]
        rows += len(_ROW.findall(head))
        cells += len(_CELL.findall(head))
        _check_size(rows, 0, cells)
    return rows + len(_ROW.findall(tail)), 0, cells + len(_CELL.findall(tail))


def _read_xlsx(data: bytes, limit: int | None) -> list[list[object]]:
    from openpyxl import load_workbook

    _check_xlsx_parts(data)
    rows: list[list[object]] = []
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise SheetRefused(_("This Excel file could not be read.")) from None
    try:
        sheet = book.worksheets[0]
        cells = 0
        for count, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells += len(row)
            _check_size(count, len(row), cells)
            if any(c not in (None, "") for c in row):
                rows.append(list(row))
                if limit is not None and len(rows) > limit:
                    break
    except SheetRefused:
        raise
    # A damaged upload makes openpyxl raise many kinds of errors (zip, XML, key, value):
    # each of them means the same to the user, so each becomes the same message.
    except Exception:
        raise SheetRefused(_("This Excel file could not be read.")) from None
    finally:
        book.close()
    return rows


def read_table(data: bytes, *, limit: int | None = None) -> Table:
    """The sheet's header and rows (the first `limit` only, for a preview); refuses a file
    holding an individual number in the rows it reads."""
    if len(data) > max_bytes():
        raise SheetRefused(
            _("The file is larger than %(mb)s MB.") % {"mb": settings.TADASU_RECEPTION_MAX_MB}
        )
    rows = _read_xlsx(data, limit) if is_xlsx(data) else _read_csv(data, limit)
    if len(rows) < 2:
        raise SheetRefused(_("The sheet needs a header line and at least one reception."))
    refuse_individual_numbers(rows)
    width = max(len(r) for r in rows)
    header = [cell_text(c) or _("Column %(n)s") % {"n": i + 1} for i, c in enumerate(rows[0])]
    header += [_("Column %(n)s") % {"n": i + 1} for i in range(len(header), width)]
    return Table(header=header, rows=rows[1:])


def refuse_individual_numbers(rows: list[list[object]]) -> None:
    # The message names the row, never the number. contains_individual_number reads any
    # writing (separators, zero-width characters) and returns at once for text with fewer
    # than twelve digits, which keeps 100,000 rows fast.
    for number, row in enumerate(rows, start=1):
        for cell in row:
            if cell is None or isinstance(cell, datetime | date | time | bool):
                continue
            # The whole cell: cell_text cuts a long one short.
            if contains_individual_number(cell if isinstance(cell, str) else cell_text(cell)):
                raise SheetRefused(
                    _(
                        "Line %(line)s of the file holds what looks like an individual "
                        "number (My Number). A sheet with individual numbers is not "
                        "imported: remove them and upload the file again."
                    )
                    % {"line": number}
                )


def guess_mapping(header: list[str]) -> dict[str, int | None]:
    """Which column holds each target, from the header's Japanese or English names."""
    keys = [key(h) for h in header]
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    for target, (_label, names) in TARGETS.items():
        mapping[target] = None
        wanted = [key(n) for n in names]
        for exact in (True, False):
            found = next(
                (
                    i
                    for i, k in enumerate(keys)
                    if i not in taken and any((k == w) if exact else (w in k) for w in wanted if w)
                ),
                None,
            )
            if found is not None:
                mapping[target] = found
                taken.add(found)
                break
    return mapping


# ---- cells → values --------------------------------------------------------------------


class CellError(ValueError):
    pass


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# No reception is older than the first day of Meiji; year 1 in Japan's time would not even
# convert to UTC for the database (OverflowError), so such a cell is refused like any typo.
_FIRST_DAY = date(1868, 1, 25)


def parse_datetime(value: object, day: date | None) -> datetime:
    found = _parse_datetime(value, day)
    if found.date() < _FIRST_DAY:
        raise CellError(_("Write a date and time such as 2023-02-07 10:15."))
    return found


def _parse_datetime(value: object, day: date | None) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=_tz()) if value.tzinfo is None else value
    if isinstance(value, time):
        if day is None:
            raise CellError(_("Give the date too (a date column, or date and time)."))
        return datetime.combine(day, value, tzinfo=_tz())
    text = unicodedata.normalize("NFKC", cell_text(value))
    match = _DATETIME.match(text)
    try:
        if match:
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
            return datetime(y, mo, d, h, mi, s, tzinfo=_tz())
        match = _TIME.match(text)
        if match and day is not None:
            h, mi, s = (int(g) if g else 0 for g in match.groups())
            return datetime.combine(day, time(h, mi, s), tzinfo=_tz())
    except ValueError:
        pass
    raise CellError(_("Write a date and time such as 2023-02-07 10:15."))


def parse_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", cell_text(value))
    match = _DATETIME.match(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise CellError(_("Write a date such as 2023-02-07."))


def parse_outcome(value: object) -> str:
    outcome = _OUTCOME_OF.get(key(cell_text(value)))
    if outcome is None:
        raise CellError(_("Write 完了 (completed), 中断 (suspended) or 途中退席 (left mid-way)."))
    return outcome


def parse_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = key(cell_text(value))
    if text in YES:
        return True
    if text in NO:
        return False
    raise CellError(_("Write 済 or ○ when it was done, 未 or leave it empty when not."))


def parse_text(value: object, *, required: bool, limit: int) -> str:
    text = " ".join(cell_text(value).split())
    if required and not text:
        raise CellError(_("This cell is empty."))
    if has_invisible_controls(text):
        # Names, desks and terminals: a direction mark or zero-width character would make
        # one name look like another (and defeat the counterpart ranking's comparison).
        raise CellError(str(INVISIBLE_MESSAGE))
    if len(text) > limit:
        raise CellError(_("Too long: at most %(limit)s characters.") % {"limit": limit})
    return text
