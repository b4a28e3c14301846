"""Benchmark: orders driven through the whole happy path over the API, against the in-memory floor.

    .venv/bin/python bench/lifecycle.py [--orders 30] [--loops 20]

Writes its figures to docs/PERFORMANCE.md. Requests go through the full Flask stack (test
client: routing, auth, JSON, validation, the step's transaction, outbox push to a real Redis);
the background jobs they enqueue are drained between requests, outside the timed window.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.demo import STAGE_INPUT  # noqa: E402
from app.engine import engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import OutboxJob, ProcessInstance  # noqa: E402
from app.usecases.jobs import execute_job  # noqa: E402
from bench.report import pct, write_section  # noqa: E402
from tests.support.api import HAPPY_CASH, Api, seed  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402

PHASES: dict[str, list[float]] = {}
LOOP_SAMPLES = 11  # steps timed after loop 1 and after loop N (their median: one slow request must not move it)
RECORDING = [False]  # phases are recorded only inside timed requests, not while jobs drain


def instrument() -> None:
    """Time the phases of a step (bench-only wrappers around the engine's functions)."""
    from app.api import auth
    from app.engine import runtime
    from app.usecases import process, tasks, uow

    def wrap(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if RECORDING[0]:
                    PHASES.setdefault(label, []).append(time.perf_counter() - started)

        setattr(owner, name, timed)

    wrap(auth, "authenticate", "authenticate (token + user)")
    wrap(runtime.ProcessEngine, "load", "load workflow (JSON → Spiff objects)")
    wrap(runtime.ProcessEngine, "run", "engine steps (Spiff)")
    wrap(runtime.ProcessEngine, "dump", "serialize workflow")
    wrap(process, "project_tasks", "task projection (human_tasks rows)")
    wrap(tasks, "complete_task", "whole domain step (validate … projections)")
    wrap(uow, "_commit", "commit + push jobs to Redis")


def drain(app) -> None:
    """What the worker does between requests: the queued jobs, and the jobs they start, run here."""
    with app.app_context():
        while True:  # jobs can start further jobs
            ids = db.session.execute(select(OutboxJob.id).where(OutboxJob.status.in_(("queued", "pending")))
                                     .order_by(OutboxJob.id)).scalars().all()
            if not ids:
                break
            for job_id in ids:
                execute_job(job_id)
        db.session.remove()


class Bench:
    def __init__(self, app) -> None:
        self.app = app
        self.api = Api(app, app.test_client())
        self.rng = random.Random(1)

    def drain(self) -> None:
        drain(self.app)

    def complete(self, number: str, expect: str, variant: dict | None = None) -> float:
        task = self.api.open_task(number)
        assert task and task["bpmn_id"] == expect, (expect, task)
        data = STAGE_INPUT[expect](self.rng, variant or {})
        headers = {"Authorization": f"Bearer {self.api.token(self.api.doer(task))}"}
        RECORDING[0] = True
        started = time.perf_counter()
        response = self.api.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                        headers=headers)
        elapsed = time.perf_counter() - started
        RECORDING[0] = False
        assert response.status_code == 200, response.get_json()
        self.drain()
        return elapsed


def floor(app, orders: int) -> list[float]:
    """The same completions on an in-memory workflow: complete + engine steps, no database, no HTTP."""
    rng = random.Random(1)
    with app.app_context():
        definition = db.session.execute(select(ProcessInstance)).scalars().first().definition
        eng = engine()
        specs = eng.specs(definition.id, definition.checksum, lambda: definition.spec_json)
        start = {"order_number": "X", "order_kind": "wardrobe", "channel": "phone", "address": "a",
                 "description": "", "partner": None, "customer": {"name": "n", "phone": "p", "email": "e"}}
        timings = []
        for _ in range(orders):
            wf = eng.new_workflow(specs, start)
            eng.run(wf)
            for bpmn_id in HAPPY_CASH:
                while started := [t for t in wf.get_tasks() if eng.state_of(t) == "STARTED"]:
                    for task in started:
                        eng.complete_service_task(wf, str(task.id), {"ok": True})
                    eng.run(wf)
                task = next(t for t in wf.get_tasks(manual=True) if eng.state_of(t) == "READY")
                assert task.task_spec.bpmn_id == bpmn_id
                data = STAGE_INPUT[bpmn_id](rng, {})
                started = time.perf_counter()
                eng.complete_user_task(task, data)
                wf.do_engine_steps()
                timings.append(time.perf_counter() - started)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = parser.parse_args()

    redis = RedisServer()
    tmp = Path(tempfile.mkdtemp(prefix="bespoke-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}", "JOBS_INLINE": False,
                      "REDIS_URL": redis.url, "SECRET_KEY": "bench", "RQ_QUEUE": "bench"})
    with app.app_context():
        db.create_all()
    seed(app)
    instrument()
    bench = Bench(app)
    try:
        bench.api.create_order()  # warm-up: imports, spec cache, first PDF
        latencies: list[float] = []
        wall = time.perf_counter()
        for _ in range(args.orders):
            number = bench.api.create_order()
            bench.drain()
            for bpmn_id in HAPPY_CASH:
                latencies.append(bench.complete(number, bpmn_id))
        wall = time.perf_counter() - wall
        floor_times = floor(app, args.orders)

        # Per-step cost after 1 vs N re-measure loops (the task tree and the state grow with each loop).
        loop_costs, sizes = {}, {}
        number = bench.api.create_order()
        bench.drain()
        bench.complete(number, "new_order")
        for loop in range(1, args.loops + 1):
            bench.complete(number, "plan_measurement")
            bench.complete(number, "measurement")
            bench.complete(number, "prepare_contract", {"contract_outcome": "remeasure"})
            if loop in (1, args.loops):
                samples = []
                for _ in range(LOOP_SAMPLES):
                    samples.append(bench.complete(number, "plan_measurement"))
                    bench.complete(number, "measurement", {"absent": True})
                loop_costs[loop] = statistics.median(samples)
                with app.app_context():
                    sizes[loop] = len(db.session.execute(select(ProcessInstance.state).where(
                        ProcessInstance.order.has(number=number))).scalar_one())
    finally:
        redis.stop()

    p50, p95 = pct(latencies, 50) * 1000, pct(latencies, 95) * 1000
    f50 = pct(floor_times, 50) * 1000
    throughput = len(latencies) / sum(latencies)
    result = {
        "orders": args.orders, "completions": len(latencies), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
        "throughput_per_s": round(throughput, 1), "floor_p50_ms": round(f50, 3), "ratio_p50": round(p50 / f50, 1),
        "loop1_ms": round(loop_costs[1] * 1000, 2), f"loop{args.loops}_ms": round(loop_costs[args.loops] * 1000, 2),
        "state_bytes_loop1": sizes[1], f"state_bytes_loop{args.loops}": sizes[args.loops],
        "loop_ratio": round(loop_costs[args.loops] / loop_costs[1], 2),
        "state_ratio": round(sizes[args.loops] / sizes[1], 2),
        "wall_s_including_jobs": round(wall, 1),
        "phases_p50_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in PHASES.items()},
    }
    print(json.dumps(result, indent=2))
    write_report(Path(args.out), result, args)


def write_report(path: Path, r: dict, args) -> None:
    loops = args.loops
    section = f"""## Task completion over the API (bench/lifecycle.py)

Command: `.venv/bin/python bench/lifecycle.py --orders {args.orders} --loops {loops}`
Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on this 2-core machine, SQLite (WAL), real Redis.

| measure | value |
|---|---|
| orders through the cash happy path | {r['orders']} ({r['completions']} task completions) |
| `POST /tasks/{{id}}/complete` p50 | {r['p50_ms']} ms |
| `POST /tasks/{{id}}/complete` p95 | {r['p95_ms']} ms |
| completions per second (one client, sequential) | {r['throughput_per_s']} |
| in-memory SpiffWorkflow floor (complete + engine steps) p50 | {r['floor_p50_ms']} ms |
| API p50 / floor p50 | {r['ratio_p50']}× |
| one step after 1 re-measure loop | {r['loop1_ms']} ms (state {r['state_bytes_loop1']:,} bytes) |
| one step after {loops} re-measure loops | {r[f'loop{loops}_ms']} ms (state {r[f'state_bytes_loop{loops}']:,} bytes) |
| after {loops} loops ÷ after 1: step time; state size | {r['loop_ratio']}×; {r['state_ratio']}× |

Where a request's time goes (p50 of each phase, same run):

| phase | p50 |
|---|---|
""" + "\n".join(f"| {k} | {v} ms |" for k, v in r["phases_p50_ms"].items()) + """

A request's time covers routing, token check, form validation, loading the instance
(state without spec + cached spec objects; the finished history of its task tree is dropped on
every save, `app/engine/pruning.py`, so a looping order's state stays the size of one pass),
the engine step, saving, rebuilding the task and stage projections, audit rows, outbox rows,
the commit and the push to Redis. The documents and notifications the steps ask for run
afterwards in the worker (drained between requests here, untimed). For reference,
spiff-arena's backend answered the same kind of request in 46 ms p50 on this machine (FACTS.md).
"""
    write_section(path, "## Task completion over the API", section)


if __name__ == "__main__":
    main()
