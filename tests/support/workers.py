"""Real worker processes for tests: `flask worker` started with the test app's settings."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flask.cli import FlaskGroup

ROOT = Path(__file__).resolve().parent.parent.parent
PASSED = ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "SECRET_KEY", "RQ_QUEUE", "INSTANCE_PATH", "UPLOADS_DIR",
          "SMS_PROVIDER", "SMSC_URL", "SMSC_LOGIN", "SMSC_PASSWORD", "SMSRU_URL", "SMSRU_API_ID", "SMTP_HOST",
          "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER", "SMTP_PASSWORD", "SMTP_CA_FILE",
          "SMS_SENDER", "SMS_TIMEOUT", "JOB_LEASE_SECONDS", "JOB_HEARTBEAT_SECONDS",
          "SLA_CALENDAR",
          "SLA_HOUR_SECONDS")


def flask_command(app, *args: str):
    """`flask <args>` in-process as the `flask` script sees it: the app's commands and the entry points' (workers')."""
    return app.test_cli_runner().invoke(FlaskGroup(), list(args))


def worker_env(app) -> dict:
    env = {**os.environ, "JOBS_INLINE": "0", "FLASK_APP": "wsgi.py"}
    for key in PASSED:
        value = app.config.get(key)
        if value not in (None, ""):
            env["DATABASE_URL" if key == "SQLALCHEMY_DATABASE_URI" else key] = str(value)
    return env


def worker_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "flask", "worker", *extra]


def run_burst(app, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Drain the app's queue with one worker process and return how it went."""
    return subprocess.run(worker_command("--burst", *extra), env=worker_env(app), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def start_worker(app, *extra: str) -> subprocess.Popen:
    """A long-running worker; its log goes to a file in the instance folder."""
    return start_process(app, worker_command(*extra), "worker")


def start_scheduler(app, *extra: str) -> subprocess.Popen:
    """`flask scheduler`: timers and the outbox relay, as in production."""
    return start_process(app, [sys.executable, "-m", "flask", "scheduler", *extra], "scheduler")


def start_process(app, argv: list[str], name: str, **env: str) -> subprocess.Popen:
    """A long-running process with the app's settings; its log goes to a file in the instance folder (a pipe
    nobody reads would fill up and stop it mid-log)."""
    log = open(Path(app.config["INSTANCE_PATH"]) / f"{name}-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    try:
        return subprocess.Popen(argv, env={**worker_env(app), **env}, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    finally:
        log.close()  # the child has its own copy of the descriptor


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ten seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_processes(pid: int) -> dict[int, str]:
    """The live children of a process and their command lines (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found
