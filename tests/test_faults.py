"""Faults with real processes: `make run`'s supervisor with a worker (then its Redis) killed -9, and Redis
killed and restarted under a stream of orders. Every wait polls with a deadline; the deadlines are the promises."""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, OutboxJob
from tests.support.api import Api
from tests.support.fake_sms import FakeSmsGateway
from tests.support.services import RedisServer, free_port
from tests.support.workers import ROOT, child_processes, start_process, start_scheduler, start_worker, stop_process

pytestmark = pytest.mark.faults
STRANDED_DONE_WITHIN = 30.0  # seconds from the fault (or Redis' return) to every stranded job done


def _queue_name() -> str:
    return f"bespoke-faults-{os.getpid()}-{time.monotonic_ns()}"


def _poll(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _statuses(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status)).all())


def _sms(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Notification.status, func.count())
                                       .where(Notification.channel == "sms").group_by(Notification.status)).all())


def _role(cmdline: str) -> str:
    for role in ("redis-server", "gunicorn", "worker", "scheduler", "mail-receiver"):
        if role in cmdline:
            return role
    return cmdline


def _children(supervisor) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for pid, cmdline in child_processes(supervisor.pid).items():
        found.setdefault(_role(cmdline), []).append(pid)
    return found


def _all_started(supervisor) -> dict[str, list[int]] | None:
    children = _children(supervisor)
    return children if {"redis-server", "gunicorn", "worker", "scheduler", "mail-receiver"} <= set(children) else None


class WebWatch:
    """Polls a page over HTTP in a thread, recording every answer that was not a 200."""

    def __init__(self, url: str) -> None:
        self.url, self.answers, self.failures = url, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        with requests.Session() as session:
            while not self._stop.wait(0.1):
                try:
                    status = session.get(self.url, timeout=10).status_code
                except requests.RequestException as exc:
                    status = repr(exc)
                self.answers += 1
                if status != 200:
                    self.failures.append(status)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def test_the_supervisor_restarts_a_worker_killed_mid_job_and_its_redis_while_the_web_answers(make_app, tmp_path):
    web_port, redis_url = free_port(), f"redis://127.0.0.1:{free_port()}/0"
    instance = tmp_path / "run"
    with FakeSmsGateway() as gateway:
        gateway.delay = 60  # the gateway takes the SMS, then holds its answer: the worker stays mid-job
        app = make_app(JOBS_INLINE=False, REDIS_URL=redis_url, RQ_QUEUE=_queue_name(), SMS_TIMEOUT=90,
                       **gateway.config("smsc"))
        # `make run` on its own instance folder, port and Redis (which it starts), without the demo data.
        supervisor = start_process(app, [sys.executable, str(ROOT / "scripts" / "run.py")], "run",
                                   PORT=str(web_port), INSTANCE_PATH=str(instance), DEMO="0",
                                   INBOUND_SMTP_PORT=str(free_port()))
        watch = None
        try:
            login = f"http://127.0.0.1:{web_port}/login"
            _poll(lambda: _answers(login), 90, "the web answers")
            watch = WebWatch(login)
            before = _poll(lambda: _all_started(supervisor), 30, "every process started")

            number = Api(app, app.test_client()).create_order()
            _poll(lambda: gateway.accepted, 60, "the worker hands the SMS to the gateway")
            [worker] = before["worker"]
            os.kill(worker, signal.SIGKILL)  # mid-job: the SMS left, our record of it did not
            killed = time.monotonic()
            gateway.delay = 0

            _poll(lambda: _sms(app) == {"sent": 1} and _statuses(app) == {"done": 3}, STRANDED_DONE_WITHIN,
                  "the interrupted SMS job re-run and done")
            took = time.monotonic() - killed
            after = _children(supervisor)
            assert len(after["worker"]) == 1 and after["worker"] != [worker]  # a new worker in its place
            assert after["scheduler"] == before["scheduler"]  # the rest never stopped
            assert after["gunicorn"] == before["gunicorn"] and after["redis-server"] == before["redis-server"]
            with app.app_context():
                sms = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "sms.send")).scalar_one()
                assert sms.attempts == 2  # run again once after the kill, not more
            assert len(gateway.accepted) == 1 and number in gateway.accepted[0].text  # sent once, not twice
            assert took < STRANDED_DONE_WITHIN

            # Redis killed too: started again on its own data — the finished jobs' records are still there.
            [redis_pid] = after["redis-server"]
            os.kill(redis_pid, signal.SIGKILL)
            _poll(lambda: _redis_answers(redis_url) and _children(supervisor).get("redis-server") != [redis_pid], 30,
                  "Redis started again")
            assert Job.exists("outbox-1-0", connection=Redis.from_url(redis_url))
            watch.stop()
            assert watch.answers > 10 and watch.failures == []  # the web answered 200 throughout
        finally:
            if watch is not None:
                watch.stop()
            supervisor.send_signal(signal.SIGTERM)  # only now does everything stop
            supervisor.wait(60)
        log = _log(app, "run")
        assert supervisor.returncode == 0, log[-3000:]
        assert re.search(rf"worker \(pid {worker}\) exited with -9; starting it again in 1 s", log), log[-3000:]
        assert re.search(rf"redis \(pid {redis_pid}\) exited with -9; starting it again in 1 s", log), log[-3000:]
        assert child_processes(supervisor.pid) == {}
        # make run's Redis keeps its data on disk: an append-only file in the instance folder.
        assert any("appendonly" in path.name for path in (instance / "redis").iterdir())


