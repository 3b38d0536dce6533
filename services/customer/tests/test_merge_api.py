"""Duplicate detection, merge with every record moving, redirects, undo, and concurrent merges."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from crm_chassis.db import utcnow
from crm_customer.merge.models import CustomerMerge

WHEN = "2026-03-01T10:00:00Z"


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/customers", json={"kind": "individual", "name": "P", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_duplicate_candidates_by_email_phone_and_name(client: httpx.AsyncClient) -> None:
    a = await make(client, name="Zoë Martin", email="zoe@example.com")
    b = await make(client, name="martin zoe", email="ZOE@example.com")
    c = await make(client, name="张伟", phone="13800138000")
    d = await make(client, name="张 伟", phone="+86 138 0013 8000")
    await make(client, name="Someone Else", email="else@example.com")
    await make(client, kind="organization", name="Zoe Martin")  # another kind: never a duplicate
    page = (await client.get("/customers/duplicates")).json()
    found = {frozenset((p["a_id"], p["b_id"])): p for p in page["items"]}
    assert set(found) == {frozenset((a["id"], b["id"])), frozenset((c["id"], d["id"]))}
    assert found[frozenset((a["id"], b["id"]))]["matched"] == ["email", "name"]
    assert found[frozenset((c["id"], d["id"]))]["matched"] == ["phone", "name"]
    scores = [p["score"] for p in page["items"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    first = (await client.get("/customers/duplicates", params={"limit": 1})).json()
    second = (await client.get("/customers/duplicates", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [first["items"][0]["a_id"], second["items"][0]["a_id"]] == [
        page["items"][0]["a_id"],
        page["items"][1]["a_id"],
    ]
    assert second["next_cursor"] is None


async def test_merge_moves_every_record_and_resolves_fields(client: httpx.AsyncClient) -> None:
    survivor = await make(client, name="Ada", email="ada@example.com", tags=["vip"], occupation="engineer")
    dup = await make(
        client, name="Ada L.", phone="13800138000", tags=["north"], occupation="poet", external_ref="P-7", taboos=["x"]
    )
    org = await make(client, kind="organization", name="Org")
    friend = await make(client, name="Friend", acquisition_channel="referral", referred_by=dup["id"])
    order = (
        await client.post(
            "/orders", json={"customer_id": dup["id"], "occurred_at": WHEN, "amount": "10", "currency": "CNY"}
        )
    ).json()
    contact = {"occurred_at": WHEN, "channel": "phone", "direction": "inbound", "summary": "s"}
    await client.post(f"/customers/{dup['id']}/interactions", json=contact)
    await client.post(f"/customers/{dup['id']}/points", json={"kind": "earn", "points": 40})
    await client.post(f"/customers/{survivor['id']}/points", json={"kind": "earn", "points": 2})
    await client.post(f"/customers/{org['id']}/contacts", json={"customer_id": dup["id"], "roles": ["purchaser"]})

    merged = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]})
    assert merged.status_code == 201, merged.text
    body = merged.json()
    assert body["conflicts"] == {"name": "survivor", "occupation": "survivor"}
    assert set(body["moved"]) == {"orders", "interactions", "points", "contacts_as_person", "referrals"}

    after = (await client.get(f"/customers/{survivor['id']}")).json()
    assert (after["name"], after["occupation"], after["phone"], after["external_ref"]) == (
        "Ada",
        "engineer",
        "+8613800138000",
        "P-7",
    )
    assert after["tags"] == ["vip", "north"] and after["taboos"] == ["x"]
    assert [o["id"] for o in (await client.get(f"/customers/{survivor['id']}/orders")).json()["items"]] == [order["id"]]
    assert len((await client.get(f"/customers/{survivor['id']}/interactions")).json()["items"]) == 1
    assert (await client.get(f"/customers/{survivor['id']}/points")).json()["balance"] == 42
    assert (await client.get(f"/customers/{friend['id']}")).json()["referred_by"] == survivor["id"]
    contacts = (await client.get(f"/customers/{org['id']}/contacts")).json()["items"]
    assert [c["customer_id"] for c in contacts] == [survivor["id"]]

    redirect = await client.get(f"/customers/{dup['id']}")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"/customers/{survivor['id']}"
    assert redirect.json()["merged_into"] == survivor["id"]
    sub = await client.get(f"/customers/{dup['id']}/orders")
    assert sub.headers["location"] == f"/customers/{survivor['id']}/orders"
    write = await client.patch(f"/customers/{dup['id']}", json={"name": "x"}, headers={"If-Match": '"1"'})
    assert write.status_code == 409 and write.json()["code"] == "customer_merged"
    feed = (await client.get("/internal/events", params={"limit": 1000})).json()["items"]
    merged_events = [e for e in feed if e["type"] == "customer.merged"]
    assert [e["data"]["survivor_id"] for e in merged_events] == [survivor["id"]]


async def test_merge_field_choices_and_refusals(client: httpx.AsyncClient) -> None:
    survivor = await make(client, name="A", occupation="engineer", education="master")
    dup = await make(client, name="B", occupation="poet", education="bachelor")
    url = f"/customers/{survivor['id']}/merge"
    assert (await client.post(url, json={"duplicate_id": survivor["id"]})).status_code == 422
    assert (await client.post(url, json={"duplicate_id": dup["id"], "fields": {"id": "duplicate"}})).status_code == 422
    org = await make(client, kind="organization", name="O")
    assert (await client.post(url, json={"duplicate_id": org["id"]})).status_code == 409
    assert (await client.post(url, json={"duplicate_id": str(uuid.uuid4())})).status_code == 404
    done = await client.post(
        url, json={"duplicate_id": dup["id"], "prefer": "duplicate", "fields": {"education": "survivor"}}
    )
    assert done.json()["conflicts"] == {"name": "duplicate", "occupation": "duplicate", "education": "survivor"}
    after = (await client.get(f"/customers/{survivor['id']}")).json()
    assert (after["name"], after["occupation"], after["education"]) == ("B", "poet", "master")
    again = await client.post(url, json={"duplicate_id": dup["id"]})
    assert again.status_code == 409 and again.json()["code"] == "customer_merged"


async def test_undo_restores_both_customers(client: httpx.AsyncClient, db: Any) -> None:
    survivor = await make(client, name="A", occupation="engineer")
    dup = await make(client, name="B", phone="13800138000", external_ref="REF-1")
    await client.post("/orders", json={"customer_id": dup["id"], "occurred_at": WHEN, "amount": "5", "currency": "CNY"})
    merge = (await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]})).json()
    # an order the survivor gets after the merge stays with the survivor
    late = {"customer_id": survivor["id"], "occurred_at": WHEN, "amount": "7", "currency": "CNY"}
    await client.post("/orders", json=late)

    undone = await client.post(f"/merges/{merge['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    restored = (await client.get(f"/customers/{dup['id']}")).json()
    assert (restored["phone"], restored["external_ref"]) == ("+8613800138000", "REF-1")
    back = (await client.get(f"/customers/{survivor['id']}")).json()
    assert (back["phone"], back["external_ref"], back["occupation"]) == (None, None, "engineer")
    amounts = lambda page: [o["amount"] for o in page["items"]]  # noqa: E731
    assert amounts((await client.get(f"/customers/{dup['id']}/orders")).json()) == ["5.00"]
    assert amounts((await client.get(f"/customers/{survivor['id']}/orders")).json()) == ["7.00"]
    assert (await client.post(f"/merges/{merge['id']}/undo")).status_code == 409

    second = (await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]})).json()
    async with db() as session:
        await session.execute(
            update(CustomerMerge)
            .where(CustomerMerge.id == uuid.UUID(second["id"]))
            .values(undo_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    closed = await client.post(f"/merges/{second['id']}/undo")
    assert closed.status_code == 409 and closed.json()["code"] == "undo_window_closed"


async def test_concurrent_merges_of_one_duplicate(client: httpx.AsyncClient) -> None:
    first, second, dup = await make(client, name="1"), await make(client, name="2"), await make(client, name="d")
    results = await asyncio.gather(
        client.post(f"/customers/{first['id']}/merge", json={"duplicate_id": dup["id"]}),
        client.post(f"/customers/{second['id']}/merge", json={"duplicate_id": dup["id"]}),
    )
    assert sorted(r.status_code for r in results) == [201, 409]


async def test_concurrent_crossed_merges(client: httpx.AsyncClient) -> None:
    a, b = await make(client, name="a"), await make(client, name="b")
    results = await asyncio.gather(
        client.post(f"/customers/{a['id']}/merge", json={"duplicate_id": b["id"]}),
        client.post(f"/customers/{b['id']}/merge", json={"duplicate_id": a["id"]}),
    )
    assert sorted(r.status_code for r in results) == [201, 409]
    live = [c["name"] for c in (await client.get("/customers")).json()["items"]]
    assert len(live) == 1


async def test_duplicates_across_scripts_and_between_pinyin_and_latin(client: httpx.AsyncClient) -> None:
    simplified = await make(client, name="张伟")
    traditional = await make(client, name="張偉")
    latin = await make(client, name="Zhang Wei")
    reversed_order = await make(client, name="WEI ZHANG", email="wz@example.com")
    await make(client, name="Zhou Wen")  # initials zw like 张伟: never a pinyin match
    await make(client, kind="organization", name="Zhang Wei")  # another kind
    page = (await client.get("/customers/duplicates")).json()
    found = {frozenset((p["a_id"], p["b_id"])): p for p in page["items"]}

    script = found[frozenset((simplified["id"], traditional["id"]))]
    assert script["matched"] == ["name"] and script["score"] == 0.6
    assert script["reasons"] == ["the same name in traditional and simplified characters"]

    for chinese in (simplified, traditional):
        for spelled in (latin, reversed_order):
            pair = found[frozenset((chinese["id"], spelled["id"]))]
            assert pair["matched"] == ["name_pinyin"] and pair["score"] == 0.5
            assert pair["reasons"] == [f"{spelled['name']!r} spells the pinyin of {chinese['name']} (zhangwei)"]
    # the two Latin spellings are the same name in another word order
    assert found[frozenset((latin["id"], reversed_order["id"]))]["reasons"] == ["the same name"]
    assert len(found) == 6
    # a Chinese pair outranks a pinyin pair
    scores = [p["score"] for p in page["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 0.6 and scores[-1] == 0.5


async def tier(client: httpx.AsyncClient, name: str, threshold: int) -> str:
    created = await client.post("/loyalty/tiers", json={"name": name, "threshold": threshold})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_tier_set_by_hand_follows_the_merge_and_goes_back_on_undo(client: httpx.AsyncClient) -> None:
    gold = await tier(client, "Gold", 500)
    survivor, dup = await make(client, name="Sam"), await make(client, name="Sam")
    set_ = await client.put(
        f"/customers/{dup['id']}/tier", json={"tier_id": gold, "reason": "key account"}, headers={"If-Match": "*"}
    )
    assert set_.status_code == 200, set_.text
    merged = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]})
    assert merged.status_code == 201, merged.text
    assert merged.json()["moved"] == {"manual_tier": [gold]} and merged.json()["conflicts"] == {}
    assert (await client.get(f"/merges/{merged.json()['id']}")).json()["moved"] == {"manual_tier": [gold]}
    held = (await client.get(f"/customers/{survivor['id']}/tier")).json()
    assert (held["tier"]["id"], held["source"], held["reason"]) == (gold, "manual", "key account")
    assert held["set_by"] == set_.json()["set_by"] and held["set_at"] == set_.json()["set_at"]

    undone = await client.post(f"/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 200, undone.text
    back = (await client.get(f"/customers/{dup['id']}/tier")).json()
    assert {k: back[k] for k in ("tier", "source", "reason", "set_by", "set_at")} == {
        k: set_.json()[k] for k in ("tier", "source", "reason", "set_by", "set_at")
    }
    left = (await client.get(f"/customers/{survivor['id']}/tier")).json()
    assert (left["tier"], left["source"], left["set_by"]) == (None, None, None)


async def test_where_both_have_a_tier_set_by_hand_the_survivors_stays(client: httpx.AsyncClient) -> None:
    gold, silver = await tier(client, "Gold", 500), await tier(client, "Silver", 100)
    survivor, dup = await make(client, name="Sam"), await make(client, name="Sam")
    await client.put(
        f"/customers/{survivor['id']}/tier", json={"tier_id": silver, "reason": "survivor's"}, headers={"If-Match": "*"}
    )
    await client.put(
        f"/customers/{dup['id']}/tier", json={"tier_id": gold, "reason": "duplicate's"}, headers={"If-Match": "*"}
    )
    merged = await client.post(f"/customers/{survivor['id']}/merge", json={"duplicate_id": dup["id"]})
    assert merged.status_code == 201, merged.text
    assert merged.json()["conflicts"] == {"manual_tier": "survivor"} and "manual_tier" not in merged.json()["moved"]
    kept = (await client.get(f"/customers/{survivor['id']}/tier")).json()
    assert (kept["tier"]["id"], kept["reason"]) == (silver, "survivor's")

    assert (await client.post(f"/merges/{merged.json()['id']}/undo")).status_code == 200
    assert (await client.get(f"/customers/{survivor['id']}/tier")).json()["tier"]["id"] == silver
    back = (await client.get(f"/customers/{dup['id']}/tier")).json()
    assert (back["tier"]["id"], back["reason"]) == (gold, "duplicate's")
