"""The whole system started for a benchmark, as `make run` starts it, on SQLite or PostgreSQL.

    with running_system(postgres="postgresql://postgres@127.0.0.1/test") as system:
        system.gateway, system.token(), system.internal_header()

On PostgreSQL each service gets a scratch database on that server, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from crm_chassis.identity import Principal, sign_internal_token

ROOT = Path(__file__).resolve().parents[1]
# CRM_BENCH_PORT_BASE moves the four ports, so that two benchmarks on one machine do not collide.
_BASE = int(os.environ.get("CRM_BENCH_PORT_BASE", "18000"))
PORTS = {name: _BASE + offset for offset, name in enumerate(("gateway", "customer", "scoring", "feedback"))}
ADMIN = {"username": "admin@example.com", "password": "demo-admin-password"}


@dataclass
class System:
    secret: str
    backend: str

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{PORTS['gateway']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{PORTS[name]}"

    def token(self) -> str:
        with httpx.Client(base_url=self.gateway, timeout=10) as client:
            return str(client.post("/api/v1/auth/token", data=ADMIN).json()["access_token"])

    def internal_header(self) -> str:
        token = sign_internal_token(Principal(subject="bench", kind="user", role="admin"), self.secret, 3600)
        return f"X-Internal-Token: {token}"


def listening_pid(port: int) -> int:
    """The process listening on a local TCP port (the one to sample or measure)."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"pid=(\d+)", out)
    if match is None:
        sys.exit(f"nothing listens on port {port}")
    return int(match.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (unlike a latency, it barely moves when other work
    shares the cores)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, over all cores (from /proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    clock = os.sysconf("SC_CLK_TCK")
    return (sum(ticks[:8]) - idle) / clock, sum(ticks[:8]) / clock


def postgres_cpu() -> float:
    """CPU seconds so far of every PostgreSQL server process (the ones running now)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if "(postgres)" in text:
                total += cpu_seconds(int(stat.parent.name))
    return total


def psql(url: str, *statements: str) -> None:
    server = make_url(url)
    for statement in statements:
        command = ["psql", "-q", "-h", server.host or "127.0.0.1", "-p", str(server.port or 5432)]
        command += ["-U", server.username or "postgres", "-d", server.database or "postgres", "-c", statement]
        subprocess.run(command, check=True)


@contextlib.contextmanager
def running_system(postgres: str | None = None, **settings: str) -> Iterator[System]:
    """The four processes until the block ends; `settings` are extra CRM_* variables."""
    secret = "bench-internal-secret-" + os.urandom(16).hex()
    data_dir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update({f"CRM_{n.upper()}_PORT": str(p) for n, p in PORTS.items()})
    env.update(CRM_DATA_DIR=str(data_dir), CRM_INTERNAL_SECRET=secret, CRM_LOG_LEVEL="WARNING")
    env.update(settings)
    scratch = [f"crm_bench_{_BASE}_{name}" for name in PORTS] if postgres else []
    for name, db in zip(PORTS, scratch, strict=False):
        psql(postgres or "", f'DROP DATABASE IF EXISTS "{db}"', f'CREATE DATABASE "{db}"')
        env[f"CRM_{name.upper()}_DATABASE_URL"] = make_url(postgres or "").set(database=db).render_as_string(False)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_all.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if "Press Ctrl-C" in line:
                break
        else:
            sys.exit("the system did not start (see the log above)")
        yield System(secret=secret, backend="PostgreSQL" if postgres else "SQLite")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
        for db in scratch:
            psql(postgres or "", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
