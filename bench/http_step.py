"""Benchmark: `POST /api/v1/tasks/{id}/complete` over real HTTP, against the in-memory floor of the same model.

    .venv/bin/python bench/http_step.py [--orders 20] [--profile FILE]

Starts a gunicorn server (one sync worker, as `scripts/run.py` serves `wsgi:app`) on a fresh SQLite
database with a real Redis, and drives orders through the cash happy path with one sequential
client (`requests.Session`, keep-alive). Only the completion request is timed; reading the order's
open task and draining the jobs a step enqueued (run here, between requests) are not. The floor is
the same completions on an in-memory workflow (SpiffWorkflow only: `bench.lifecycle.floor`).

`--cpu` also runs the same completions in this process through Flask's test client and reports each request's
CPU time (`cpu_p50_ms`): on a loaded machine the wall time mostly measures the wait for a core.

`--profile FILE` also runs the same completions in this process through Flask's test client under
cProfile and writes the stats to FILE (read them with `python -m pstats FILE`).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from app import create_app  # noqa: E402
from app.demo import STAGE_INPUT  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.lifecycle import drain, floor  # noqa: E402
from bench.report import pct, write_section  # noqa: E402
from tests.support.api import HAPPY_CASH, Api, seed  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402


class HttpResponse:
    """A `requests` response with the test client's `get_json()`, `get_data()` and `close()`, so
    `tests.support.api.Api` drives it."""

    def __init__(self, response: requests.Response) -> None:
        self.response, self.status_code = response, response.status_code

    def get_json(self):
        return self.response.json()

    def get_data(self) -> bytes:
        return self.response.content

    def close(self) -> None:
        self.response.close()


class HttpClient:
    """The test client's `get` / `post` over a keep-alive session to a live server."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def get(self, path: str, headers=None, **kw) -> HttpResponse:
        return HttpResponse(self.session.get(self.base + path, headers=headers, **kw))

    def post(self, path: str, json=None, headers=None, **kw) -> HttpResponse:
        return HttpResponse(self.session.post(self.base + path, json=json, headers=headers, **kw))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_app(prefix: str) -> tuple[RedisServer, dict, object]:
    """A fresh SQLite database in a temporary folder with a real Redis, seeded as the API tests are: the Redis
    server (to stop), the environment a server process needs for the same database, and the app."""
    redis = RedisServer()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    config = {"DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "REDIS_URL": redis.url, "SECRET_KEY": "bench",
              "RQ_QUEUE": "bench", "JOBS_INLINE": "0", "INSTANCE_PATH": str(tmp)}
    app = create_app({"SQLALCHEMY_DATABASE_URI": config["DATABASE_URL"], "JOBS_INLINE": False,
                      "REDIS_URL": redis.url, "SECRET_KEY": "bench", "RQ_QUEUE": "bench", "INSTANCE_PATH": str(tmp)})
    with app.app_context():
        db.create_all()
    seed(app)
    return redis, config, app


def start_server(env: dict, port: int, workers: int = 1, threads: int = 1) -> subprocess.Popen:
    """gunicorn serving wsgi:app on the port (sync workers; gthread when `threads` > 1), once it answers."""
    kind = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else []
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), *kind,
                               "-b", f"127.0.0.1:{port}", "--backlog", "256", "--timeout", "120",
                               "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 180  # a few processes importing the app on a loaded box take a while
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=60)
            return server
        except requests.RequestException as exc:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}") from exc
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 180 s")


class Driver:
    """Walks orders through the happy path; times the completion request only."""

    def __init__(self, app, client, clock=time.perf_counter) -> None:
        self.app, self.api, self.rng, self.clock = app, Api(app, client), random.Random(1), clock

    def drain(self) -> None:
        drain(self.app)

    def complete(self, number: str, expect: str) -> float:
        task = self.api.open_task(number)
        assert task and task["bpmn_id"] == expect, (expect, task)
        with self.app.app_context():  # the input picks a slot the person is free at: it reads the database
            data = STAGE_INPUT[expect](self.rng, {})
            db.session.remove()
        headers = {"Authorization": f"Bearer {self.api.token(self.api.doer(task))}"}
        started = self.clock()
        response = self.api.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                        headers=headers)
        elapsed = self.clock() - started
        assert response.status_code == 200, response.get_json()
        response.close()  # as a server does once the answer is out (the workflow is loaded ahead then)
        self.drain()
        return elapsed

    def orders(self, count: int) -> list[float]:
        latencies = []
        for _ in range(count):
            number = self.api.create_order()
            self.drain()
            for bpmn_id in HAPPY_CASH:
                latencies.append(self.complete(number, bpmn_id))
        return latencies


