"""A full scoring run on PostgreSQL: read model → statistics → fit → scores written back.

Fills a scratch database's scoring read model with N customers and about `--orders-per` orders
each (generated inside PostgreSQL), then times live runs end to end and reports their stage
timings and this process's peak memory. The first run finds no kept statistics, computes them all
from the orders and inserts every score. Before each later run, `--new-orders` orders arrive for
as many random customers (each queues a re-scoring, as the order handler does, and no drain runs
in between), and the service's clock moves on `--days-between` days (1), so purchases cross the
windows' edges: the run computes those customers' statistics again, reads everyone else's kept
ones, and updates every score, as a daily run does in production. `--rebuild` makes every run
compute all statistics from the orders (the old way, and a backtest's). Usage:

    python bench/bench_scoring_run.py --postgres postgresql://postgres@127.0.0.1:5432/test \
        --customers 1000000 --orders-per 10 --runs 3

`--keep` leaves the scratch database for `--reuse`, which skips the fill.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from crm_chassis.db import create_engine, create_sessionmaker, normalise_url
from crm_chassis.identity import Principal
from crm_chassis.testing import migrate
from crm_scoring.config import Settings
from crm_scoring.runs import service as run_service

ROOT = Path(__file__).resolve().parents[1]

FILL = [
    """INSERT INTO scoring.customer_ref (id, kind, display_name, owner_id, lifecycle_stage, deleted, erased, version,
           updated_at)
       SELECT md5(i::text)::uuid, 'individual', 'C' || i, NULL, 'active', false, false, 1, now()
       FROM generate_series(1, :customers) AS i""",
    # Each customer: acquired on a day of the last two years, a number of orders drawn from a
    # geometric distribution (mean `orders_per`; one in `orders_per` buys once), the first on the
    # acquisition day and the rest spread over the share of the time since that they stayed active.
    """CREATE TEMPORARY TABLE shape ON COMMIT DROP AS
       SELECT md5(i::text)::uuid AS id, 1 + floor(random() * 730) AS age,
              1 + floor(ln(1 - random()) / ln(1 - 1.0 / :orders_per))::int AS orders, random() AS active
       FROM generate_series(1, :customers) AS i""",
    """INSERT INTO scoring.order_fact (id, customer_id, occurred_at, amount, net_amount, currency, margin, quantity,
           channel, refund_of)
       SELECT gen_random_uuid(), id, now() - make_interval(secs => days_ago * 86400), amount, amount, 'CNY', NULL,
              1, NULL, NULL
       FROM (SELECT s.id, CASE WHEN g = 1 THEN s.age ELSE s.age * (1 - random() * s.active) END AS days_ago,
                    round((10 + random() * 190)::numeric, 2) AS amount
             FROM shape AS s, generate_series(1, s.orders) AS g) AS drawn""",
]
# as autovacuum leaves a table that has settled: statistics, visibility map, hint bits set
SETTLE = ["VACUUM ANALYZE scoring.customer_ref", "VACUUM ANALYZE scoring.order_fact"]
# orders arriving between runs, each queuing its customer's re-scoring
ARRIVE = [
    """CREATE TEMPORARY TABLE arrived ON COMMIT DROP AS
       SELECT md5((1 + floor(random() * :customers))::int::text)::uuid AS id, round((10 + random() * 190)::numeric, 2)
              AS amount
       FROM generate_series(1, :orders)""",
    """INSERT INTO scoring.order_fact (id, customer_id, occurred_at, amount, net_amount, currency, margin, quantity,
           channel, refund_of)
       SELECT gen_random_uuid(), id, now() - interval '1 minute', amount, amount, 'CNY', NULL, 1, NULL, NULL
       FROM arrived""",
    """INSERT INTO scoring.rescore_request (customer_id, requested_at)
       SELECT DISTINCT id, now() FROM arrived ON CONFLICT (customer_id) DO NOTHING""",
]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, metavar="URL")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3, help="the first inserts every score, the others update")
    parser.add_argument("--new-orders", type=int, default=10_000, help="orders arriving before each later run")
    parser.add_argument("--rebuild", action="store_true", help="every run computes all statistics from the orders")
    parser.add_argument(
        "--days-between", type=float, default=1.0, help="the service clock moves on by this much before each later run"
    )
    parser.add_argument("--keep", action="store_true", help="leave the scratch database")
    parser.add_argument("--reuse", action="store_true", help="use the scratch database a --keep run left")
    args = parser.parse_args()
    if args.orders_per <= 1:
        parser.error("--orders-per must be above 1")

    server = make_url(normalise_url(args.postgres))
    database = "crm_bench_scoring"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    if not args.reuse:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{database}"'))
    url = server.set(database=database).render_as_string(hide_password=False)
    try:
        await migrate(ROOT / "services/scoring/alembic.ini", url)
        engine = create_engine(url, "scoring")
        clock = time.perf_counter()
        if not args.reuse:
            async with engine.begin() as conn:
                for statement in FILL:
                    await conn.execute(text(statement), {"customers": args.customers, "orders_per": args.orders_per})
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in SETTLE:
                await autocommit.execute(text(statement))
            orders = await autocommit.scalar(text("SELECT count(*) FROM scoring.order_fact"))
        print(f"{args.customers:,} customers and {orders:,} orders ready in {time.perf_counter() - clock:.1f} s")

        sessionmaker = create_sessionmaker(engine)
        writers = Settings().run_write_connections
        totals = []
        async with engine.connect() as conn:  # a reused database: carry on after its last run
            last = await conn.scalar(text("SELECT max(as_of) FROM scoring.scoring_run WHERE status = 'succeeded'"))
        ahead = timedelta(0)
        if last is not None:
            ahead = max(ahead, last - datetime.now(UTC) + timedelta(days=args.days_between))
        for k in range(args.runs):
            # as a daily run sees it: the clock moved on, purchases crossed the windows' edges
            shifted = ahead + timedelta(days=k * args.days_between)
            run_service.utcnow = lambda shifted=shifted: datetime.now(UTC) + shifted  # type: ignore[attr-defined,misc]
            if k:
                async with engine.begin() as conn:
                    for statement in ARRIVE:
                        await conn.execute(text(statement), {"customers": args.customers, "orders": args.new_orders})
            async with sessionmaker.begin() as session:
                run = await run_service.start(
                    session, principal=Principal.service("bench"), as_of=None, rebuild_statistics=args.rebuild
                )
            clock = time.perf_counter()
            await run_service.execute(sessionmaker, run.id, writers=writers)
            elapsed = time.perf_counter() - clock
            async with sessionmaker() as session:
                done = await run_service.get(session, run.id)
            if done.status != "succeeded":
                raise SystemExit(f"run {k + 1} {done.status}: {done.error}")
            kind = f"{shifted.days} days on, {args.new_orders:,} new orders (updates)"
            if k == 0 and not args.reuse:
                kind = "first run (inserts)"
            print(f"run {k + 1}, {kind}: {elapsed:.1f} s; stages {done.timings}; counts {done.counts}")
            totals.append(elapsed)
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table, count in (("scoring.order_fact", orders), ("scoring.customer_score", args.customers)):
                await autocommit.execute(text(f"VACUUM ANALYZE {table}"))
                size = await autocommit.scalar(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table}
                )
                print(f"{table}: {size / count:.0f} bytes per row (table, indexes, TOAST)")
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        later = totals[1:] or totals
        print(f"median of the {len(later)} runs after the first: {statistics.median(later):.1f} s; writers: {writers}")
        print(f"peak memory of this process: {peak_mib:.0f} MiB")
        await engine.dispose()
    finally:
        if not args.keep:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
