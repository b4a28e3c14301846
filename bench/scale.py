"""Benchmark: lists and dashboards at 100,000 orders / 1,000,000 task rows, on SQLite and PostgreSQL.

    .venv/bin/python bench/scale.py [--orders 100000] [--db sqlite|postgresql|both] [--requests 30]

Builds the database: the demo's people and a few dozen real orders driven through the lifecycle by the engine
(`app.demo.load_demo`), then `--orders` orders copied from them with bulk Core inserts (executemany) — each copy
takes a real order's rows (its instance and state, tasks, audit events, payments, visits, components) moved back
in time to a creation date spread over two years; older orders are mostly finished, ~10 task rows per order
(loops repeat completed tasks). Then times each page through the Flask test client as a signed-in user of the
right role: p50/p95 over `--requests` requests, and the SQL statements one request runs. Prints one JSON object and
writes its figures to docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, insert, select  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.demo import load_demo  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AuditEvent, Component, Customer, HumanTask, Order, Partner, Payment, ProcessInstance, Visit  # noqa: E402
from app.models.analytics import flow_days, flow_months, rating_days, task_days, task_months  # noqa: E402
from app.services import daily_stats, rating_stats  # noqa: E402
from bench.report import pct, write_section  # noqa: E402
from tests.support.api import deploy_processes  # noqa: E402
from tests.support.services import PostgresServer, RedisServer  # noqa: E402
from tests.support.web import signed_in  # noqa: E402

SPAN_DAYS = 730  # creation dates spread over two years, the newest today
TASKS_PER_ORDER = 10
BATCH = 5_000
FIRST = ["Иван", "Мария", "Пётр", "Анна", "Сергей", "Елена", "Алексей", "Ольга", "Дмитрий", "Наталья"]
LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров"]


def _rows(table, where) -> list[dict]:
    return [dict(row._mapping) for row in db.session.execute(select(table).where(where))]


def _shift(row: dict, delta: timedelta) -> dict:
    """The row moved back in time by `delta` (every datetime and date in it)."""
    moved = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value + delta
        elif isinstance(value, date):
            value = value + timedelta(days=delta.days)
        moved[key] = value
    return moved


def _templates() -> list[dict]:
    """Each real order with every row hanging off it."""
    result = []
    for order in _rows(Order.__table__, Order.__table__.c.id > 0):
        oid = order["id"]
        instance = _rows(ProcessInstance.__table__, ProcessInstance.__table__.c.order_id == oid)
        tasks = _rows(HumanTask.__table__, HumanTask.__table__.c.order_id == oid)
        result.append({"order": order, "instance": instance[0] if instance else None,
                       "tasks": sorted(tasks, key=lambda t: t["id"]),
                       "audit": _rows(AuditEvent.__table__, AuditEvent.__table__.c.order_id == oid),
                       "payments": _rows(Payment.__table__, Payment.__table__.c.order_id == oid),
                       "visits": _rows(Visit.__table__, Visit.__table__.c.order_id == oid),
                       "components": _rows(Component.__table__, Component.__table__.c.order_id == oid)})
    return result


class Bulk:
    """Rows per table, flushed with one executemany per BATCH rows."""

    def __init__(self) -> None:
        self.pending: dict = {}
        self.counts: dict[str, int] = {}

    def add(self, table, row: dict) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Every table's pending rows, parents before children (the foreign keys hold at each flush)."""
        for name in db.metadata.sorted_tables:
            rows = self.pending.pop(name, [])
            if rows:
                db.session.execute(insert(name), rows)
                self.counts[name.name] = self.counts.get(name.name, 0) + len(rows)


