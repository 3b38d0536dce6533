"""Hand-over: POST /customers/reassign moves one account manager's customers to another, as a job."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from customer_import_helpers import wait_for
from sqlalchemy import select
from user_helpers import known_user

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_customer.db import infra


async def _customers(client: httpx.AsyncClient, owner: str | None, n: int, **body: Any) -> list[str]:
    ids = []
    for i in range(n):
        created = await client.post(
            "/customers", json={"kind": "individual", "name": f"C{i}", "owner_id": owner, **body}
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def _owners(client: httpx.AsyncClient, ids: list[str]) -> list[str | None]:
    return [(await client.get(f"/customers/{cid}")).json()["owner_id"] for cid in ids]


async def _reassign(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return await client.post("/customers/reassign", json=body, headers=headers)


@pytest.fixture
async def people(db: Any) -> dict[str, str]:
    return {
        "li": await known_user(db, role="agent", name="Li Na"),
        "wang": await known_user(db, role="agent", name="Wang Fang"),
        "chen": await known_user(db, role="agent", name="Chen Jie"),
        "analyst": await known_user(db, role="analyst", name="Zhao"),
    }


async def test_every_customer_of_the_owner_moves_with_the_reason(
    client: httpx.AsyncClient, db: Any, people: dict[str, str]
) -> None:
    li, wang, chen = people["li"], people["wang"], people["chen"]
    leaving = await _customers(client, li, 3)
    others = await _customers(client, chen, 2)

    started = await _reassign(client, from_owner_id=li, to_owner_id=wang, reason="Li Na leaves the company")

    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/customers/reassign/{started.json()['id']}"
    assert started.json()["progress"]["total"] == 3
    job = await wait_for(client, started.headers["location"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 3, "total": 3, "moved": 3, "skipped": 0}
    assert await _owners(client, leaving) == [wang] * 3
    assert await _owners(client, others) == [chen] * 2
    history = (await client.get(f"/customers/{leaving[0]}/owner-history")).json()["items"]
    assert [(h["from_owner_id"], h["to_owner_id"], h["reason"]) for h in history] == [
        (li, wang, "Li Na leaves the company")
    ]
    assert (await client.get(f"/customers/{leaving[0]}")).json()["owner_name"] == "Wang Fang"
    async with db() as session:
        changed = (
            await session.scalars(select(infra.outbox.c.data).where(infra.outbox.c.type == "customer.owner_changed"))
        ).all()
    assert sorted(c["id"] for c in changed) == sorted(leaving)
    assert {(c["from_owner_id"], c["to_owner_id"], c["reason"]) for c in changed} == {
        (li, wang, "Li Na leaves the company")
    }


async def test_a_filter_narrows_the_hand_over(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    li, wang = people["li"], people["wang"]
    vip = await _customers(client, li, 2, tags=["vip"])
    plain = await _customers(client, li, 2)

    started = await _reassign(client, from_owner_id=li, to_owner_id=wang, reason="VIP desk", filter={"tag": "vip"})
    job = await wait_for(client, started.headers["location"])

    assert (job["status"], job["progress"]["moved"], job["filter"]) == ("succeeded", 2, {"tag": "vip"})
    assert await _owners(client, vip) == [wang, wang]
    assert await _owners(client, plain) == [li, li]


async def test_more_customers_than_one_chunk(client: httpx.AsyncClient, people: dict[str, str], monkeypatch) -> None:
    from crm_customer.reassign import service

    monkeypatch.setattr(service, "CHUNK", 2)
    li, wang = people["li"], people["wang"]
    ids = await _customers(client, li, 5)

    job = await wait_for(
        client, (await _reassign(client, from_owner_id=li, to_owner_id=wang, reason="r")).headers["location"]
    )

    assert job["progress"] == {"done": 5, "total": 5, "moved": 5, "skipped": 0}
    assert await _owners(client, ids) == [wang] * 5


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": "analyst"}, "invalid_owner"),
        ({"to": "nobody"}, "invalid_owner"),
        ({"to": "li"}, "validation_failed"),
        ({"to": "wang", "reason": ""}, "validation_failed"),
        ({"to": "wang", "filter": {"owner_id": "x"}}, "validation_failed"),
        ({"to": "wang", "filter": {"lifecycle_stage": "dormant"}}, "validation_failed"),
    ],
)
async def test_bad_hand_overs_are_422_and_start_nothing(
    client: httpx.AsyncClient, db: Any, people: dict[str, str], body: dict[str, Any], code: str
) -> None:
    ids = await _customers(client, people["li"], 1)
    to = str(uuid.uuid4()) if body["to"] == "nobody" else people[body["to"]]
    request = {"from_owner_id": people["li"], "to_owner_id": to, "reason": body.get("reason", "r")}
    if "filter" in body:
        request["filter"] = body["filter"]

    refused = await _reassign(client, **request)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == code
    assert await _owners(client, ids) == [people["li"]]
    async with db() as session:
        assert (
            await session.execute(
                select(1).select_from(infra.outbox).where(infra.outbox.c.type == "customer.owner_changed")
            )
        ).first() is None


async def test_agents_cannot_hand_over_and_managers_move_only_their_team(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    li, wang, chen = people["li"], people["wang"], people["chen"]
    ids = await _customers(client, li, 2)
    agent = await _reassign(
        client, internal_headers(role="agent", subject=li), from_owner_id=li, to_owner_id=wang, reason="r"
    )
    assert agent.status_code == 403 and agent.json()["code"] == "reassign_not_allowed"

    outsider = Principal(subject=str(uuid.uuid4()), kind="user", role="manager", team=frozenset({wang}))
    outsider_headers = {"X-Internal-Token": sign_internal_token(outsider, DEV_INTERNAL_SECRET)}
    blind = await _reassign(client, outsider_headers, from_owner_id=li, to_owner_id=wang, reason="r")
    assert blind.status_code == 202 and blind.json()["progress"]["total"] == 0
    assert (await wait_for(client, blind.headers["location"]))["progress"]["moved"] == 0
    assert await _owners(client, ids) == [li, li]

    lead = Principal(subject=str(uuid.uuid4()), kind="user", role="manager", team=frozenset({li, chen}))
    lead_headers = {"X-Internal-Token": sign_internal_token(lead, DEV_INTERNAL_SECRET)}
    moved = await _reassign(client, lead_headers, from_owner_id=li, to_owner_id=chen, reason="team change")
    location = moved.headers["location"]
    assert (await client.get(location, headers=lead_headers)).status_code == 200
    job = await wait_for(client, location)
    assert job["progress"]["moved"] == 2 and job["created_by"] == lead.subject
    assert await _owners(client, ids) == [chen, chen]
    # someone else's job is not theirs to read
    assert (await client.get(location, headers=outsider_headers)).status_code == 404


async def test_the_gateway_counts_what_a_user_still_owns(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    await _customers(client, people["li"], 3)
    service = internal_headers(role="service", kind="service", subject="service:gateway")

    counted = await client.get(f"/internal/owners/{people['li']}/customers", headers=service)
    none = await client.get(f"/internal/owners/{people['wang']}/customers", headers=service)
    as_user = await client.get(f"/internal/owners/{people['li']}/customers")

    assert counted.json() == {"owner_id": people["li"], "customers": 3}
    assert none.json()["customers"] == 0
    assert as_user.status_code == 404
