"""Users known to the customer service: who may own customers and approve concessions, with names."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from customer_import_helpers import events_of
from sqlalchemy import select
from user_helpers import known_user

from crm_chassis.identity import Principal, sign_internal_token
from crm_chassis.settings import DEV_INTERNAL_SECRET
from crm_chassis.testing import internal_headers
from crm_customer.users.models import UserRef


async def _create(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return await client.post("/customers", json={"kind": "individual", "name": "Zhang Wei", **body}, headers=headers)


async def _ref(db: Any, user_id: str) -> UserRef | None:
    async with db() as session:
        return (await session.scalars(select(UserRef).where(UserRef.id == uuid.UUID(user_id)))).one_or_none()


async def test_user_events_keep_the_newest_snapshot(client: httpx.AsyncClient, db: Any) -> None:
    user_id = await known_user(db, role="agent", name="Li Na", version=1)
    await known_user(
        db, user_id, role="agent", name="Li Na (East)", team=str(uuid.uuid4()), version=3, type="user.updated"
    )
    # an older event arriving late, and the same version again, change nothing
    await known_user(db, user_id, role="analyst", name="stale", version=2, type="user.updated")
    await known_user(db, user_id, role="analyst", name="repeat", version=3, type="user.updated")

    ref = await _ref(db, user_id)
    assert ref is not None and (ref.role, ref.name, ref.active, ref.version) == ("agent", "Li Na (East)", True, 3)

    await known_user(db, user_id, role="agent", name="Li Na (East)", active=False, version=4, type="user.disabled")
    ref = await _ref(db, user_id)
    assert ref is not None and (ref.active, ref.version) == (False, 4)


@pytest.mark.parametrize(
    ("role", "active", "allowed"),
    [
        ("agent", True, True),
        ("manager", True, True),
        ("admin", True, False),
        ("analyst", True, False),
        ("agent", False, False),
        ("manager", False, False),
    ],
)
async def test_owner_must_be_an_active_agent_or_manager(
    client: httpx.AsyncClient, db: Any, role: str, active: bool, allowed: bool
) -> None:
    owner = await known_user(db, role=role, name="Wang Fang", active=active)

    response = await _create(client, owner_id=owner)

    if allowed:
        assert response.status_code == 201, response.text
        assert (response.json()["owner_id"], response.json()["owner_name"]) == (owner, "Wang Fang")
    else:
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "invalid_owner"
        assert body["errors"] == [
            {"field": "body.owner_id", "code": "invalid_owner", "message": body["errors"][0]["message"]}
        ]
        assert (await client.get("/customers")).json()["items"] == []
        assert await events_of(db, "customer.created") == 0


async def test_an_unknown_user_cannot_own_customers(client: httpx.AsyncClient, db: Any) -> None:
    response = await _create(client, owner_id=str(uuid.uuid4()))

    assert response.status_code == 422 and response.json()["code"] == "invalid_owner"
    assert "not a known user" in response.json()["detail"]


async def test_changing_the_owner_is_checked_but_keeping_a_disabled_one_is_not(
    client: httpx.AsyncClient, db: Any
) -> None:
    agent = await known_user(db, role="agent", name="Li Na")
    analyst = await known_user(db, role="analyst", name="Chen")
    customer = (await _create(client, owner_id=agent)).json()
    url = f"/customers/{customer['id']}"

    patched = await client.patch(url, json={"owner_id": analyst}, headers={"If-Match": '"1"'})
    moved = await client.post(f"{url}/owner", json={"owner_id": analyst, "reason": "x"})
    assert [patched.status_code, moved.status_code] == [422, 422]
    assert {patched.json()["code"], moved.json()["code"]} == {"invalid_owner"}
    assert (await client.get(url)).json()["version"] == 1

    # the owner leaves; the customer keeps them until handed over, and other fields still change
    await known_user(db, agent, role="agent", name="Li Na", active=False, type="user.disabled")
    renamed = await client.patch(url, json={"name": "Zhang Wei Jr", "owner_id": agent}, headers={"If-Match": '"1"'})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["owner_id"], renamed.json()["owner_name"]) == (agent, "Li Na")


async def test_an_account_manager_vouches_for_themselves_before_their_event_arrives(
    client: httpx.AsyncClient, db: Any
) -> None:
    """A user created a moment ago works at once: their own token proves who they are."""
    agent, manager, member = (str(uuid.uuid4()) for _ in range(3))
    mine = await _create(client, headers=internal_headers(role="agent", subject=agent))
    assert mine.status_code == 201 and (mine.json()["owner_id"], mine.json()["owner_name"]) == (agent, None)
    token = sign_internal_token(
        Principal(subject=manager, kind="user", role="manager", team=frozenset({member})), DEV_INTERNAL_SECRET
    )
    for owner in (manager, member):
        given = await _create(client, headers={"X-Internal-Token": token}, owner_id=owner)
        assert given.status_code == 201, given.text
    stranger = await _create(client, headers={"X-Internal-Token": token}, owner_id=str(uuid.uuid4()))
    assert stranger.status_code == 422
    # an admin's token proves an admin, who owns no customers
    admin = str(uuid.uuid4())
    assert (
        await _create(client, headers=internal_headers(role="admin", subject=admin), owner_id=admin)
    ).status_code == 422

    # once the event arrives, the name shows
    await known_user(db, agent, role="agent", name="Li Na")
    assert (await client.get(f"/customers/{mine.json()['id']}")).json()["owner_name"] == "Li Na"


async def test_lists_show_owner_names(client: httpx.AsyncClient, db: Any) -> None:
    li, wang = await known_user(db, role="agent", name="Li Na"), await known_user(db, role="manager", name="Wang")
    for owner in (li, wang, None):
        assert (await _create(client, owner_id=owner)).status_code == 201
    await known_user(db, wang, role="manager", name="Wang Fang", type="user.updated")

    items = (await client.get("/customers", params={"sort": "created_at"})).json()["items"]

    assert [(c["owner_id"], c["owner_name"]) for c in items] == [(li, "Li Na"), (wang, "Wang Fang"), (None, None)]


async def test_batch_items_with_a_wrong_owner_are_refused_alone(client: httpx.AsyncClient, db: Any) -> None:
    agent = await known_user(db, role="agent")
    items = [
        {"kind": "individual", "name": "ok", "owner_id": agent},
        {"kind": "individual", "name": "bad", "owner_id": str(uuid.uuid4())},
    ]

    results = (await client.post("/customers/batch", json={"items": items})).json()["items"]

    assert [r["status"] for r in results] == ["created", "invalid"]
    assert results[1]["error"]["code"] == "invalid_owner"


@pytest.mark.parametrize(
    ("role", "active", "allowed"),
    [
        ("manager", True, True),
        ("admin", True, True),
        ("agent", True, False),
        ("analyst", True, False),
        ("manager", False, False),
    ],
)
async def test_approver_must_be_an_active_manager_or_admin(
    client: httpx.AsyncClient, db: Any, role: str, active: bool, allowed: bool
) -> None:
    customer = (await _create(client)).json()
    approver = await known_user(db, role=role, active=active)
    body = {"kind": "gift", "reason": "goodwill", "approver_id": approver}

    response = await client.post(f"/customers/{customer['id']}/concessions", json=body)

    if allowed:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 422 and response.json()["code"] == "invalid_approver"
        assert response.json()["errors"][0]["field"] == "body.approver_id"
        assert await events_of(db, "concession.granted") == 0


async def test_an_unknown_approver_is_refused_and_a_manager_may_approve_their_own(
    client: httpx.AsyncClient, db: Any
) -> None:
    manager = str(uuid.uuid4())
    customer = (
        await _create(client, owner_id=manager, headers=internal_headers(role="manager", subject=manager))
    ).json()
    url = f"/customers/{customer['id']}/concessions"
    unknown = await client.post(url, json={"kind": "gift", "reason": "goodwill", "approver_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid_approver"
    own = await client.post(
        url,
        json={"kind": "gift", "reason": "goodwill", "approver_id": manager},
        headers=internal_headers(role="manager", subject=manager),
    )
    assert own.status_code == 201, own.text
