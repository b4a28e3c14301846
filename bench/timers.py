"""Benchmark: timer lateness with 100,000 waiting timers and 50 coming due every second, for a minute.

    .venv/bin/python bench/timers.py [--waiting 100000] [--rate 50] [--seconds 60] [--workers 2]
                                     [--db sqlite|postgresql] [--modes inline,workers,inline]

Real parts: SQLite (WAL) in a temp dir or PostgreSQL, a real redis-server, a `flask scheduler` process and
`flask worker` processes (they run the SLA escalation jobs the firings write, and take the wake-ups themselves
in `--mode workers`). The database is built with bulk Core inserts: one order is created through the API and its
instance — a real saved state with its three SLA timers (75 %, 100 %, 200 %) — is copied `--waiting` times, each
copy's timers moved in its state and in `next_timer_at` to a month away. Then each phase (`--modes`, A/B/A on the
same database) starts a scheduler and workers with that TIMER_WAKE and adds `--rate × --seconds` more copies whose
75 % timer comes due `--rate` per second from a few seconds on (their task guids made unique, their tasks copied,
so a wake-up is the real step).

Lateness of each firing = the moment its instance was woken, read from the database (the `sla.escalate` job the
wake-up wrote in its unit of work: `outbox_jobs.created_at`) − the timer's due moment. Prints one JSON object
(`p50_ms`, `p99_ms`, `max_ms`, `waiting`, `fired`, `fired_per_s`, …) and writes docs/PERFORMANCE.md's
"Timers on time under load" section.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update  # noqa: E402

from app.engine.views import parse_due  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import HumanTask, Order, OutboxJob, ProcessInstance  # noqa: E402
from app.queue import get_queue, timer_queue  # noqa: E402
from app.usecases.uow import wake_scheduler  # noqa: E402
from bench.background import make_app  # noqa: E402
from bench.report import pct, write_section  # noqa: E402
from tests.support.api import Api  # noqa: E402
from tests.support.services import PostgresServer, RedisServer  # noqa: E402
from tests.support.workers import start_process, stop_process, worker_command  # noqa: E402

BATCH = 2_000
LEAD = 8.0  # seconds from the due rows' insert to the first due moment
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EVENT_VALUE = re.compile(r'"event_value": ?"([^"]+)"')


def _rows(table, where) -> list[dict]:
    return [dict(row._mapping) for row in db.session.execute(select(table).where(where))]


def template(app) -> dict:
    """One real order (created through the API) with its instance, tasks and the timer moments in its state."""
    Api(app, app.test_client()).create_order()
    with app.app_context():
        instance = _rows(ProcessInstance.__table__, ProcessInstance.__table__.c.order_id.is_not(None))[-1]
        order = _rows(Order.__table__, Order.__table__.c.id == instance["order_id"])[0]
        tasks = _rows(HumanTask.__table__, HumanTask.__table__.c.instance_id == instance["id"])
        db.session.rollback()
    values = sorted(set(EVENT_VALUE.findall(instance["state"])), key=lambda v: parse_due(v) or datetime.max)
    dues = [(value, parse_due(value)) for value in values if parse_due(value) is not None]
    assert dues and dues[0][1] == instance["next_timer_at"], (dues, instance["next_timer_at"])
    return {"instance": instance, "order": order, "tasks": tasks, "dues": dues}


def _moved(tpl: dict, first_due: datetime, fresh_guids: bool) -> tuple[str, dict[str, str]]:
    """The template's state with its timers moved so that the earliest is due at `first_due` (and, for a copy
    that will be woken, every task guid replaced by a new one: the guids are unique in human_tasks)."""
    state = tpl["instance"]["state"]
    delta = first_due - tpl["dues"][0][1]
    for value, due in tpl["dues"]:
        state = state.replace(f'"{value}"', f'"{(due + delta).isoformat()}"')
    guids: dict[str, str] = {}
    if fresh_guids:
        state = UUID.sub(lambda m: guids.setdefault(m.group(0), str(uuid.uuid4())), state)
    return state, guids


class Copier:
    """Copies of the template order and instance (and, for due copies, its tasks), one executemany per BATCH."""

    def __init__(self, tpl: dict) -> None:
        self.tpl = tpl
        self.next_id = {t: (db.session.execute(select(func.max(t.c.id))).scalar() or 0) + 1
                        for t in (Order.__table__, ProcessInstance.__table__, HumanTask.__table__)}
        self.rows: dict = {t: [] for t in self.next_id}
        db.session.commit()  # a read left open would make SQLite refuse the inserts once the scheduler has written

    def _id(self, table) -> int:
        self.next_id[table] += 1
        return self.next_id[table] - 1

    def add(self, first_due: datetime, woken: bool) -> int:
        state, guids = self._moved(first_due, woken)
        oid, iid = self._id(Order.__table__), self._id(ProcessInstance.__table__)
        self.rows[Order.__table__].append(self.tpl["order"] | {"id": oid, "number": f"T{oid:08d}", "status_key": None,
                                                              "external_ref": None, "import_id": None})
        self.rows[ProcessInstance.__table__].append(self.tpl["instance"] | {
            "id": iid, "order_id": oid, "state": state, "next_timer_at": first_due})
        if woken:
            for task in self.tpl["tasks"]:
                self.rows[HumanTask.__table__].append(task | {"id": self._id(HumanTask.__table__), "order_id": oid,
                                                              "instance_id": iid,
                                                              "task_guid": guids[task["task_guid"]]})
        if len(self.rows[ProcessInstance.__table__]) >= BATCH:
            self.flush()
        return iid

    def _moved(self, first_due: datetime, woken: bool) -> tuple[str, dict[str, str]]:
        return _moved(self.tpl, first_due, woken)

    def flush(self) -> None:
        for table in (Order.__table__, ProcessInstance.__table__, HumanTask.__table__):
            if self.rows[table]:
                db.session.execute(insert(table), self.rows[table])
                self.rows[table] = []
        db.session.commit()


def build_waiting(app, tpl: dict, count: int) -> None:
    """`count` instances whose timers are a month away (spread over an hour): in the index, never due here."""
    later = datetime.now(timezone.utc) + timedelta(days=30)
    with app.app_context():
        copier = Copier(tpl)
        for n in range(count):
            copier.add(later + timedelta(milliseconds=36 * n), woken=False)
        copier.flush()


def build_due(app, tpl: dict, count: int, rate: float) -> tuple[dict[int, datetime], datetime]:
    """`count` instances whose 75 % timer comes due `rate` per second from LEAD seconds on."""
    start = datetime.now(timezone.utc) + timedelta(seconds=LEAD)
    dues: dict[int, datetime] = {}
    with app.app_context():
        copier = Copier(tpl)
        for n in range(count):
            due = start + timedelta(seconds=n / rate)
            dues[copier.add(due, woken=True)] = due
        copier.flush()
        wake_scheduler(start)  # as a step that sets a timer does: the sleeping scheduler looks again
    return dues, start


def ready(folder: Path, old: set[Path], workers: int, timeout: float = 120) -> None:
    """Until this phase's scheduler and workers have started (their new logs say so), and a few rounds more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [p.read_text() for p in set(folder.glob("*.log")) - old]
        if sum("scheduler:" in text for text in logs) and sum("Listening on" in text for text in logs) >= workers:
            time.sleep(3)
            return
        time.sleep(0.5)
    raise RuntimeError(f"the scheduler and workers did not start within {timeout} s (logs in {folder})")


