"""GET /customers/{id}: through the gateway vs straight at the customer service, same run.

Starts the whole system on SQLite in a temporary folder (as `make run` does), creates one
customer, then alternates wrk runs against both URLs and prints medians. Needs `wrk`
(Debian package). Usage: python bench/bench_customer_read.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from crm_chassis.identity import Principal, sign_internal_token

ROOT = Path(__file__).resolve().parents[1]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
PORTS = {"gateway": 18000, "customer": 18001, "scoring": 18002, "feedback": 18003}


def run_wrk(url: str, header: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} failed requests against {url}:\n{out}")

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * UNITS[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": pct("50"), "p99": pct("99")}


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _psql(url: str, *statements: str) -> None:
    from sqlalchemy.engine import make_url

    server = make_url(url)
    for statement in statements:
        subprocess.run(
            [
                "psql",
                "-q",
                "-h",
                server.host or "127.0.0.1",
                "-p",
                str(server.port or 5432),
                "-U",
                server.username or "postgres",
                "-d",
                server.database or "postgres",
                "-c",
                statement,
            ],
            check=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: scratch databases are made on this server (e.g. postgresql://postgres@127.0.0.1/test)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    secret = "bench-internal-secret-" + os.urandom(16).hex()
    data_dir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update({f"CRM_{n.upper()}_PORT": str(p) for n, p in PORTS.items()})
    env.update(CRM_DATA_DIR=str(data_dir), CRM_INTERNAL_SECRET=secret, CRM_LOG_LEVEL="WARNING")
    # the limiter still counts every request, but one admin reading at full speed must not hit it
    env.update(CRM_GATEWAY_RATE_LIMIT_PER_MINUTE="100000000")
    scratch = [f"crm_bench_{name}" for name in PORTS] if args.postgres else []
    for name, db in zip(PORTS, scratch, strict=False):
        _psql(args.postgres, f'DROP DATABASE IF EXISTS "{db}"', f'CREATE DATABASE "{db}"')
        env[f"CRM_{name.upper()}_DATABASE_URL"] = _with_database(args.postgres, db)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    system = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_all.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in system.stdout:  # type: ignore[union-attr]
            if "Press Ctrl-C" in line:
                break
        else:
            sys.exit("the system did not start (see the log above)")
        gateway = f"http://127.0.0.1:{PORTS['gateway']}"
        with httpx.Client(base_url=gateway, timeout=10) as client:
            form = {"username": "admin@example.com", "password": "demo-admin-password"}
            access = client.post("/api/v1/auth/token", data=form).json()["access_token"]
            bearer = f"Authorization: Bearer {access}"
            body = {"kind": "individual", "name": "Bench Customer", "email": "bench@example.com"}
            customer_id = client.post(
                "/api/v1/customers", json=body, headers={"Authorization": f"Bearer {access}"}
            ).json()["id"]
        internal = "X-Internal-Token: " + sign_internal_token(
            Principal(subject="bench", kind="user", role="admin"), secret, ttl_seconds=3600
        )
        targets = {
            "gateway": (f"{gateway}/api/v1/customers/{customer_id}", bearer),
            "direct": (f"http://127.0.0.1:{PORTS['customer']}/customers/{customer_id}", internal),
        }
        for url, header in targets.values():  # warm-up
            run_wrk(url, header, 2, args.connections)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, header) in targets.items():
                results[name].append(run_wrk(url, header, args.seconds, args.connections))
                time.sleep(1)
        print(
            f"\nGET /customers/{{id}}, {backend}, wrk -t2 -c{args.connections} -d{args.seconds}s,"
            f" {args.rounds} rounds (medians)"
        )
        print(f"{'target':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}   runs (req/s)")
        for name, runs in results.items():
            med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
            print(
                f"{name:<10}{med['rps']:>10.0f}{med['p50']:>10.2f}{med['p99']:>10.2f}   "
                + ", ".join(f"{r['rps']:.0f}" for r in runs)
            )
        ratio = statistics.median(r["rps"] for r in results["gateway"]) / statistics.median(
            r["rps"] for r in results["direct"]
        )
        print(f"gateway / direct throughput ratio: {ratio:.2f}")
        return 0
    finally:
        system.send_signal(signal.SIGTERM)
        system.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
        for db in scratch:
            _psql(args.postgres, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