def test_redis_killed_and_restarted_under_load_loses_and_repeats_no_job(make_app):
    redis = RedisServer()  # no persistence: a restart loses every queued job Redis held
    processes = []
    try:
        with FakeSmsGateway() as gateway:
            gateway.delay = 0.3  # each SMS takes a while: jobs pile up in the queue
            app = make_app(JOBS_INLINE=False, REDIS_URL=redis.url, RQ_QUEUE=_queue_name(), SMS_TIMEOUT=30,
                           **gateway.config("smsc"))
            api = Api(app, app.test_client())
            processes += [start_worker(app), start_scheduler(app)]
            numbers = [api.create_order() for _ in range(6)]
            _poll(lambda: gateway.accepted, 60, "the worker sends the first SMS")

            redis.proc.kill()  # kill -9: everything queued in it is gone
            redis.proc.wait(10)
            stranded = _statuses(app).get("queued", 0)
            numbers += [api.create_order() for _ in range(3)]  # orders keep coming while Redis is away
            time.sleep(2)  # an outage longer than a blip; nothing below depends on its length
            redis.resume()
            back = time.monotonic()
            numbers += [api.create_order() for _ in range(3)]

            _poll(lambda: _sms(app) == {"sent": 12} and _statuses(app) == {"done": 36}, STRANDED_DONE_WITHIN,
                  "every SMS sent after Redis came back")
            took = time.monotonic() - back
            assert stranded >= 2, "the kill stranded no queued job: the test proved nothing"
            assert took < STRANDED_DONE_WITHIN
            sent = Counter(next(n for n in numbers if n in message.text) for message in gateway.accepted)
            assert sent == Counter(numbers)  # every order's SMS exactly once: none lost, none twice
            assert [p.poll() for p in processes] == [None, None]  # the worker and the scheduler rode it out
    finally:
        for process in processes:
            stop_process(process)
        redis.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_a_child_that_keeps_crashing_is_started_again_after_a_doubling_wait(capsys):
    spec = importlib.util.spec_from_file_location("bespoke_run", ROOT / "scripts" / "run.py")
    run = sys.modules["bespoke_run"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(run)
    env = dict(os.environ)
    child = run.Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    child.start(env)
    started = time.monotonic()

    def third_exit_seen() -> bool:
        child.check(env)
        return child.restarts == 2 and child.restart_at is not None

    _poll(third_exit_seen, 30, "three exits")
    took = time.monotonic() - started
    log = capsys.readouterr().err
    assert re.findall(r"crasher \(pid \d+\) exited with 3; starting it again in (\d+) s", log) == ["1", "2", "4"]
    assert took >= 3  # it really waited 1 s, then 2 s, before the second and third start


def _redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def _log(app, name: str) -> str:
    return "".join(path.read_text() for path in sorted(Path(app.config["INSTANCE_PATH"]).glob(f"{name}-*.log")))
