"""Benchmark: what one timer wake-up costs, the unit of `bench/timers.py`'s throughput.

    .venv/bin/python bench/wakeup.py [--instances 200] [--runs 3]

`--instances` copies of a real order's instance (`bench.timers.template`: its saved state, its tasks) whose 75 % SLA
timer is due now, on a fresh SQLite database with a real Redis; then this process wakes them as the scheduler does
(`wake_timers`, 200 at a time: each one unit of work — load the state, fire the timer, run on, save, project, commit,
push the escalation job). Prints one JSON object: wall and CPU milliseconds per wake-up (the CPU time is what a
loaded machine does not inflate) over `--runs` fresh databases, the median run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import clock  # noqa: E402
from app.usecases.timers import wake_timers  # noqa: E402
from bench.background import make_app  # noqa: E402
from bench.timers import build_due, template  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402


def run(redis: RedisServer, instances: int) -> tuple[float, float, int]:
    """(wall ms, CPU ms) per wake-up and how many woke, on a fresh database."""
    app = make_app(Path(tempfile.mkdtemp(prefix="bespoke-wakeup-")), redis, "wakeup")
    dues, start = build_due(app, template(app), instances, 10_000.0)
    time.sleep(max(0.0, (start - clock.now()).total_seconds()) + 1)
    woken = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        while woken < len(dues) and (count := wake_timers(limit=200)):
            woken += count
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / max(woken, 1) * 1000, cpu / max(woken, 1) * 1000, woken


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    redis = RedisServer()
    try:
        runs = [run(redis, args.instances) for _ in range(args.runs)]
    finally:
        redis.stop()
    print(json.dumps({"instances": args.instances, "runs": args.runs, "woken": [w for _, _, w in runs],
                      "wall_ms_per_wake": round(statistics.median(w for w, _, _ in runs), 2),
                      "cpu_ms_per_wake": round(statistics.median(c for _, c, _ in runs), 2)}, indent=2))


if __name__ == "__main__":
    main()
