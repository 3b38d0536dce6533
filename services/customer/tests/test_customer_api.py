"""Router tests of /customers on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from user_helpers import known_user

from crm_customer.customers.models import Customer
from crm_customer.db import infra

PROBLEM = "application/problem+json"


def person(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "individual", "name": "Ada Lovelace", "email": "Ada@Example.com"}
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/customers", json=person(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def count(db: Any, table: Any = None) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(table if table is not None else Customer)))


async def test_create_then_read_back(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/customers",
        json=person(
            phone="138 0013 8000",
            tags=["vip", "vip", "north"],
            birth_date="1990-05-01",
            custom_fields={"shoe_size": 38},
            address={"country": "CN", "city": "上海"},
            taboos=["no calls before 10:00"],
        ),
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/customers/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["email"] == "ada@example.com"
    assert body["phone"] == "+8613800138000"
    assert body["tags"] == ["vip", "north"]
    assert body["lifecycle_stage"] == "prospect"
    read = await client.get(f"/customers/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


async def test_organization_fields_and_kind_rules(client: httpx.AsyncClient) -> None:
    org = await create(
        client, kind="organization", name="Acme 有限公司", industry="retail", company_size="large", email=None
    )
    assert org["industry"] == "retail"
    response = await client.post("/customers", json=person(kind="organization", gender="female"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["body.gender"]


async def test_unknown_field_is_rejected_and_listed(client: httpx.AsyncClient, db: Any) -> None:
    response = await client.post("/customers", json=person(is_admin=True, credit=5))
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == PROBLEM
    assert {"body.is_admin", "body.credit"} <= {e["field"] for e in problem["errors"]}
    assert problem["code"] == "validation_failed" and problem["request_id"]
    assert await count(db) == 0


async def test_wrong_types_and_ranges_list_every_field(client: httpx.AsyncClient, db: Any) -> None:
    response = await client.post(
        "/customers",
        json=person(kind="robot", email="not-an-email", birth_date="2999-01-01", tags="vip", marketing_consent="maybe"),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.kind", "body.email", "body.birth_date", "body.tags", "body.marketing_consent"} <= fields
    assert await count(db) == 0


async def test_bad_phone_is_refused(client: httpx.AsyncClient, db: Any) -> None:
    response = await client.post("/customers", json=person(phone="12"))
    assert response.status_code == 422
    response = await client.post("/customers", json=person(phone="+1 555 0100 999999"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.phone"
    assert await count(db) == 0


async def test_oversize_custom_fields_and_tags(client: httpx.AsyncClient) -> None:
    many = {f"f{i}": i for i in range(51)}
    assert (await client.post("/customers", json=person(custom_fields=many))).status_code == 422
    assert (await client.post("/customers", json=person(custom_fields={"Bad Key": 1}))).status_code == 422
    assert (await client.post("/customers", json=person(tags=[f"t{i}" for i in range(51)]))).status_code == 422


async def test_malformed_json_and_oversize_body(client: httpx.AsyncClient, db: Any) -> None:
    response = await client.post(
        "/customers", content=b'{"kind": "individual", ', headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM
    big = person(notes="x" * (1024 * 1024 + 10))
    response = await client.post("/customers", json=big)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await count(db) == 0


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/customers/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"
    assert (await client.get("/customers/not-a-uuid")).status_code == 422


async def test_patch_requires_if_match_and_refuses_stale(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"/customers/{created['id']}"
    missing = await client.patch(url, json={"occupation": "engineer"})
    assert missing.status_code == 428
    assert missing.headers["content-type"] == PROBLEM
    ok = await client.patch(url, json={"occupation": "engineer"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"occupation": "poet"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(url)).json()["occupation"] == "engineer"


async def test_if_none_match_gives_304(client: httpx.AsyncClient) -> None:
    created = await create(client)
    response = await client.get(f"/customers/{created['id']}", headers={"If-None-Match": '"1"'})
    assert response.status_code == 304
    assert response.headers["etag"] == '"1"'


async def test_patch_clears_and_validates(client: httpx.AsyncClient) -> None:
    created = await create(client, tags=["a"], occupation="x")
    url = f"/customers/{created['id']}"
    response = await client.patch(url, json={"tags": None, "occupation": None}, headers={"If-Match": '"1"'})
    assert response.status_code == 200
    assert response.json()["tags"] == [] and response.json()["occupation"] is None
    assert (await client.patch(url, json={"name": None}, headers={"If-Match": '"2"'})).status_code == 422
    assert (await client.patch(url, json={"kind": "organization"}, headers={"If-Match": '"2"'})).status_code == 422


async def test_soft_delete(client: httpx.AsyncClient, db: Any) -> None:
    created = await create(client)
    url = f"/customers/{created['id']}"
    assert (await client.delete(url)).status_code == 428
    assert (await client.delete(url, headers={"If-Match": '"9"'})).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"1"'})).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert await count(db) == 1  # kept, only hidden
    listed = (await client.get("/customers")).json()
    assert listed["items"] == []


async def test_external_ref_is_unique(client: httpx.AsyncClient) -> None:
    first = await create(client, external_ref="P-1")
    response = await client.post("/customers", json=person(name="Other", external_ref="P-1"))
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["differing"]) == ("external_ref_conflict", ["name"])
    again = await client.post("/customers", json=person(external_ref="P-1"))  # the partner reposts it
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    other = await create(client, name="Other")
    taken = await client.patch(f"/customers/{other['id']}", json={"external_ref": "P-1"}, headers={"If-Match": '"1"'})
    assert (taken.status_code, taken.json()["code"]) == (409, "duplicate_external_ref")


async def test_referral_must_exist(client: httpx.AsyncClient) -> None:
    response = await client.post("/customers", json=person(referred_by=str(uuid.uuid4())))
    assert response.status_code == 422
    referrer = await create(client, name="Referrer")
    referred = await create(client, name="Friend", acquisition_channel="referral", referred_by=referrer["id"])
    assert referred["referred_by"] == referrer["id"]


async def test_search_latin_chinese_phone_email(client: httpx.AsyncClient) -> None:
    await create(client, name="张伟", email="zw@example.cn", phone="+86 139 1234 5678")
    await create(client, name="Zoë Martin", email="zoe@example.com")
    await create(client, name="ＷＩＤＥ Name", email=None)

    async def names(q: str) -> list[str]:
        response = await client.get("/customers", params={"q": q})
        assert response.status_code == 200
        return sorted(c["name"] for c in response.json()["items"])

    assert await names("张") == ["张伟"]
    assert await names("zoë") == ["Zoë Martin"]
    assert await names("ZOE@EXAMPLE") == ["Zoë Martin"]
    assert await names("1391234") == ["张伟"]
    assert await names("139-1234") == ["张伟"]
    assert await names("wide") == ["ＷＩＤＥ Name"]
    assert await names("100%") == []


async def test_filters_and_tag(client: httpx.AsyncClient, db: Any) -> None:
    owner = await known_user(db, role="agent")
    await create(client, name="A", owner_id=owner, tags=["vip"], lifecycle_stage="active")
    await create(client, name="B", tags=["other"])
    await create(client, name="C", kind="organization", email=None)
    got = (await client.get("/customers", params={"owner_id": owner})).json()["items"]
    assert [c["name"] for c in got] == ["A"]
    got = (await client.get("/customers", params={"tag": "vip"})).json()["items"]
    assert [c["name"] for c in got] == ["A"]
    got = (await client.get("/customers", params={"kind": "organization"})).json()["items"]
    assert [c["name"] for c in got] == ["C"]
    got = (await client.get("/customers", params={"lifecycle_stage": "active"})).json()["items"]
    assert [c["name"] for c in got] == ["A"]
    assert (await client.get("/customers", params={"lifecycle_stage": "zombie"})).status_code == 422
    assert (await client.get("/customers", params={"created_after": "2020-01-01T00:00:00"})).status_code == 422


async def test_cursor_pagination_is_stable_and_complete(client: httpx.AsyncClient) -> None:
    names = [f"N{i:02d}" for i in range(23)]
    for name in reversed(names):
        await create(client, name=name, email=None)
    for sort, expected in (("name", names), ("-name", list(reversed(names)))):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/customers", params=params)).json()
            seen += [c["name"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
    assert (await client.get("/customers", params={"limit": 201})).status_code == 422
    assert (await client.get("/customers", params={"limit": 0})).status_code == 422
    assert (await client.get("/customers", params={"cursor": "garbage!"})).status_code == 422
    first = (await client.get("/customers", params={"limit": 5, "sort": "name"})).json()
    wrong_sort = await client.get("/customers", params={"cursor": first["next_cursor"], "sort": "-created_at"})
    assert wrong_sort.status_code == 422
    assert "another list or sort order" in wrong_sort.json()["errors"][0]["message"]
    # a cursor of bytes that are no text: said plainly, not in the decoder's words
    undecodable = await client.get("/customers", params={"cursor": "gYGB"})
    assert undecodable.status_code == 422
    assert undecodable.json()["errors"][0]["message"] == "not a cursor this list gave out"


async def test_idempotency_key_replays_and_guards(client: httpx.AsyncClient, db: Any) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = await client.post("/customers", json=person(), headers=headers)
    again = await client.post("/customers", json=person(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(db) == 1
    other = await client.post("/customers", json=person(name="Someone else"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    # a 422 like every other: the input it refuses named in errors[], in the routes' compact JSON
    assert other.json()["errors"] == [
        {"field": "header.idempotency-key", "code": "idempotency_key_reused", "message": other.json()["detail"]}
    ]
    assert other.headers["content-type"] == "application/problem+json" and b'", "' not in other.content
    assert await count(db) == 1


async def test_idempotency_key_is_scoped_per_caller(app: Any, client: httpx.AsyncClient, db: Any) -> None:
    from crm_chassis.testing import internal_headers

    await client.post("/customers", json=person(), headers={"Idempotency-Key": "shared"})
    other = await client.post(
        "/customers",
        json=person(),
        headers={"Idempotency-Key": "shared", **internal_headers(subject="someone-else")},
    )
    assert other.status_code == 201
    assert await count(db) == 2


async def test_concurrent_same_key_creates_one(client: httpx.AsyncClient, db: Any) -> None:
    headers = {"Idempotency-Key": "race"}
    responses = await asyncio.gather(*[client.post("/customers", json=person(), headers=headers) for _ in range(5)])
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert await count(db) == 1


async def test_calls_without_internal_token_are_refused(app: Any, db: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://customer") as bare:
        response = await bare.post("/customers", json=person())
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        forged = await bare.get("/customers", headers={"X-Internal-Token": "eyJhbGciOiJub25lIn0.e30."})
        assert forged.status_code == 401
        assert (await bare.get("/healthz")).status_code == 200
        assert (await bare.get("/readyz")).status_code == 200
    assert await count(db) == 0


async def test_events_written_with_the_change(client: httpx.AsyncClient, db: Any) -> None:
    created = await create(client)
    await client.patch(f"/customers/{created['id']}", json={"lifecycle_stage": "active"}, headers={"If-Match": '"1"'})
    await client.delete(f"/customers/{created['id']}", headers={"If-Match": '"2"'})
    await client.post("/customers", json=person(kind="robot"))  # refused: must publish nothing
    feed = (await client.get("/internal/events", params={"after": 0})).json()
    assert [e["type"] for e in feed["items"]] == ["customer.created", "customer.updated", "customer.deleted"]
    assert [e["version"] for e in feed["items"]] == [1, 2, 3]
    assert feed["items"][1]["data"]["changed"] == ["lifecycle_stage"]
    assert "email" not in feed["items"][0]["data"]
    assert await count(db, infra.outbox) == 3


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/customers", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    problem = await client.get(f"/customers/{uuid.uuid4()}", headers={"X-Request-ID": "abc-456"})
    assert problem.json()["request_id"] == "abc-456"


async def test_migrations_match_the_models(database_url: str) -> None:
    from pathlib import Path

    import pytest

    from crm_chassis.testing import check_migrations_match_models

    if database_url.startswith("sqlite"):
        pytest.skip("alembic check compares schemas; run on PostgreSQL")
    await check_migrations_match_models(Path(__file__).parents[1] / "alembic.ini", database_url)
