"""The bulk path for new customers (`customers/bulk.py`), behind `POST /customers/batch` and the
customers import: the rows, history and events it writes are those the single create writes, and
its per-item rules (reposts, references, owners) answer as `POST /customers` does."""

from __future__ import annotations

from typing import Any

import httpx
from customer_import_helpers import counts as job_counts
from customer_import_helpers import run_import
from sqlalchemy import select
from user_helpers import known_user

from crm_chassis.identity import Principal
from crm_customer.customers import bulk
from crm_customer.customers import service as customer_service
from crm_customer.customers.models import Customer, CustomerChange
from crm_customer.customers.schemas import CustomerCreate
from crm_customer.db import infra

# Everything the API takes that changes the stored row beyond the plain copy of a field.
SENT: dict[str, Any] = {
    "kind": "individual",
    "name": "張偉 Zhang",
    "email": "Zhang.Wei@Example.com",
    "phone": "138 0013 8000",
    "other_contacts": [{"type": "phone", "value": "13900139000", "label": "work"}],
    "tags": ["vip"],
    "address": {"city": "Shanghai"},
    "birth_date": "1990-05-01",
    "lifecycle_stage": "active",
    "custom_fields": {"shoe_size": 42},
}
ADMIN = Principal(subject="admin-1", role="admin", kind="user")
DIFFERENT = {"id", "external_ref", "created_at", "updated_at", "lifecycle_changed_at"}


def _columns(row: Any, table: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.key) for c in table.columns if c.name not in DIFFERENT}


async def test_a_bulk_created_customer_is_stored_as_the_single_create_stores_it(db: Any) -> None:
    referrer = CustomerCreate.model_validate({"kind": "individual", "name": "Referrer"})
    async with db.begin() as session:
        first, _ = await customer_service.create(session, data=referrer, phone_region="CN", principal=ADMIN)
    sent = {**SENT, "referred_by": str(first.id)}
    async with db.begin() as session:
        single, _ = await customer_service.create(
            session,
            data=CustomerCreate.model_validate({**sent, "external_ref": "S-1"}),
            phone_region="CN",
            principal=ADMIN,
        )
        [outcome] = await bulk.create(
            session,
            [CustomerCreate.model_validate({**sent, "external_ref": "B-1"})],
            phone_region="CN",
            principal=ADMIN,
        )
    assert outcome.created and outcome.error is None and outcome.id is not None
    async with db() as session:
        stored = {c.external_ref: c for c in (await session.scalars(select(Customer))).all()}
        history = {
            h.customer_id: h for h in (await session.scalars(select(CustomerChange))).all() if h.action == "created"
        }
        events = {
            row.aggregate_id: row
            for row in (await session.execute(select(infra.outbox).where(infra.outbox.c.type == "customer.created")))
        }
    table = Customer.__table__
    assert stored["S-1"].phone == "+8613800138000" and stored["S-1"].search_pinyin  # the rules did run
    assert _columns(stored["B-1"], table) == _columns(stored["S-1"], table)
    made, once = history[outcome.id], history[single.id]
    assert {k: v for k, v in made.new.items() if k != "external_ref"} == {
        k: v for k, v in once.new.items() if k != "external_ref"
    }
    assert (made.changed_by, made.field, made.old) == (once.changed_by, once.field, once.old)
    bulk_event, single_event = events[str(outcome.id)], events[str(single.id)]
    assert bulk_event.version == single_event.version == 1
    assert {k: v for k, v in bulk_event.data.items() if k not in ("id", "created_at")} == {
        k: v for k, v in single_event.data.items() if k not in ("id", "created_at")
    }


async def test_a_batch_answers_each_item_by_the_rules_of_a_single_create(client: httpx.AsyncClient, db: Any) -> None:
    agent = await known_user(db, role="agent")
    known = await client.post("/customers", json={"kind": "individual", "name": "Known", "external_ref": "K-1"})
    items = [
        {"kind": "individual", "name": "New", "external_ref": "N-1", "owner_id": agent},
        {"kind": "individual", "name": "New", "external_ref": "N-1", "owner_id": agent},  # a repost of item 0
        {"kind": "individual", "name": "Other", "external_ref": "N-1"},  # same reference, other values
        {"kind": "individual", "name": "Known", "external_ref": "K-1"},  # a repost of a stored customer
        {"kind": "individual", "name": "Referred", "referred_by": known.json()["id"]},
        {"kind": "individual", "name": "Nobody's", "referred_by": "00000000-0000-4000-8000-000000000000"},
        {"kind": "individual", "name": "Bad phone", "phone": "12"},
        {"kind": "organization", "name": "Wrong field", "gender": "female"},
        {"kind": "individual", "name": "Both", "phone": "12345", "referred_by": "00000000-0000-4000-8000-000000000000"},
    ]

    results = (await client.post("/customers/batch", json={"items": items})).json()["items"]

    assert [r["status"] for r in results] == [
        "created",
        "existing",
        "conflict",
        "existing",
        "created",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert results[1]["id"] == results[0]["id"] and results[3]["id"] == known.json()["id"]
    assert results[2]["error"]["differing"] == ["name"]  # the fields it sends
    assert [results[i]["error"]["errors"][0]["field"] for i in (5, 6, 7)] == [
        "body.items.5.referred_by",
        "body.items.6.phone",
        "body.items.7.gender",
    ]
    # as POST /customers lists them: every bad field at once
    assert [e["field"] for e in results[8]["error"]["errors"]] == ["body.items.8.phone", "body.items.8.referred_by"]
    referred = (await client.get(f"/customers/{results[4]['id']}")).json()
    assert referred["referred_by"] == known.json()["id"]


async def test_an_upsert_batch_updates_a_customer_an_earlier_item_created(client: httpx.AsyncClient) -> None:
    items = [
        {"kind": "individual", "name": "First", "external_ref": "U-1"},
        {"kind": "individual", "name": "Second", "external_ref": "U-1", "tags": ["late"]},
    ]

    results = (await client.post("/customers/batch", params={"mode": "upsert"}, json={"items": items})).json()

    assert [r["status"] for r in results["items"]] == ["created", "updated"]
    stored = (await client.get(f"/customers/{results['items'][0]['id']}")).json()
    assert (stored["name"], stored["tags"], stored["version"]) == ("Second", ["late"], 2)


async def test_an_import_creates_new_rows_in_bulk_and_updates_matched_ones_in_file_order(
    client: httpx.AsyncClient, data_dir: Any
) -> None:
    await client.post("/customers", json={"kind": "individual", "name": "Stored", "email": "stored@example.com"})
    csv = (
        "kind,name,external_ref,email,tags\n"
        "individual,Ann,R-1,,a\n"
        "individual,Stored again,,stored@example.com,b\n"  # matches the stored customer by email
        "individual,Ann renamed,R-1,,c\n"  # updates the customer row 2 creates
        "individual,Bo,R-2,,\n"
        "robot,Nobody,R-3,,\n"
    )
    job = await run_import(client, "customers", csv)

    assert job_counts(job) == (2, 2, 0, 1)  # created, updated, skipped, failed
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "kind")]
    found = {c["external_ref"] or c["email"]: c for c in (await client.get("/customers")).json()["items"]}
    assert (found["R-1"]["name"], found["R-1"]["tags"]) == ("Ann renamed", ["c"])
    assert (found["stored@example.com"]["name"], found["stored@example.com"]["tags"]) == ("Stored again", ["b"])
    assert found["R-2"]["name"] == "Bo"
