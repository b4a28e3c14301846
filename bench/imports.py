"""Benchmark: an Excel import of orders — the dry run and the worker's import of a large workbook.

    .venv/bin/python bench/imports.py [--rows 10000]

Builds a workbook of `--rows` good rows (every kind, phones in several spellings, a partner on every tenth row)
on a throwaway SQLite database seeded with the demo people and the deployed lifecycle, then times the dry run
(`imports.dry_run`: read and check every row) and the import (`start_import` + the worker's `run_import`: each
row its own unit of work, its order's process started). Writes its figures to docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import ORDER_KINDS, Order, User  # noqa: E402
from app.services.order_import import COLUMNS  # noqa: E402
from app.usecases import imports  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.support.api import seed  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402

PHONES = ["+7 916 {:03d}-{:02d}-{:02d}", "8 (925) {:03d}-{:02d}-{:02d}", "903{:03d}{:02d}{:02d}"]


def workbook(rows: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Заказы")
    sheet.append([c.header for c in COLUMNS])
    kinds = [russian for russian, _ in ORDER_KINDS.values()]
    for i in range(rows):
        phone = PHONES[i % 3].format(i % 1000, (i // 1000) % 100, i % 97)
        sheet.append([f"BENCH-{i:06d}", kinds[i % len(kinds)], "", f"Заказчик {i}", phone, "",
                      f"Москва, ул. Тестовая, д. {i}", "из бенчмарка", "mega" if i % 10 == 0 else ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = parser.parse_args()

    redis = RedisServer()
    tmp = Path(tempfile.mkdtemp(prefix="bespoke-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}", "JOBS_INLINE": False,
                      "REDIS_URL": redis.url, "SECRET_KEY": "bench", "RQ_QUEUE": "bench-imports",
                      "UPLOADS_DIR": str(tmp / "uploads"), "IMPORT_MAX_ROWS": max(args.rows, 10_000)})
    with app.app_context():
        db.create_all()
    seed(app)
    try:
        data = workbook(args.rows)
        with app.app_context():
            started = time.perf_counter()
            check = imports.dry_run(data)
            dry = time.perf_counter() - started
            assert len(check.accepted) == args.rows, check.errors[:5]
            print(f"dry run of {args.rows} rows: {dry:.2f} s", file=sys.stderr, flush=True)
            db.session.remove()
            sales = db.session.execute(select(User).where(User.login == "sales")).scalar_one()
            started = time.perf_counter()
            record, _, _ = imports.start_import(data, "bench.xlsx", sales)
            queued = time.perf_counter() - started
            started = time.perf_counter()
            outcome = imports.run_import(record.id)
            ran = time.perf_counter() - started
            made = db.session.execute(select(func.count()).select_from(Order)
                                      .where(Order.external_ref.is_not(None))).scalar()
    finally:
        redis.stop()
    result = {"rows": args.rows, "file_kb": round(len(data) / 1024), "dry_run_s": round(dry, 2),
              "start_import_s": round(queued, 2), "import_s": round(ran, 1),
              "rows_per_s": round(args.rows / ran, 1), "created": made, **outcome}
    print(json.dumps(result, indent=2))
    section = (f"## Excel import of orders (issue 15)\n\n`.venv/bin/python bench/imports.py --rows {args.rows}` "
               f"(SQLite, one process, the worker's loop run in place):\n\n"
               f"| rows | file | dry run | start (check + record) | import (each row its own commit) | rows/s |\n"
               f"|---|---|---|---|---|---|\n"
               f"| {args.rows} | {result['file_kb']} KB | {result['dry_run_s']} s | {result['start_import_s']} s | "
               f"{result['import_s']} s | {result['rows_per_s']} |\n\n"
               f"Created {made} orders, {outcome['failed']} rows refused. The dry run reads and checks every row "
               f"(one query per partner code, one per 1,000 external numbers); the import places each row through "
               f"the intake and starts its process, so its time is that of {args.rows} orders taken one by one.\n")
    write_section(Path(args.out), "## Excel import of orders", section)


if __name__ == "__main__":
    main()
