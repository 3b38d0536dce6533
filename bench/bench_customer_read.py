"""GET /customers/{id}: through the gateway vs straight at the customer service, same run.

Starts the whole system on SQLite in a temporary folder (as `make run` does), creates one
customer, then alternates wrk runs against both URLs and prints medians. Needs `wrk`
(Debian package). Usage: python bench/bench_customer_read.py [--rounds 3] [--seconds 10]
[--connections 2,32] [--postgres URL]. For each number of connections it prints the medians, the
p50 the gateway adds and the gateway / direct throughput ratio, against the targets of
docs/performance.md, and the CPU time per request of the gateway and the customer service (user + system, from
/proc: unlike a latency, it barely moves when other work shares the cores).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from harness import PORTS, cpu_seconds, listening_pid, running_system

ROOT = Path(__file__).resolve().parents[1]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(
    url: str, header: str, seconds: int, connections: int, pids: dict[str, int] | None = None
) -> dict[str, float]:
    """One wrk run: req/s, p50, p99, and each watched process's CPU milliseconds per request."""
    pids = pids or {}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
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
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu = {f"cpu_{name}": 1000 * (cpu_seconds(pid) - cpu_before[name]) / max(requests, 1) for name, pid in pids.items()}
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), **cpu}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="2,32", help="comma-separated wrk connection counts")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: scratch databases are made on this server (e.g. postgresql://postgres@127.0.0.1/test)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="CRM_X=VALUE", help="extra setting (repeatable)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    # the limiter still counts every request, but one admin reading at full speed must not hit it
    extra = dict(item.split("=", 1) for item in args.set)
    with running_system(args.postgres, **{"CRM_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000", **extra}) as system:
        backend, gateway = system.backend, system.gateway
        access = system.token()
        bearer = f"Authorization: Bearer {access}"
        with httpx.Client(base_url=gateway, timeout=10) as client:
            body = {"kind": "individual", "name": "Bench Customer", "email": "bench@example.com"}
            customer_id = client.post(
                "/api/v1/customers", json=body, headers={"Authorization": f"Bearer {access}"}
            ).json()["id"]
        internal = system.internal_header()
        targets = {
            "gateway": (f"{gateway}/api/v1/customers/{customer_id}", bearer),
            "direct": (f"{system.url('customer')}/customers/{customer_id}", internal),
        }
        for url, header in targets.values():  # warm-up
            run_wrk(url, header, 2, 8)
        pids = {name: listening_pid(PORTS[name]) for name in ("gateway", "customer")}
        for connections in (int(c) for c in args.connections.split(",")):
            report(targets, connections, args.rounds, args.seconds, backend, pids)
        return 0


def report(
    targets: dict[str, tuple[str, str]], connections: int, rounds: int, seconds: int, backend: str, pids: dict[str, int]
) -> None:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, header) in targets.items():
            results[name].append(run_wrk(url, header, seconds, connections, pids))
            time.sleep(1)
    print(f"\nGET /customers/{{id}}, {backend}, wrk -t2 -c{connections} -d{seconds}s, {rounds} rounds (medians)")
    print(f"{'target':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}   runs (req/s; p50 ms)")
    med: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        med[name] = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
        print(
            f"{name:<10}{med[name]['rps']:>10.0f}{med[name]['p50']:>10.2f}{med[name]['p99']:>10.2f}   "
            + ", ".join(f"{r['rps']:.0f}" for r in runs)
            + "; "
            + ", ".join(f"{r['p50']:.2f}" for r in runs)
        )
    added = med["gateway"]["p50"] - med["direct"]["p50"]
    ratio = med["gateway"]["rps"] / med["direct"]["rps"]
    print(f"p50 added by the gateway: {added:.2f} ms (target at 2 connections: <= 2 ms)")
    print(f"gateway / direct throughput ratio: {ratio:.2f} (target at 32 connections: >= 0.6)")
    for process, target in (("gateway", "gateway"), ("customer", "gateway"), ("customer", "direct")):
        cpu = [r[f"cpu_{process}"] for r in results[target]]
        print(
            f"{process} process CPU per request, {target} runs: {statistics.median(cpu):.2f} ms "
            f"(runs: {', '.join(f'{c:.2f}' for c in cpu)})",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
