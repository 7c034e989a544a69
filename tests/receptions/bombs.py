"""Sheets far larger than their files: an .xlsx whose worksheet XML is written directly,
so that 300,000 rows take seconds to build and about 1.5 MB to store."""

import io
import zipfile

from openpyxl import Workbook

HEADER = ["受付窓口", "端末", "開始時刻", "終了時刻", "氏名", "結果", "リーダー確認", "チェック表"]


def xlsx_rows(rows: int, *, dimension: bool, columns: int = 1) -> bytes:
    """A workbook whose first sheet has `rows` rows of `columns` cells (after the header),
    with or without the <dimension> element that declares its size."""
    book = Workbook()
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    letters = [chr(65 + i) for i in range(columns)]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info.filename))
                continue
            with target.open("xl/worksheets/sheet1.xml", "w") as part:
                part.write(
                    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                    b'schemas.openxmlformats.org/spreadsheetml/2006/main">'
                )
                if dimension:
                    part.write(f'<dimension ref="A1:{letters[-1]}{rows + 1}"/>'.encode())
                part.write(b"<sheetData>")
                header = "".join(
                    f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
                    for col, name in zip(letters, HEADER, strict=False)
                )
                part.write(f'<row r="1">{header}</row>'.encode())
                for r in range(2, rows + 2):
                    cells = "".join(
                        f'<c r="{col}{r}" t="inlineStr"><is><t>x</t></is></c>' for col in letters
                    )
                    part.write(f'<row r="{r}">{cells}</row>'.encode())
                part.write(b"</sheetData></worksheet>")
    return out.getvalue()
