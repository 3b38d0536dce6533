"""PostgreSQL plans each execution of a prepared statement with its own values.

A generic plan is costed once, with the table's size at that moment, and kept until the next
ANALYZE. The orders import's repost lookup, `source = $1 AND external_ref = ANY($2)`, planned that
way while the table was nearly empty, went on scanning every order of the source for each chunk
(up to 4 s a chunk at 100,000 orders, against milliseconds through the unique index).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from crm_chassis.db import create_engine
from crm_chassis.testing import scratch_database


async def test_a_repeated_lookup_never_runs_on_a_generic_plan(tmp_path: Path) -> None:
    metadata = MetaData(schema="plans")
    orders = Table(
        "sales_order",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("source", String(50), nullable=False),
        Column("external_ref", String(100)),
        UniqueConstraint("source", "external_ref"),
    )
    lookup = select(orders.c.id).where(
        orders.c.source == bindparam("source"),
        orders.c.external_ref == any_(bindparam("refs", type_=ARRAY(String(100)))),
    )
    async with scratch_database("postgres", tmp_path, "plans") as url:
        engine = create_engine(url, "plans", pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE SCHEMA plans"))
                await conn.run_sync(metadata.create_all)
            async with engine.connect() as conn:
                for chunk in range(8):  # a generic plan may be chosen from the sixth execution on
                    refs = [f"r{chunk}-{i}" for i in range(100)]
                    await conn.execute(orders.insert(), [{"source": "shop", "external_ref": r} for r in refs])
                    assert len((await conn.execute(lookup, {"source": "shop", "refs": refs})).all()) == 100
                plans = (
                    await conn.execute(
                        text(
                            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                            " WHERE statement LIKE :pattern"
                        ),
                        {"pattern": "%FROM plans.sales_order%"},
                    )
                ).one()
                assert (plans.generic_plans, plans.custom_plans) == (0, 8)
        finally:
            await engine.dispose()
