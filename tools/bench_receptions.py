"""Benchmark: import a generated reception sheet of 100,000 rows (a benchmark, not a test).

    .venv/bin/python tools/bench_receptions.py [--rows 100000] [--xlsx]

Runs against a fresh SQLite database in a temporary directory (or DATABASE_URL when set:
then the database must be disposable: a PostgreSQL one is dropped and made again), through
the same services as the upload page:
`upload_store` (read the whole sheet, screen it for individual numbers, keep it) and
`sheet_import` (parse, validate every row, bulk insert, one audit entry). Prints the
seconds of each step; docs/PERFORMANCE.md records the figure.
"""

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
TMP = tempfile.mkdtemp(prefix="tadasu-bench-")
os.environ.setdefault("TADASU_VAR_DIR", TMP)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP}/bench.sqlite3")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
    # Disposable: dropped and made again (`make bench` runs this after tools/bench.py on the
    # same database, whose rows are encrypted with that run's keys).
    sys.path.insert(0, str(BASE / "tools"))
    from bench import _recreate_postgres

    _recreate_postgres(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from cases.models import Membership, Municipality, Office, Role, User  # noqa: E402
from cases.scoping import tenant_scope  # noqa: E402
from receptions import services, sheets  # noqa: E402
from receptions.models import Reception  # noqa: E402

OFFICES = [
    "八幡西区役所 支援窓口",
    "八幡東区役所 支援窓口",
    "小倉南区役所 支援窓口",
    "門司区役所 支援窓口",
]
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
GIVEN = ["花子", "次郎", "一郎", "美咲", "直樹", "恵子", "裕子", "悠斗", "健", "綾"]
OUTCOMES = ["完了"] * 8 + ["中断", "途中退席"]


def generate(rows: int, *, xlsx: bool) -> bytes:
    rng = random.Random(20230207)  # noqa: S311  # test data, not security
    header = [
        "受付窓口",
        "端末",
        "開始時刻",
        "終了時刻",
        "氏名",
        "手続",
        "結果",
        "リーダー確認",
        "チェック表",
    ]
    body = []
    for i in range(rows):
        day = 1 + (i // 4000) % 28
        minute = (i * 7) % 600
        start = (
            f"2023-{1 + (i // 112000) % 12:02d}-{day:02d} {9 + minute // 60:02d}:{minute % 60:02d}"
        )
        end = f"{9 + (minute + 12) // 60:02d}:{(minute + 12) % 60:02d}"
        body.append(
            [
                OFFICES[i % len(OFFICES)],
                str(1 + i % 5),
                start,
                end,
                f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                "マイナポイント申込",
                rng.choice(OUTCOMES),
                rng.choice(["済", "済", "未"]),
                rng.choice(["済", "済", "済", "未"]),
            ]
        )
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in body:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue().encode("cp932")  # Shift_JIS, as a desk's Excel would save it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument(
        "--budget", type=float, help="seconds the whole import may take; exit 1 when over"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    with scopes_disabled():
        city, _ = Municipality.objects.get_or_create(code="401005", defaults={"name": "北九州市"})
        for name in OFFICES:
            Office.objects.get_or_create(municipality=city, name=name)
        staff, created = User.objects.get_or_create(username="bench-staff")
        if created:
            Membership.objects.create(user=staff, role=Role.STAFF, municipality=city)
    data = generate(args.rows, xlsx=args.xlsx)
    kind = "XLSX" if args.xlsx else "CSV (CP932)"
    print(f"{args.rows:,} rows, {kind}, {len(data) / 1e6:.1f} MB, {connection.vendor}")
    with tenant_scope(staff):
        started = time.perf_counter()
        pending = services.upload_store(data=data, file_name="bench.csv", by=staff)
        preview = sheets.read_table(pending.read(), limit=sheets.PREVIEW_ROWS)
        mapping = sheets.guess_mapping(preview.header)
        uploaded = time.perf_counter()
        sheet = services.sheet_import(
            data=pending.read(),
            sha256=pending.sha256,
            file_name=pending.file_name,
            mapping=mapping,
            by=staff,
        )
        done = time.perf_counter()
        if Reception.objects.filter(sheet=sheet).count() != args.rows:
            raise SystemExit("not every row was imported")
    print(f"upload and preview (read + My Number screen + keep): {uploaded - started:.1f} s")
    print(f"import (read + validate + bulk insert + audit): {done - uploaded:.1f} s")
    print(
        f"BENCH-RECEPTIONS rows={args.rows} upload_seconds={uploaded - started:.1f} "
        f"import_seconds={done - uploaded:.1f} total_seconds={done - started:.1f}"
    )
    if args.budget is not None and done - started > args.budget:
        print(f"BUDGET FAILED: {args.rows:,} reception rows took {done - started:.1f} s")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
