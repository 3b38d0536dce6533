"""Order writes through the gateway: POST /orders/batch against single POST /orders, same run.

Starts the whole system (as `make run` does, on SQLite or on scratch PostgreSQL databases), creates
customers through POST /customers/batch, then:

- `--mode batch`: per round, single POSTs for `--single-seconds` as the baseline, then
  `--orders` orders in batches of `--batch` from `--clients` concurrent clients; prints orders/s
  of both, their medians over the rounds and the ratio.
- `--mode load`: single POST /orders from `--clients` clients for `--seconds`; prints throughput,
  p50/p99 latency and the count of 5xx answers (the target is none).
- `--mode cpu`: `--orders` single POST /orders from `--clients` clients, then `--settle` seconds for
  the consumers to apply them; prints each process's CPU time per order (user + system from /proc,
  from the first post to the end of the settling), the figure that says how many orders a second
  the machine can carry, whatever else shares its cores.

The admin's rate limits are lifted so that the run measures the system, not the limiter.
Usage: python bench/bench_orders_write.py --postgres postgresql://postgres@127.0.0.1:5432/test --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from typing import Any

import httpx
from harness import PORTS, cpu_seconds, listening_pid, machine_busy, postgres_cpu, running_system

UNLIMITED = {"CRM_GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000"}
UNLIMITED["CRM_GATEWAY_RATE_LIMITS"] = json.dumps({"orders.batch": 100_000_000, "customers.batch": 100_000_000})
_refs = itertools.count()


def order(customers: int) -> dict[str, Any]:
    n = next(_refs)
    day = 1 + n % 28
    return {
        "customer_external_ref": f"B-{random.randrange(customers)}",
        "external_ref": f"BO-{n}",
        "source": "bench",
        "occurred_at": f"2026-0{1 + n % 9}-{day:02d}",
        "amount": f"{random.randint(0, 50_000) / 100:.2f}",
        "currency": "CNY",
    }


async def make_customers(client: httpx.AsyncClient, count: int, per_call: int = 1000) -> None:
    for first in range(0, count, per_call):
        items = [
            {"kind": "individual", "name": f"Bench {i}", "external_ref": f"B-{i}"}
            for i in range(first, min(count, first + per_call))
        ]
        response = await client.post("/api/v1/customers/batch", json={"items": items})
        response.raise_for_status()


async def singles(client: httpx.AsyncClient, clients: int, seconds: float, customers: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.post("/api/v1/orders", json=order(customers))
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "statuses": dict(statuses),
        "errors": sum(n for s, n in statuses.items() if s >= 500),
    }


async def batches(client: httpx.AsyncClient, clients: int, total: int, size: int, customers: int) -> float:
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for _ in range(0, total, size):
        queue.put_nowait([order(customers) for _ in range(size)])

    async def worker() -> None:
        while not queue.empty():
            items = queue.get_nowait()
            response = await client.post("/api/v1/orders/batch", json={"items": items})
            response.raise_for_status()
            created = sum(1 for r in response.json()["items"] if r["status"] == "created")
            if created != len(items):
                raise RuntimeError(f"only {created} of {len(items)} created: {response.text[:500]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return total / (time.perf_counter() - started)


async def cpu_per_order(client: httpx.AsyncClient, args: argparse.Namespace) -> None:
    pids = {name: listening_pid(port) for name, port in PORTS.items()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    machine_before, postgres_before = machine_busy(), postgres_cpu()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for _ in range(args.orders):
        queue.put_nowait(order(args.customers))
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/api/v1/orders", json=body)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.clients)))
    rate = args.orders / (time.perf_counter() - started)
    await asyncio.sleep(args.settle)
    per_order = {name: 1000 * (cpu_seconds(pid) - before[name]) / args.orders for name, pid in pids.items()}
    (busy, total), postgres = machine_busy(), postgres_cpu() - postgres_before
    busy, total = busy - machine_before[0], total - machine_before[1]
    latencies.sort()
    print(
        f"{args.orders} single POST /orders: {rate:.1f} orders/s, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms;"
        " CPU per order: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in per_order.items())
        + f"; total {sum(per_order.values()):.1f} ms",
        flush=True,
    )
    print(
        f"whole machine: {100 * busy / total:.0f} % of its {os.cpu_count()} cores busy,"
        f" {1000 * busy / args.orders:.1f} ms per order, of which PostgreSQL {1000 * postgres / args.orders:.1f} ms"
        " (its processes alive at the end)",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    with running_system(args.postgres, **UNLIMITED) as system:
        limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
        headers = {"Authorization": f"Bearer {system.token()}"}
        async with httpx.AsyncClient(base_url=system.gateway, headers=headers, timeout=120, limits=limits) as client:
            await make_customers(client, args.customers, args.customers_per_call)
            print(f"\n{system.backend}, {args.customers} customers, {args.clients} clients")
            if args.mode == "cpu":
                await cpu_per_order(client, args)
                return
            if args.mode == "load":
                r = await singles(client, args.clients, args.seconds, args.customers)
                print(
                    f"single POST /orders for {args.seconds:.0f} s: {r['rate']:.0f} orders/s, p50 {r['p50']:.1f} ms,"
                    f" p99 {r['p99']:.1f} ms, 5xx: {r['errors']}, statuses {r['statuses']}"
                )
                return
            single_rates, batch_rates = [], []
            for n in range(args.rounds):
                single = await singles(client, args.clients, args.single_seconds, args.customers)
                if single["errors"]:
                    raise RuntimeError(f"5xx answers: {single['statuses']}")
                batch = await batches(client, args.clients, args.orders, args.batch, args.customers)
                single_rates.append(single["rate"])
                batch_rates.append(batch)
                print(
                    f"round {n + 1}: single {single['rate']:.0f} orders/s, batch of {args.batch} {batch:.0f} orders/s"
                )
            s, b = statistics.median(single_rates), statistics.median(batch_rates)
            print(
                f"median: single {s:.0f} orders/s, batch {b:.0f} orders/s ({args.orders} orders a round);"
                f" batch / single = {b / s:.1f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["batch", "load", "cpu"], default="batch")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (scratch databases on this server)")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument(
        "--customers-per-call", type=int, default=1000, help="smaller on a loaded machine: a call must end in 30 s"
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--orders", type=int, default=100_000, help="orders a round (batch), posts (cpu)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to apply them (cpu)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single-seconds", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=120.0, help="duration (load mode)")
    args = parser.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
