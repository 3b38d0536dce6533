"""GET /customers?q=: search latency over 1,000,000 customers on PostgreSQL, against a same-run baseline.

Makes a scratch database on the server, migrates it, loads synthetic customers (Chinese names in
simplified and traditional characters, and Latin names, with emails and phones) with their search
columns computed by the service's own code, then times the service's listing query
(`customers.repository.list_page`, the one `GET /customers` runs, first page of 50) for a mix of
queries: pinyin, initials, mixed, traditional, characters, phone digits, email, Latin.

Each round times every query `--repeat` times, in three variants, interleaved:
- `search`: the query as the service runs it (trigram indexes available);
- `no index`: the same query with bitmap scans disabled, so the GIN trigram indexes cannot be used
  (what the search would cost without them);
- `list`: the first page without `q` (the floor: the listing itself);
- `server`: the search's own execution time in PostgreSQL (`EXPLAIN ANALYZE` of the same
  statement), without the round trip and the building of 50 customer objects, which on a loaded
  machine cost more than the search.

Usage: python bench/bench_customer_search.py --postgres postgresql://postgres@127.0.0.1/test
       [--customers 1000000] [--rounds 3] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from crm_chassis.db import create_engine
from crm_chassis.identity import Principal
from crm_chassis.testing import migrate
from crm_customer.customers import repository as customer_repo
from crm_customer.customers.models import Customer
from crm_customer.customers.schemas import CustomerFilters, CustomerSort
from crm_customer.customers.search import columns
from crm_customer.db import SCHEMA

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services/customer/alembic.ini"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"  # noqa: E501
LATIN_FIRST = ["Ada", "Li", "Wei", "Ming", "Chen", "Anna", "Zoe", "David", "Maria", "John", "Yan", "Hui"]
LATIN_LAST = ["Zhang", "Wang", "Li", "Liu", "Chen", "Smith", "Martin", "Garcia", "Muller", "Rossi", "Wu", "Zhou"]
QUERIES = [
    "zhangwei",
    "zw",
    "张w",
    "張偉",
    "王芳",
    "lina",
    "liuyang",
    "wang",
    "13800",
    "example.org",
    "欧阳",
    "zhou min",
]
PRINCIPAL = Principal(subject="bench", kind="user", role="admin")


def synthetic_name(rng: random.Random, t2s_pairs: dict[str, str]) -> str:
    roll = rng.random()
    if roll < 0.2:
        return f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)}"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    if roll < 0.3:  # one in ten written in traditional characters
        name = "".join(t2s_pairs.get(ch, ch) for ch in name)
    return name


async def load(url: str, count: int, seed: int) -> None:
    import opencc

    s2t = opencc.OpenCC("s2t")
    t2s_pairs = {ch: s2t.convert(ch) for ch in SURNAMES + GIVEN}
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    server = make_url(url)
    conn = await asyncpg.connect(
        host=server.host, port=server.port or 5432, user=server.username, database=server.database
    )
    fields = [
        "id",
        "kind",
        "name",
        "email",
        "phone",
        "other_contacts",
        "tags",
        "custom_fields",
        "hobbies",
        "taboos",
        "preferences",
        "business_lines",
        "lifecycle_stage",
        "marketing_consent",
        "is_key",
        "search_text",
        "search_pinyin",
        "search_han",
        "created_at",
        "updated_at",
        "version",
    ]
    try:
        done = 0
        while done < count:
            batch = []
            for i in range(done, min(count, done + 20_000)):
                name = synthetic_name(rng, t2s_pairs)
                email = f"user{i}@example.{rng.choice(('com', 'cn', 'org'))}"
                phone = f"+86138{i:08d}"
                search_text, search_pinyin, search_han = columns(name, email, phone, [])
                created = start + timedelta(seconds=i * 30)
                batch.append(
                    (uuid.uuid4(), "individual", name, email, phone, "[]", "[]", "{}", "[]", "[]", "[]", "[]",
                     "active", False, False, search_text, search_pinyin, search_han, created, created, 1)
                )  # fmt: skip
            await conn.copy_records_to_table("customer", schema_name=SCHEMA, records=batch, columns=fields)
            done += len(batch)
        await conn.execute(f"ANALYZE {SCHEMA}.customer")
    finally:
        await conn.close()


FOUND: dict[str, int] = {}


async def timed(engine: object, q: str | None, *, no_index: bool) -> float:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        from sqlalchemy.ext.asyncio import AsyncSession

        session = AsyncSession(bind=conn)
        if no_index:
            await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        began = time.perf_counter()
        page = await customer_repo.list_page(
            session, CustomerFilters(q=q), CustomerSort.created_at, 50, None, PRINCIPAL
        )
        elapsed = (time.perf_counter() - began) * 1000
        if q is not None:
            FOUND[q] = len(page.items)
        await session.rollback()
        return elapsed


async def server_ms(engine: object, q: str) -> float:
    """PostgreSQL's own execution time of the listing's statement for `q`."""
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        # The first page's statement, as list_page builds it (oldest first, one row more than the page).
        stmt = (
            select(Customer)
            .where(customer_repo.live(), customer_repo.search_clause(q, dialect="postgresql"))
            .order_by(Customer.created_at, Customer.id)
            .limit(51)
        )
        sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        await conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))  # as list_page does
        plan = (await conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))).scalar_one()
        return float(plan[0]["Execution Time"])


async def run(args: argparse.Namespace) -> None:
    base = make_url(args.postgres)
    db = "crm_bench_customer_search"
    admin = await asyncpg.connect(host=base.host, port=base.port or 5432, user=base.username, database=base.database)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db)
    url = base.set(database=db).render_as_string(hide_password=False)
    if not (exists and args.keep):
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
        await admin.execute(f'CREATE DATABASE "{db}"')
        await migrate(ALEMBIC_INI, url)
        began = time.perf_counter()
        await load(url, args.customers, args.seed)
        print(f"loaded {args.customers:,} customers in {time.perf_counter() - began:.0f} s")
    await admin.close()
    engine = create_engine(url, SCHEMA, pool_size=2)
    results: dict[str, list[float]] = {"search": [], "no index": [], "list": [], "server": []}
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    per_query_server: dict[str, list[float]] = {q: [] for q in QUERIES}
    try:
        for q in QUERIES:  # warm the caches once
            await timed(engine, q, no_index=False)
        for round_no in range(args.rounds):
            medians = {}
            samples: dict[str, list[float]] = {k: [] for k in results}
            for _ in range(args.repeat):
                for q in QUERIES:
                    ms = await timed(engine, q, no_index=False)
                    samples["search"].append(ms)
                    per_query[q].append(ms)
                    samples["no index"].append(await timed(engine, q, no_index=True))
                    samples["list"].append(await timed(engine, None, no_index=False))
                    server = await server_ms(engine, q)
                    samples["server"].append(server)
                    per_query_server[q].append(server)
            for name, values in samples.items():
                medians[name] = statistics.median(values)
                results[name].append(medians[name])
            print(f"round {round_no + 1}: " + ", ".join(f"{k} p50 {v:.1f} ms" for k, v in medians.items()))
    finally:
        await engine.dispose()
    print("\nper query, p50 over all rounds (ms): search as the service runs it, and PostgreSQL's own time")
    for q, values in per_query.items():
        print(
            f"  {q!r:>14}: {statistics.median(values):7.1f}   server {statistics.median(per_query_server[q]):7.1f}"
            f"   first page {FOUND[q]} rows"
        )
    search, no_index, listing, server = (
        statistics.median(results[k]) for k in ("search", "no index", "list", "server")
    )
    print(
        f"\nmedian of round p50s: search {search:.1f} ms, without the trigram indexes {no_index:.1f} ms "
        f"({no_index / search:.1f}x), plain first page {listing:.1f} ms (search / list {search / listing:.1f}x); "
        f"in PostgreSQL: search {server:.1f} ms"
    )
    if not args.keep:
        admin = await asyncpg.connect(
            host=base.host, port=base.port or 5432, user=base.username, database=base.database
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, metavar="URL")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the loaded database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
