"""Benchmark: how well the history method predicts completion dates, against the naive «SLA sum».

    .venv/bin/python bench/prediction.py [--orders 5000] [--seed 14] [--min-samples 20] [--fit-only]

Generates a history of finished orders straight into a throwaway SQLite database (bulk inserts through the
models' tables, no engine), holds back 20 % of the orders, fits `ForecastStat` on the rest with the app's own
`refresh_stats`, and predicts each held-back order at every stage it entered, as the app would have then:
the history method (`from_history`, p50 and p80) and the SLA sum along the typical path (`sla_finish`, the
norms from processes/sla.dmn). Prints one JSON object; docs/PREDICTION.md quotes it.

The generator: three kinds (wardrobe, kitchen, windows), each stage's time a log-normal number of working hours
(sigma 0.4) whose median is a share of the stage's norm, its own per kind and stage (every kind is slower than
its norm at some stages and faster at others; windows' production far faster than its norm); loops (15 % of
measurements are redone after a second planning, 20 % of contracts go round once more); 3 % slow outliers
whose production stalls four times as long. Orders start at random working moments over 2024–2025 and end
when installation does.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Customer, HumanTask, Order, ProcessDefinition, ProcessInstance  # noqa: E402
from app.services import prediction  # noqa: E402
from app.services.calendar import business_calendar  # noqa: E402
from app.usecases.uow import unit_of_work  # noqa: E402

# The order lifecycle's typical path (app.engine.paths.typical_path on processes/order_lifecycle.bpmn, less the
# feedback task that has no norm and comes after completion).
PATH = ["new_order", "plan_measurement", "measurement", "prepare_contract", "payment", "procurement", "production",
        "plan_delivery", "installation"]
KINDS = ["wardrobe", "kitchen", "windows"]
# Each stage's median working hours, as a share of its norm in processes/sla.dmn: every kind is slower than its
# norm at some stages and faster at others (windows' factories far faster than their long production norm).
NORM_SHARES = {
    "wardrobe": {"new_order": 0.5, "plan_measurement": 0.8, "measurement": 0.6, "prepare_contract": 1.3,
                 "payment": 0.8, "procurement": 1.4, "production": 0.9, "plan_delivery": 1.0, "installation": 0.6},
    "kitchen": {"new_order": 0.6, "plan_measurement": 1.2, "measurement": 0.7, "prepare_contract": 1.6,
                "payment": 1.0, "procurement": 1.5, "production": 1.1, "plan_delivery": 1.4, "installation": 1.0},
    "windows": {"new_order": 0.4, "plan_measurement": 0.7, "measurement": 0.5, "prepare_contract": 0.8,
                "payment": 0.6, "procurement": 0.9, "production": 0.35, "plan_delivery": 0.8, "installation": 0.4},
}
SIGMA = 0.4
REMEASURE, RECONTRACT, OUTLIER = 0.15, 0.20, 0.03
START, SPAN_DAYS = datetime.fromisoformat("2024-01-01T09:00:00+03:00"), 730


def sla_norms() -> dict[str, dict[str, float]]:
    """Every kind's stage norms (hours) as processes/sla.dmn decides them."""
    text = (ROOT / "processes" / "sla.dmn").read_text()
    norms: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        for stage in PATH:
            found = re.search(rf'id="sla_rule_{kind}_{stage}">\s*<text>([\d.]+)</text>', text)
            if found:
                norms[kind][stage] = float(found.group(1))
    return norms


def timeline(rng: random.Random, kind: str, norms: dict[str, float],
             calendar) -> tuple[list[tuple[str, datetime]], datetime]:
    """One order's stage entries and its completion."""
    now = calendar.add(START + timedelta(days=rng.uniform(0, SPAN_DAYS)), 0)
    slow = rng.random() < OUTLIER
    stages = list(PATH)
    if rng.random() < REMEASURE:
        at = stages.index("measurement") + 1
        stages[at:at] = ["plan_measurement", "measurement"]
    if rng.random() < RECONTRACT:
        at = stages.index("prepare_contract") + 1
        stages[at:at] = ["prepare_contract"]
    entries = []
    for stage in stages:
        entries.append((stage, now))
        hours = norms[stage] * NORM_SHARES[kind][stage] * math.exp(rng.gauss(0, SIGMA))
        if slow and stage == "production":
            hours *= 4
        now = calendar.add(now, hours)
    return entries, now


def generate(count: int, seed: int, norms: dict[str, dict[str, float]], calendar) -> tuple[list, list]:
    """(training orders, held-back orders): each (kind, entries, completed_at)."""
    rng = random.Random(seed)
    orders = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        entries, completed = timeline(rng, kind, norms[kind], calendar)
        orders.append((kind, entries, completed))
    rng.shuffle(orders)
    held = count // 5
    return orders[held:], orders[:held]