def collect(app, dues: dict[int, datetime]) -> dict[int, datetime]:
    """Each due instance's wake-up moment: when its escalation job was written (in the wake-up's unit of work)."""
    with app.app_context():
        found = dict(db.session.execute(select(OutboxJob.instance_id, func.min(OutboxJob.created_at)).where(
            OutboxJob.operator == "sla.escalate", OutboxJob.instance_id >= min(dues))
            .group_by(OutboxJob.instance_id)).all())
        db.session.rollback()
    return {iid: found[iid] for iid in dues if iid in found}


def phase(app, tmp: Path, tpl: dict, mode: str, args) -> dict:
    """One mode's minute: its scheduler and workers started, `rate × seconds` timers due, their lateness."""
    env = {"TIMER_WAKE": mode, "PYTHONUNBUFFERED": "1"}  # unbuffered: their logs say when they are up
    old = set(tmp.glob("*.log"))
    procs = [start_process(app, worker_command(), "worker", **env) for _ in range(args.workers)]
    procs.append(start_process(app, [sys.executable, "-m", "flask", "scheduler"], "scheduler", **env))
    try:
        ready(tmp, old, args.workers)
        dues, start = build_due(app, tpl, int(args.rate * args.seconds), args.rate)
        deadline = time.monotonic() + LEAD + args.seconds + args.drain
        woken: dict[int, datetime] = {}
        while time.monotonic() < deadline and len(woken) < len(dues):
            time.sleep(2)
            woken = collect(app, dues)
        end = datetime.now(timezone.utc)
    finally:
        for proc in procs:
            stop_process(proc)
    woken = collect(app, dues)
    with app.app_context():  # what did not fire or run is dropped: the next phase measures only its own work
        db.session.execute(update(ProcessInstance).where(ProcessInstance.id.in_(list(dues)))
                           .values(next_timer_at=None))
        db.session.execute(update(OutboxJob).where(OutboxJob.status.in_(("queued", "pending", "running")))
                           .values(status="done"))
        db.session.commit()
        get_queue().empty()
        timer_queue().empty()
    # A timer that never fired counts as late as the phase's end (a lower bound).
    late = [((woken.get(iid) or end) - due).total_seconds() * 1000 for iid, due in dues.items()]
    span = (max(woken.values()) - min(woken.values())).total_seconds() if len(woken) > 1 else 0.0
    return {"mode": mode, "due": len(dues), "fired": len(woken),
            "fired_per_s": round(len(woken) / span, 1) if span else None,
            "p50_ms": round(pct(late, 50), 1), "p99_ms": round(pct(late, 99), 1), "max_ms": round(max(late), 1)}