def build(count: int, seed: int = 16, full_states: bool = False) -> dict:
    """The demo's real orders, then `count` copies of them, bulk-inserted; returns the rows per table. A running
    instance gets its template's workflow state; a finished one an empty state unless `full_states` (~55 KB each:
    5.5 GB at 100,000 orders, which no list page reads and which makes the build take half an hour here)."""
    rng = random.Random(seed)
    load_demo(count=40)
    db.session.remove()
    templates = [t for t in _templates() if t["instance"] is not None]
    finished = [t for t in templates if t["order"]["status"] != "active"]
    active = [t for t in templates if t["order"]["status"] == "active"]
    ids = {table: db.session.execute(select(func.max(table.c.id))).scalar() or 0
           for table in (Order.__table__, Customer.__table__, Partner.__table__, ProcessInstance.__table__,
                         HumanTask.__table__, AuditEvent.__table__, Payment.__table__, Visit.__table__,
                         Component.__table__)}
    bulk = Bulk()
    partner_ids = [p for p in db.session.execute(select(Partner.id)).scalars()]
    for n in range(20):
        ids[Partner.__table__] += 1
        partner_ids.append(ids[Partner.__table__])
        bulk.add(Partner.__table__, {"id": ids[Partner.__table__], "code": f"bench{n:02d}", "name": f"Салон №{n + 1}",
                                     "kind": "point_of_sale", "commission_pct": 10})
    bulk.flush()
    now = clock.now()
    customers = max(1, count * 7 // 10)
    for n in range(customers):
        bulk.add(Customer.__table__, {"id": ids[Customer.__table__] + 1 + n,
                                      "name": f"{rng.choice(LAST)} {rng.choice(FIRST)} №{n}",
                                      "phone": f"+7916{n:07d}", "email": f"c{n}@mail.example", "locale": "ru",
                                      "created_at": now})
    first_customer = ids[Customer.__table__] + 1
    bulk.flush()
    for n in range(count):
        age = (SPAN_DAYS * (count - n)) // count  # the newest last, as they came in
        pool = finished if (age > 45 and rng.random() < 0.93) or not active else active
        template = pool[n % len(pool)]
        src = template["order"]
        delta = (now - timedelta(days=age, minutes=rng.randrange(600))) - src["created_at"]
        ids[Order.__table__] += 1
        oid = ids[Order.__table__]
        order = _shift(src, delta)
        partner = rng.choice(partner_ids) if rng.random() < 0.3 else None
        order.update(id=oid, number=f"B{oid:08d}", external_ref=None, import_id=None, status_key=None,
                     customer_id=first_customer + rng.randrange(customers), partner_id=partner,
                     channel="partner" if partner else src["channel"], kind=rng.choice(
                         ["wardrobe", "furniture", "kitchen", "home_theater", "air_conditioner", "windows"]),
                     onec_refs=None)
        bulk.add(Order.__table__, order)
        ids[ProcessInstance.__table__] += 1
        iid = ids[ProcessInstance.__table__]
        instance = _shift(template["instance"], delta) | {"id": iid, "order_id": oid}
        if not full_states and instance["status"] != "running":
            instance["state"] = ""
        bulk.add(ProcessInstance.__table__, instance)
        tasks = list(template["tasks"])
        done = [t for t in tasks if t["state"] == "completed"]
        loops = done[: max(0, TASKS_PER_ORDER - len(tasks))] if done else []
        for task in loops + tasks:  # the loops first: earlier rounds of the same tasks
            ids[HumanTask.__table__] += 1
            bulk.add(HumanTask.__table__, _shift(task, delta) | {
                "id": ids[HumanTask.__table__], "order_id": oid, "instance_id": iid,
                "task_guid": str(uuid.UUID(int=rng.getrandbits(128)))})
        for table, key in ((AuditEvent.__table__, "audit"), (Payment.__table__, "payments"),
                           (Visit.__table__, "visits"), (Component.__table__, "components")):
            for row in template[key]:
                ids[table] += 1
                extra = {"instance_id": iid} if table is AuditEvent.__table__ and row.get("instance_id") else {}
                if table is Payment.__table__:
                    extra = {"external_id": None, "number": f"P{ids[table]}"}
                bulk.add(table, _shift(row, delta) | {"id": ids[table], "order_id": oid, **extra})
    bulk.flush()
    db.session.commit()
    _reset_sequences()
    return bulk.counts


def _analytics_rows(rebuild: bool = True) -> None:
    """The analytics' and the rating's daily rows, which the bulk inserts bypass: counted from the task rows (as the
    migrations that made the tables do) after a build, or in a kept database whose rows do not add up to its tasks
    (made before a table existed, or by a build that counted only the demo's own orders)."""
    tasks = select(func.count()).select_from(HumanTask).where(HumanTask.order_id.is_not(None))
    for table, backfill, counted in (
            (task_days, daily_stats.backfill, tasks.where(HumanTask.state == "completed",
                                                          HumanTask.completed_at.is_not(None))),
            (flow_days, daily_stats.backfill_flow, tasks),
            (rating_days, rating_stats.backfill, select(func.count()).select_from(HumanTask).where(
                HumanTask.state == "completed", HumanTask.completed_by_id.is_not(None),
                HumanTask.completed_at.is_not(None)))):
        table.create(db.engine, checkfirst=True)
        stored = db.session.execute(select(func.coalesce(func.sum(table.c.tasks), 0))).scalar()
        if rebuild or stored != db.session.execute(counted).scalar():
            began = time.perf_counter()
            written = backfill(db.session.connection())
            db.session.commit()
            print(f"  {table.name}: {written} rows in {time.perf_counter() - began:.0f} s", file=sys.stderr,
                  flush=True)
    stale = False
    for days, months in ((task_days, task_months), (flow_days, flow_months)):  # the day rows summed per month
        months.create(db.engine, checkfirst=True)
        summed = [db.session.execute(select(func.coalesce(func.sum(table.c.tasks), 0))).scalar()
                  for table in (days, months)]
        stale = stale or summed[0] != summed[1]
    if stale:
        print(f"  month rows: {daily_stats.months_from_days(db.session.connection())}", file=sys.stderr, flush=True)
        db.session.commit()


def _reset_sequences() -> None:
    """PostgreSQL: each id sequence past the ids the bulk inserts gave (SQLite takes max(id) + 1 itself)."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.autoincrement in (True, "auto") and table.c.id.primary_key:
            db.session.execute(db.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                       f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"))
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


class Statements:
    """SQL statements run, counted per request."""

    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1


def pages(app) -> dict[str, tuple[str, list[str]]]:
    """page → (login, paths): the paths cycled through the timed requests."""
    with app.app_context():
        numbers = list(db.session.execute(select(Order.number).where(Order.number.like("B%"))
                                          .order_by(func.random()).limit(30)).scalars())
    today = clock.now().date()
    year = f"from={(today - timedelta(days=365)).isoformat()}&to={today.isoformat()}"
    return {
        "inbox_queue": ("sales", ["/inbox?tab=queue"]),
        "inbox_mine": ("sales", ["/inbox?tab=mine"]),
        "orders_list": ("director", ["/orders", "/orders?status=active&sort=promised",
                                     "/orders?kind=kitchen&sort=-price", "/orders?stage=Производство"]),
        "orders_search": ("director", ["/orders?q=Иванов", "/orders?q=B0001"]),
        "order_card": ("director", [f"/orders/{number}" for number in numbers]),
        "board_production": ("director", ["/boards/production"]),
        "board_sales": ("director", ["/boards/sales"]),
        "analytics_month": ("director", ["/analytics/"]),
        "analytics_year": ("director", [f"/analytics/?{year}"]),
        "heatmap_year": ("director", [f"/analytics/heatmap?{year}"]),
        "ratings_month": ("director", ["/ratings/"]),
        "ratings_year": ("director", [f"/ratings/?{year}"]),
    }


def time_pages(app, requests: int, only: set[str] | None = None) -> dict:
    with app.app_context():
        statements = Statements(db.engine)
    clients: dict[str, object] = {}
    result = {}
    for name, (login, paths) in pages(app).items():
        if only and name not in only:
            continue
        client = clients.get(login) or signed_in(app, login)
        clients[login] = client
        client.get(paths[0])  # warm: templates compiled, caches filled
        times, counts = [], []
        for i in range(requests):
            path = paths[i % len(paths)]
            statements.count = 0
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            counts.append(statements.count)
            assert response.status_code == 200, (path, response.status_code)
        result[name] = {"p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1),
                        "queries": max(counts)}
        print(f"  {name}: {result[name]}", file=sys.stderr, flush=True)
    return result


def _built(url: str) -> bool:
    """Whether the PostgreSQL database at `url` already holds a built bench (its orders table exists)."""
    from sqlalchemy import inspect

    engine = create_engine(url)
    try:
        return inspect(engine).has_table("orders")
    finally:
        engine.dispose()


def run(backend: str, orders: int, requests: int, keep: str | None = None, full_states: bool = False,
        pg_url: str | None = None, only: set[str] | None = None, gc_freeze: bool = True) -> dict:
    """Build (or, with `keep` naming a SQLite file already built or `pg_url` a PostgreSQL database already built,
    reuse) the database and time the pages."""
    tmp = Path(tempfile.mkdtemp(prefix="bespoke-scale-"))
    server = PostgresServer() if backend == "postgresql" and not pg_url else None
    reuse = bool(keep and Path(keep).exists()) or bool(pg_url and _built(pg_url))
    url = (pg_url if backend == "postgresql" and pg_url else server.create_database("bespoke_scale") if server
           else f"sqlite:///{keep or tmp / 'scale.sqlite3'}")
    redis = RedisServer()
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_INLINE": True, "REDIS_URL": redis.url,
                          "SECRET_KEY": "bench", "INSTANCE_PATH": str(tmp), "UPLOADS_DIR": str(tmp / "uploads"),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        if gc_freeze:
            gc.freeze()  # as wsgi.py does once the app is made
        began = time.perf_counter()
        if reuse:
            with app.app_context():
                counts = {"orders": db.session.execute(select(func.count()).select_from(Order)).scalar(),
                          "human_tasks": db.session.execute(select(func.count()).select_from(HumanTask)).scalar()}
                _analytics_rows(rebuild=False)
        else:
            with app.app_context():
                db.create_all()
            deploy_processes(app)
            with app.app_context():
                counts = build(orders, full_states=full_states)
                if backend == "sqlite":
                    db.session.execute(db.text("ANALYZE"))
                    db.session.commit()
            with app.app_context():
                _analytics_rows()
        built = time.perf_counter() - began
        print(f"{backend}: built {counts} in {built:.0f} s", file=sys.stderr, flush=True)
        figures = time_pages(app, requests, only)
    finally:
        redis.stop()
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # a --keep file lies elsewhere
    return {"build_s": round(built, 1), "rows": counts, "pages": figures}


def section(result: dict, command: str) -> str:
    backends = [b for b in ("sqlite", "postgresql") if b in result]
    lines = [f"## Lists and dashboards at scale (issue 16)\n\n`.venv/bin/python bench/scale.py {command}` "
             f"(Flask test client, signed in; measured {time.strftime('%Y-%m-%d')} on this 2-core machine, "
             f"shared). Database: {result['orders']} orders copied from real ones, "
             + ", ".join(f"{b}: {result[b]['rows'].get('human_tasks', 0)} task rows built in {result[b]['build_s']} s"
                         for b in backends) + ".\n",
             "| page | " + " | ".join(f"{b} p50 / p95 ms | {b} queries" for b in backends) + " |",
             "|---|" + "---|---|" * len(backends)]
    for page in result[backends[0]]["pages"]:
        cells = []
        for b in backends:
            row = result[b]["pages"][page]
            cells += [f"{row['p50_ms']} / {row['p95_ms']}", str(row["queries"])]
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nTargets: list pages ≤ 50 ms p95, analytics ≤ 200 ms p95, on both databases.\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    parser.add_argument("--full-states", action="store_true", help="finished instances keep their workflow state too")
    parser.add_argument("--keep", help="SQLite only: build into this file, or reuse it if it exists (to time "
                                       "changes to the code on the same data; a schema change needs a new file)")
    parser.add_argument("--pg-url", help="PostgreSQL only: an empty database on a server you run, built into "
                                         "once and reused on the next runs (like --keep)")
    parser.add_argument("--pages", help="time only these pages (comma-separated names, e.g. inbox_queue,board_sales)")
    parser.add_argument("--no-gc-freeze", action="store_true", help="leave start-up's objects to the collector's "
                                                                    "full passes (wsgi.py freezes them)")
    args = parser.parse_args()
    result: dict = {"orders": args.orders}
    for backend in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        result[backend] = run(backend, args.orders, args.requests, args.keep if backend == "sqlite" else None,
                              args.full_states, args.pg_url, set(args.pages.split(",")) if args.pages else None,
                              not args.no_gc_freeze)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_write:
        write_section(Path(args.out), "## Lists and dashboards at scale",
                      section(result, f"--orders {args.orders} --db {args.db} --requests {args.requests}"))


if __name__ == "__main__":
    main()
