"""Influence level and industry standing; the need level that replaced "needs the product"."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from user_helpers import known_user

from crm_chassis.testing import scratch_database

AGENT = "6f1f7f9c-5d7e-4c53-9b8e-1b1f6f0e2a15"
ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"


@pytest.fixture(autouse=True)
async def agent_known(db: Any) -> None:
    await known_user(db, AGENT, role="agent")


async def test_influence_level_and_standing_are_kept_and_published(client: httpx.AsyncClient) -> None:
    body = {"kind": "organization", "name": "Acme", "owner_id": AGENT}
    body |= {"influence_level": "high", "industry_standing": "leads the provincial trade association"}
    created = await client.post("/customers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["influence_level"] == "high"
    feed = (await client.get("/internal/events")).json()["items"]
    (data,) = [e["data"] for e in feed if e["type"] == "customer.created"]
    assert (data["influence_level"], data["industry_standing"]) == ("high", "leads the provincial trade association")
    bad = await client.post("/customers", json={**body, "influence_level": "enormous"})
    assert bad.status_code == 422


async def test_need_level_replaces_needs_product(client: httpx.AsyncClient) -> None:
    body = {"kind": "individual", "name": "Zhao", "owner_id": AGENT, "need_level": "urgent"}
    created = await client.post("/customers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["need_level"] == "urgent" and "needs_product" not in created.json()
    old = await client.post("/customers", json={**body, "need_level": None, "needs_product": True})
    assert old.status_code == 422  # the old field is no longer part of the contract
    assert (await client.post("/customers", json={**body, "need_level": "somewhat"})).status_code == 422
    cid, etag = created.json()["id"], created.headers["etag"]
    changed = await client.patch(f"/customers/{cid}", json={"need_level": "none"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.json()["need_level"] == "none"


async def test_migration_turns_needs_product_into_need_level(database_url: str, tmp_path: Path) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    async with scratch_database(backend, tmp_path, "customer_need") as url:
        config = Config(str(ALEMBIC_INI))
        config.cmd_opts = None
        config.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
        config.attributes["url"] = url
        await asyncio.to_thread(command.upgrade, config, "0017")
        engine = create_async_engine(url)
        table = "customer" if backend == "sqlite" else "customer.customer"
        async with engine.begin() as conn:
            for name, needs in (("yes", True), ("no", False), ("unknown", None)):
                cid = uuid.uuid4()
                await conn.execute(
                    text(
                        f"INSERT INTO {table} (id, kind, name, other_contacts, tags, custom_fields, hobbies,"
                        " taboos, preferences, business_lines, lifecycle_stage, marketing_consent, is_key,"
                        " needs_product, search_text, search_pinyin, search_han, created_at, updated_at, version)"
                        " VALUES (:id, 'individual', :name,"
                        " '[]', '[]', '{}', '[]', '[]', '[]', '[]', 'prospect', false, false, :needs, '', '', '',"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                    ),
                    {"id": cid if backend == "postgres" else cid.hex, "name": name, "needs": needs},
                )
        await asyncio.to_thread(command.upgrade, config, "0019")
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text(f"SELECT name, need_level FROM {table}"))).all())
        await asyncio.to_thread(command.downgrade, config, "0017")
        async with engine.connect() as conn:
            back = dict((await conn.execute(text(f"SELECT name, needs_product FROM {table}"))).all())
        await engine.dispose()
    assert rows == {"yes": "medium", "no": "none", "unknown": None}
    assert {k: None if v is None else bool(v) for k, v in back.items()} == {"yes": True, "no": False, "unknown": None}
