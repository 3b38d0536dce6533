"""POST /imports: 100,000 orders for 20,000 customers, on SQLite and on PostgreSQL.

Each run is a fresh process with a fresh, migrated database and the customer service in-process
(httpx over ASGI, so the import goes through the real router, multipart parsing and background
job). It imports the customers from a CSV first (external refs C-00001...), then times the orders
CSV (each order names its customer by `customer_external_ref`) from POST until the job reports
`succeeded`, and until the service's lifecycle consumer (in the same process, as in production)
has applied the last order's `order.recorded` (every stage shows the purchases). Memory: resident
set size before the orders import and the process's peak after it.

Usage: python bench/bench_import_orders.py [--runs 3] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
(--postgres defaults to $CRM_TEST_POSTGRES_URL; without one only SQLite is measured.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ALEMBIC_INI = ROOT / "services" / "customer" / "alembic.ini"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_csvs(folder: Path, customers: int, orders: int) -> tuple[Path, Path]:
    people = folder / "customers.csv"
    with people.open("w", encoding="utf-8") as f:
        f.write("kind,name,external_ref,tags\n")
        for i in range(customers):
            f.write(f"individual,Customer {i},C-{i:05d},bench\n")
    purchases = folder / "orders.csv"
    with purchases.open("w", encoding="utf-8") as f:
        f.write("customer_external_ref,external_ref,source,occurred_at,amount,currency,quantity,channel\n")
        for i in range(orders):
            day = 1 + i % 28
            f.write(
                f"C-{i % customers:05d},O-{i:06d},shop,2026-03-{day:02d}T10:00:00+08:00,{10 + i % 500}.90,CNY,1,store\n"
            )
    return people, purchases


async def import_file(client: Any, kind: str, path: Path) -> dict[str, Any]:
    from crm_chassis.testing import internal_headers

    # A fresh internal token for every request: one lives 60 s, less than a large import takes.
    with path.open("rb") as f:
        files = {"file": (path.name, f, "text/csv")}
        response = await client.post("/imports", params={"kind": kind}, files=files, headers=internal_headers())
    assert response.status_code == 202, response.text
    while True:
        polled = await client.get(response.headers["location"], headers=internal_headers())
        assert polled.status_code == 200, polled.text
        job: dict[str, Any] = polled.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.2)  # a UI's polling; faster polls cost the import itself time


async def seed_customers(engine: Any, customers: int) -> None:
    """The customers straight into the table, as the import would store them for the columns the
    orders import reads (id, external_ref, owner, deleted_at): the orders are what is timed."""
    import uuid

    from crm_chassis.db import utcnow
    from crm_customer.customers.models import Customer

    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "kind": "individual",
            "name": f"Customer {i}",
            "external_ref": f"C-{i:05d}",
            "tags": ["bench"],
            "search_text": f"customer {i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(customers)
    ]
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(Customer.__table__.insert(), rows[start : start + 5000])


async def one_run(
    backend: str, customers: int, orders: int, seed: str = "import", wait_limit: float = 300.0
) -> dict[str, Any]:
    import httpx

    from crm_chassis.testing import migrate, scratch_database
    from crm_customer.config import Settings
    from crm_customer.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        people, purchases = write_csvs(folder, customers, orders)
        async with scratch_database(backend, folder, "bench_import") as url:
            await migrate(ALEMBIC_INI, url)
            os.environ["CRM_DATA_DIR"] = str(folder)
            app = create_app(
                Settings(database_url=url, environment="test", consume_events=os.environ.get("XX_CONSUME", "1") == "1")
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
                    started = time.perf_counter()
                    if seed == "import":
                        job = await import_file(client, "customers", people)
                        assert job["counts"]["created"] == customers, job
                    else:
                        await seed_customers(app.state.engine, customers)
                    customers_s = time.perf_counter() - started
                    before = rss_mib()
                    started = time.perf_counter()
                    job = await import_file(client, "orders", purchases)
                    orders_s = time.perf_counter() - started
                    assert job["counts"]["created"] == orders, job
                    lifecycle_s, lifecycle_share = await lifecycle_caught_up(
                        app.state.sessionmaker, started, wait_limit
                    )
                sizes = await stored_bytes(app.state.engine, orders) if backend == "postgres" else {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "customers_s": customers_s,
        "orders_s": orders_s,
        "lifecycle_s": lifecycle_s,
        "lifecycle_share": lifecycle_share,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        **sizes,
    }


async def lifecycle_caught_up(sessionmaker: Any, started: float, limit: float) -> tuple[float | None, float]:
    """Wait until the service's lifecycle consumer has applied the last order's event (until then
    some customers' stages do not show their purchases yet): the seconds since `started`, or None
    if it had not after `limit` seconds, and the share of the outbox it had applied by then."""
    from sqlalchemy import func, select

    from crm_customer.db import infra
    from crm_customer.lifecycle.handlers import LIFECYCLE_CONSUMER

    async with sessionmaker() as session:
        last = await session.scalar(select(func.max(infra.outbox.c.seq)).where(infra.outbox.c.type == "order.recorded"))
    cursor = 0
    while time.perf_counter() < started + limit:
        async with sessionmaker() as session:
            cursor = (
                await session.scalar(
                    select(infra.consumer_cursor.c.last_seq).where(
                        infra.consumer_cursor.c.consumer == LIFECYCLE_CONSUMER
                    )
                )
                or 0
            )
        if cursor >= last:
            return time.perf_counter() - started, 1.0
        await asyncio.sleep(0.1)
    return None, cursor / last


async def stored_bytes(engine: Any, orders: int) -> dict[str, float]:
    """On PostgreSQL, after VACUUM ANALYZE: bytes per order of the orders table with its indexes
    and TOAST, and of the outbox's events (every order wrote one), for sizing a large tenant."""
    from sqlalchemy import text

    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        sizes = {}
        for key, table in (
            ("order_bytes", "customer.sales_order"),
            ("outbox_bytes_per_order", "customer.outbox_event"),
        ):
            await autocommit.execute(text(f"VACUUM ANALYZE {table}"))
            total = await autocommit.scalar(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table})
            sizes[key] = total / orders
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("CRM_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--seed",
        choices=["import", "insert"],
        default="import",
        help="how the customers get in: through the customers import (timed too), or inserted straight",
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="measure this database alone")
    parser.add_argument(
        "--wait", type=int, default=300, help="seconds from the import's start to wait for the lifecycle consumer"
    )
    parser.add_argument("--one", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        os.environ["CRM_LOG_LEVEL"] = "WARNING"
        print(json.dumps(asyncio.run(one_run(args.one, args.customers, args.orders, args.seed, args.wait))))
        return
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    if args.only:
        backends = [args.only]
    env = {**os.environ, **({"CRM_TEST_POSTGRES_URL": args.postgres} if args.postgres else {})}
    print(f"{args.orders:,} orders for {args.customers:,} customers, median of {args.runs} runs (each its own process)")
    print(
        "| database | orders import s | runs (s) | stages caught up s | runs (s) | customers import s "
        "| RSS before MiB | peak RSS MiB |"
    )
    print("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |")
    for backend in backends:
        results = []
        for _ in range(args.runs):
            cmd = [sys.executable, __file__, "--one", backend, "--customers", str(args.customers), "--seed", args.seed]
            cmd += ["--wait", str(args.wait)]
            out = subprocess.run([*cmd, "--orders", str(args.orders)], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(out.stderr[-3000:])
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))

        def med(key: str, rs: list[dict[str, float]] = results) -> float:
            return statistics.median(r[key] for r in rs)

        runs = ", ".join(f"{r['orders_s']:.1f}" for r in results)
        caught_up = ", ".join(
            f"{r['lifecycle_s']:.1f}" if r["lifecycle_s"] is not None else f"> {args.wait} ({r['lifecycle_share']:.0%})"
            for r in results
        )
        done = [r["lifecycle_s"] for r in results if r["lifecycle_s"] is not None]
        caught_up_median = f"{statistics.median(done):.1f}" if len(done) == len(results) else "—"
        print(
            f"| {backend} | {med('orders_s'):.1f} | {runs} | {caught_up_median} | {caught_up} "
            f"| {med('customers_s'):.1f} "
            f"| {med('rss_before_mib'):.0f} | {med('peak_rss_mib'):.0f} |"
        )
        if "order_bytes" in results[0]:
            print(
                f"stored on {backend}: {med('order_bytes'):.0f} bytes per order (table, indexes, TOAST), "
                f"{med('outbox_bytes_per_order'):.0f} bytes of outbox per order"
            )


if __name__ == "__main__":
    main()