def insert_history(orders: list) -> int:
    """The finished orders, their instances and their tasks, in bulk; the number of task rows."""
    definition = db.session.execute(insert(ProcessDefinition).returning(ProcessDefinition.id), [{
        "process_id": "order_lifecycle", "version": 1, "checksum": "bench", "bpmn_xml": "", "spec_json": "{}"}]
    ).scalar_one()
    customer = db.session.execute(insert(Customer).returning(Customer.id), [{"name": "История"}]).scalar_one()
    tasks = 0
    for offset in range(0, len(orders), 2000):
        chunk = orders[offset:offset + 2000]
        order_ids = db.session.execute(insert(Order).returning(Order.id, sort_by_parameter_order=True), [
            {"number": f"H-{offset + n:07d}", "kind": kind, "channel": "import", "customer_id": customer,
             "stage": "Завершён", "status": "completed", "completed_at": completed}
            for n, (kind, _, completed) in enumerate(chunk)]).scalars().all()
        instance_ids = db.session.execute(insert(ProcessInstance).returning(ProcessInstance.id,
                                                                            sort_by_parameter_order=True), [
            {"order_id": order_id, "definition_id": definition, "state": "", "status": "completed"}
            for order_id in order_ids]).scalars().all()
        rows = [{"task_guid": str(uuid4()), "instance_id": instance_id, "order_id": order_id, "bpmn_id": stage,
                 "name": stage, "stage": stage, "lane": "", "state": "completed", "created_at": entered,
                 "completed_at": completed}
                for order_id, instance_id, (_, entries, completed) in zip(order_ids, instance_ids, chunk, strict=True)
                for stage, entered in entries]
        db.session.execute(insert(HumanTask), rows)
        tasks += len(rows)
    return tasks


def evaluate(held: list, stats: dict, norms: dict, min_samples: int, calendar) -> dict:
    """Predict each held-back order at each stage entry with both methods; errors in calendar days."""
    errors: dict[str, list[int]] = {"history": [], "sla": []}
    by_stage: dict[str, dict[str, list[int]]] = {stage: {"history": [], "sla": []} for stage in PATH}
    covered = methods = 0
    used: dict[str, int] = {}
    for kind, entries, completed in held:
        actual = completed.astimezone(calendar.tz).date()
        for stage, entered in entries:
            found = prediction.from_history(stats, kind, stage, min_samples)
            if found is not None:
                figures, method = found
                p50 = calendar.add(entered, figures.p50_hours).astimezone(calendar.tz).date()
                p80 = calendar.add(entered, figures.p80_hours)
                errors["history"].append(abs((p50 - actual).days))
                by_stage[stage]["history"].append(errors["history"][-1])
                covered += completed <= p80
                methods += 1
                used[method] = used.get(method, 0) + 1
            due = calendar.add(entered, norms[kind].get(stage, 0))
            sla = prediction.sla_finish(calendar, entered, stage, due, PATH[PATH.index(stage):], norms[kind])
            errors["sla"].append(abs((sla.astimezone(calendar.tz).date() - actual).days))
            by_stage[stage]["sla"].append(errors["sla"][-1])
    return {"mae_days_history": round(sum(errors["history"]) / len(errors["history"]), 2),
            "mae_days_sla": round(sum(errors["sla"]) / len(errors["sla"]), 2),
            "p80_coverage": round(covered / methods, 3), "predictions": len(errors["sla"]),
            "median_error_days_history": sorted(errors["history"])[len(errors["history"]) // 2],
            "median_error_days_sla": sorted(errors["sla"])[len(errors["sla"]) // 2], "methods": used,
            "mae_days_by_stage": {stage: {method: round(sum(found) / len(found), 1) for method, found in both.items()
                                          if found} for stage, both in by_stage.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--min-samples", type=int, default=20)
    parser.add_argument("--fit-only", action="store_true", help="measure the fit (time, memory) without predicting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'history.sqlite3'}",
                          "SECRET_KEY": "bench", "INSTANCE_PATH": tmp, "UPLOADS_DIR": str(Path(tmp) / "uploads"),
                          "PREDICTION_MIN_SAMPLES": args.min_samples})
        with app.app_context():
            db.create_all()
            calendar = business_calendar()
            started = time.perf_counter()
            norms = sla_norms()
            training, held = generate(args.orders, args.seed, norms, calendar)
            with unit_of_work():
                tasks = insert_history(training)
            generated = time.perf_counter() - started
            db.session.remove()
            started = time.perf_counter()
            with unit_of_work():
                rows = prediction.refresh_stats()
            fitted = time.perf_counter() - started
            tracemalloc.start()  # again, to see what the fit holds in memory at its peak
            with unit_of_work():
                prediction.refresh_stats()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            stats = prediction.load_stats()
            figures = {} if args.fit_only else evaluate(held, stats, norms, args.min_samples, calendar)
            db.session.remove()
    print(json.dumps({"orders": args.orders, "training_orders": len(training), "held_back_orders": len(held),
                      "task_rows": tasks, "stat_rows": rows, **figures,
                      "generate_seconds": round(generated, 1), "refresh_stats_seconds": round(fitted, 2),
                      "refresh_stats_peak_python_mb": round(peak / 2**20, 1), "seed": args.seed,
                      "min_samples": args.min_samples}, ensure_ascii=False))


if __name__ == "__main__":
    main()
