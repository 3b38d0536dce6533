"""`q` on /customers in Chinese: pinyin, initials, mixed input, traditional and simplified, on
every path that writes a customer's name, and the migration that fills the columns of old rows."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from alembic.config import Config
from customer_import_helpers import run_import
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_chassis.testing import scratch_database
from crm_customer.customers.search import columns, needles, pinyin_forms

ALEMBIC_INI = Path(__file__).parents[1] / "alembic.ini"


async def make(client: httpx.AsyncClient, name: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def found(client: httpx.AsyncClient, q: str) -> set[str]:
    response = await client.get("/customers", params={"q": q})
    assert response.status_code == 200, response.text
    return {c["name"] for c in response.json()["items"]}


def test_pinyin_forms_and_needles() -> None:
    assert pinyin_forms("张伟") == ["zhangwei", "zw"]
    assert pinyin_forms("張偉") == ["zhangwei", "zw"]
    assert pinyin_forms("Zhang Wei") == ["zhangwei"]
    assert pinyin_forms("Zoë Martin") == [] and pinyin_forms("Ada") == []
    # A surname character with several readings gets a form for each of them.
    assert {"cengguofan", "zengguofan", "zgf"} <= set(pinyin_forms("曾国藩"))
    assert columns("張偉", "A@X.cn", "+8613800138000", []) == (
        "张伟\x1fa@x.cn\x1f8613800138000",
        "zhangwei\x1fzw",
        "5f204f1f",
    )
    assert needles("张伟").codes == ("5f204f1f",) and needles("张w").codes == ("5f20",)
    # characters then letters: the full pinyin alone (indexable, and what the initials say too)
    assert needles("张w").pinyin == ("zhangw",) and needles("张w").han == ("张",) and needles("张w").sound_only
    # letters then characters: the initials are what can match (`zwei` is no name's pinyin)
    assert needles("z伟").pinyin == ("zwei", "zw") and not needles("z伟").sound_only
    assert needles("張偉").text == "张伟" and needles("張偉").pinyin == ()
    assert needles("138-0013").text == "1380013"


async def test_pinyin_initials_mixed_and_traditional(client: httpx.AsyncClient) -> None:
    await make(client, "张伟")
    await make(client, "章文")  # zhang wen: shares the sound of 张 and the initials zw
    await make(client, "王芳")
    await make(client, "臺灣茶行", kind="organization")
    await make(client, "曾国藩")
    await make(client, "Zhang Wei")
    await make(client, "张Wei")  # written mixed: found by its pinyin, as the characters and letters say

    assert await found(client, "zhangwei") == {"Zhang Wei", "张伟", "张Wei"}
    assert await found(client, "ZhangWei") == {"Zhang Wei", "张伟", "张Wei"}
    assert await found(client, "zw") == {"章文", "张伟", "张Wei"}  # initials of Chinese names only
    assert await found(client, "wf") == {"王芳"}
    assert await found(client, "张w") == {"张伟", "张Wei"}  # 章文 sounds alike but is not written 张
    assert await found(client, "张we") == {"张伟", "张Wei"}
    assert await found(client, "z伟") == {"张伟"}
    assert await found(client, "zhang w") == {"Zhang Wei", "章文", "张伟", "张Wei"}
    assert await found(client, "張偉") == {"张伟"}  # traditional finds simplified...
    assert await found(client, "台湾") == {"臺灣茶行"}  # ...and simplified traditional
    assert await found(client, "张伟") == {"张伟"}  # characters never match a homophone
    assert await found(client, "zengguofan") == {"曾国藩"}
    assert await found(client, "zgf") == {"曾国藩"}
    assert await found(client, "xyz") == set()


async def test_every_write_path_keeps_the_columns(client: httpx.AsyncClient, data_dir: Path) -> None:
    # update
    renamed = await make(client, "Someone")
    patched = await client.patch(f"/customers/{renamed['id']}", headers={"If-Match": '"1"'}, json={"name": "李娜"})
    assert patched.status_code == 200, patched.text
    assert await found(client, "lina") == {"李娜"}
    assert await found(client, "someone") == set()

    # batch, created and upserted
    items = [{"kind": "individual", "name": "刘洋", "external_ref": "B-1"}]
    assert (await client.post("/customers/batch", json={"items": items})).status_code == 200
    assert await found(client, "liuyang") == {"刘洋"}
    items = [{"kind": "individual", "name": "劉強", "external_ref": "B-1"}]
    upserted = await client.post("/customers/batch", params={"mode": "upsert"}, json={"items": items})
    assert upserted.status_code == 200, upserted.text
    assert await found(client, "lq") == {"劉強"}
    assert await found(client, "liuyang") == set()

    # import
    job = await run_import(client, "customers", "kind,name\nindividual,陳靜\n")
    assert job["status"] == "succeeded", job
    assert await found(client, "chenjing") == {"陳靜"} and await found(client, "陈静") == {"陳靜"}

    # merge that takes the duplicate's name, and its undo
    survivor = await make(client, "Wang", email="w@example.com")
    duplicate = await make(client, "王磊", email="w@example.com")
    merged = await client.post(
        f"/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"], "prefer": "duplicate"}
    )
    assert merged.status_code == 201, merged.text
    assert await found(client, "wanglei") == {"王磊"}
    assert (await client.get(f"/customers/{survivor['id']}")).json()["name"] == "王磊"
    undone = await client.post(f"/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert await found(client, "wanglei") == {"王磊"}  # the duplicate is back, under its own name
    assert await found(client, "wang") == {"Wang", "王磊"}


async def test_migration_fills_the_columns_of_existing_rows(database_url: str, tmp_path: Path) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    async with scratch_database(backend, tmp_path, "customer_backfill") as url:
        config = Config(str(ALEMBIC_INI))
        config.cmd_opts = None
        config.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
        config.attributes["url"] = url
        await asyncio.to_thread(command.upgrade, config, "0016")
        engine = create_async_engine(url)
        table = "customer" if backend == "sqlite" else "customer.customer"
        ids = [uuid.uuid4(), uuid.uuid4()]
        async with engine.begin() as conn:
            for cid, name in zip(ids, ("張偉", "Ada"), strict=True):
                await conn.execute(
                    text(
                        f"INSERT INTO {table} (id, kind, name, other_contacts, tags, custom_fields, hobbies,"
                        " taboos, preferences, business_lines, lifecycle_stage, marketing_consent, is_key,"
                        " search_text, created_at, updated_at, version) VALUES (:id, 'individual', :name,"
                        " '[]', '[]', '{}', '[]', '[]', '[]', '[]', 'prospect', false, false, :old,"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                    ),
                    {"id": cid if backend == "postgres" else cid.hex, "name": name, "old": name},
                )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(f"SELECT name, search_text, search_pinyin, search_han FROM {table} ORDER BY name")
                )
            ).all()
            if backend == "postgres":
                indexes = set(
                    (
                        await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'customer'"))
                    ).scalars()
                )
                trigram = {
                    "ix_customer_search_text_trgm",
                    "ix_customer_search_pinyin_trgm",
                    "ix_customer_search_han_trgm",
                }
                assert trigram <= indexes
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("Ada", "ada\x1f\x1f", "", ""),
        ("張偉", "张伟\x1f\x1f", "zhangwei\x1fzw", "5f204f1f"),
    ]


async def test_odd_queries_are_plain_text(client: httpx.AsyncClient) -> None:
    await make(client, "O'Brien 张")
    await make(client, "100% 李")
    assert await found(client, "o'brien") == {"O'Brien 张"}
    assert await found(client, "100%") == {"100% 李"}
    assert await found(client, "%") == {"100% 李"}
    assert await found(client, "_") == set()
    assert await found(client, "\\") == set()
    assert await found(client, "'; DROP TABLE customer; --") == set()
    nul = await client.get("/customers", params={"q": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["errors"][0]["field"] == "query.q", nul.text