def profile(app, orders: int, out: str) -> None:
    """The same completions through the test client, each request under cProfile (the drains are not)."""
    driver = Driver(app, app.test_client())
    driver.orders(1)  # warm-up
    profiler = cProfile.Profile()
    original = driver.api.client.post

    def profiled_post(*args, **kwargs):
        profiler.enable()
        try:
            return original(*args, **kwargs)
        finally:
            profiler.disable()

    driver.api.client.post = profiled_post  # type: ignore[method-assign]
    for _ in range(orders):
        number = driver.api.create_order()
        driver.drain()
        for bpmn_id in HAPPY_CASH:
            driver.complete(number, bpmn_id)
    profiler.dump_stats(out)


def cpu(app, orders: int) -> list[float]:
    """The same completions through the test client in this process, each request's CPU time: a figure a loaded
    machine does not inflate as it does wall time (there a request mostly waits for a core)."""
    driver = Driver(app, app.test_client(), clock=time.process_time)
    driver.orders(1)  # warm-up
    return driver.orders(orders)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--profile", default="")
    parser.add_argument("--cpu", action="store_true", help="also time the CPU of each completion in this process")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = parser.parse_args()

    redis, config, app = bench_app("bespoke-http-bench-")
    port = free_port()
    server = start_server({**os.environ, **config}, port)
    try:
        driver = Driver(app, HttpClient(f"http://127.0.0.1:{port}"))
        driver.orders(1)  # warm-up: imports, spec cache, first PDF
        latencies = driver.orders(args.orders)
        floor_times = floor(app, args.orders)
        cpu_times = cpu(app, args.orders) if args.cpu else []
        if args.profile:
            profile(app, max(3, args.orders // 4), args.profile)
    finally:
        server.terminate()
        server.wait(10)
        redis.stop()

    result = {"orders": args.orders, **step_figures(latencies, floor_times, cpu_times)}
    print(json.dumps(result, indent=2))
    write_report(Path(args.out), result, args)


def step_figures(latencies: list[float], floor_times: list[float], cpu_times: list[float]) -> dict:
    """The completions' figures (ms): p50, p95, how many a second one after the other, the floor's p50, the API ÷
    floor ratio, and the CPU p50 when it was timed."""
    p50, f50 = pct(latencies, 50) * 1000, pct(floor_times, 50) * 1000
    result = {"completions": len(latencies), "p50_ms": round(p50, 2), "p95_ms": round(pct(latencies, 95) * 1000, 2),
              "throughput_per_s": round(len(latencies) / sum(latencies), 1), "floor_p50_ms": round(f50, 3),
              "ratio_p50": round(p50 / f50, 1)}
    if cpu_times:
        result["cpu_p50_ms"] = round(pct(cpu_times, 50) * 1000, 2)
    return result


def write_report(path: Path, r: dict, args) -> None:
    section = f"""## Task completion over real HTTP (bench/http_step.py)

Command: `.venv/bin/python bench/http_step.py --orders {args.orders}`
Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on this 2-core machine: gunicorn, one sync worker,
SQLite (WAL), real Redis, one sequential client with keep-alive (`requests.Session`).

| measure | value |
|---|---|
| orders through the cash happy path | {r['orders']} ({r['completions']} task completions) |
| `POST /api/v1/tasks/{{id}}/complete` p50 | {r['p50_ms']} ms |
| `POST /api/v1/tasks/{{id}}/complete` p95 | {r['p95_ms']} ms |
| completions per second (one client, sequential) | {r['throughput_per_s']} |
| in-memory SpiffWorkflow floor (complete + engine steps) p50 | {r['floor_p50_ms']} ms |
| API p50 / floor p50 | {r['ratio_p50']}× |
""" + (f"| CPU time of a completion p50 (`--cpu`: the same completions in-process) | {r['cpu_p50_ms']} ms |\n"
       if "cpu_p50_ms" in r else "") + "\n"
    write_section(path, "## Task completion over real HTTP", section)


if __name__ == "__main__":
    main()