def measure(args) -> dict:
    redis = RedisServer()
    postgres = PostgresServer() if args.db == "postgresql" else None
    try:
        tmp = Path(tempfile.mkdtemp(prefix="bespoke-bench-timers-"))
        name = f"bench-timers-{os.getpid()}"
        database = postgres.create_database(name.replace("-", "_")) if postgres else None
        app = make_app(tmp, redis, name, hour=3600, database=database)
        tpl = template(app)
        t0 = time.monotonic()
        build_waiting(app, tpl, args.waiting)
        built_in = time.monotonic() - t0
        if postgres is not None:
            with app.app_context():
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
        phases = [phase(app, tmp, tpl, mode, args) for mode in args.modes.split(",")]
        load = os.getloadavg()[0]
    finally:
        redis.stop()
        if postgres is not None:
            postgres.stop()
    return {"db": args.db, "waiting": args.waiting, "rate_asked": args.rate, "seconds": args.seconds,
            "workers": args.workers, "build_s": round(built_in, 1), "load_average": round(load, 1),
            "phases": phases}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50.0, help="timers coming due per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=60.0, help="longest wait for the last firings")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--modes", default="inline,workers,inline",
                        help="TIMER_WAKE of each phase, one after another on the same database (A/B/A)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    parser.add_argument("--no-report", action="store_true", help="print the figures, leave PERFORMANCE.md alone")
    args = parser.parse_args()
    result = measure(args)
    print(json.dumps(result))
    if not args.no_report:
        report(Path(args.out), args, result)


MARKER = "## Timers on time under load"


def report(path: Path, args, result: dict) -> None:
    """This run's phases as the PERFORMANCE.md section for its database (one section per database)."""
    rows = "\n".join(f"| {p['mode']} | {p['due']} | {p['fired']} | {p['fired_per_s']} | {p['p50_ms']:.0f} ms | "
                     f"{p['p99_ms']:.0f} ms | {p['max_ms']:.0f} ms |" for p in result["phases"])
    marker = f"{MARKER} ({args.db})"
    write_section(path, marker, f"""{marker}

Command: `.venv/bin/python bench/timers.py --db {args.db} --waiting {args.waiting} --rate {args.rate:g} \
--seconds {args.seconds:g} --drain {args.drain:g} --workers {args.workers} --modes {args.modes}`
Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on this 2-core machine, shared with other benchmarks (load
average {result['load_average']} at the end): read the phases against each other, not as absolute figures.
{args.waiting:,} instances wait with real saved states (three SLA timers each, a month away) while, in each phase,
{args.rate:g} more come due per second for {args.seconds:g} s; a `flask scheduler` and {args.workers} `flask worker`
processes run with that phase's TIMER_WAKE (the workers also run the escalation and notification jobs the firings
write). Lateness = when the wake-up's unit of work wrote its `sla.escalate` job − the timer's due moment; a timer
still unfired when the phase ends ({args.drain:g} s after the last was due) counts as late as that end.

| TIMER_WAKE | due | fired | fired/s | lateness p50 | p99 | max |
|---|---|---|---|---|---|---|
{rows}
Where the time goes (cProfile of the scheduler's wake-ups, 100,000 waiting): the due query and the "when next" MIN
are index reads whose cost does not grow with the waiting timers (bench/background.py's round cost: ~2 ms at 1,000
and at 100,000); a wake-up is one engine step of its instance, 100–160 ms each under this load (load the 13.5 KB
state, fire the timer and run on ~25 %, save it with its task and order projections and the re-prediction ~55 %,
commit ~15 %). So lateness here is a queue: wake-ups come due faster than one process steps them. Before this
change the scheduler also re-predicted the active orders 200 at a time inside its rounds (1.3–2.5 s a batch,
measured; the first refresh starts with the scheduler), and every timer due meanwhile waited: it now re-predicts in
slices of about 50 ms. TIMER_WAKE=workers moves the steps into the workers (the scheduler leases the due
instances in one UPDATE and queues one job each, ahead of the notifications): on PostgreSQL they step in
parallel; on SQLite each step holds the single write lock from its start to its commit, so two workers take turns
and gain nothing — SQLite deployments keep `inline`. The ≤ 250 ms p99 at 50 a second needs the steps to be
cheaper or more cores than this shared box gives any one process.
""")


if __name__ == "__main__":
    main()
