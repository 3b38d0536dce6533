"""Webhook deliveries: fan-out from the feeds, Standard Webhooks signatures, retries on a fake clock,
disabling on 410 and on persistent failure, SSRF checks at send time, replays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from crm_chassis.events import Event
from crm_gateway.db import infra
from crm_gateway.webhooks import feeds
from crm_gateway.webhooks import service as webhook_service

from .conftest import INTERNAL_SECRET
from .support import serve
from .webhook_support import FAKE_DNS, PUBLIC_ADDRESS, Receiver, event, feed_transport, verify_standard_webhook


async def queue(hooks, type_: str = "order.recorded", **data) -> Event:
    """Hand one event to the fan-out exactly as a feed consumer does."""
    settings = hooks.gateway.app.state.settings
    handler = webhook_service.fan_out_handler(hooks.clock, settings.webhook_retry_window_seconds)
    happened = Event.model_validate(event(1, type_, **data))
    async with hooks.gateway.app.state.sessionmaker.begin() as session:
        await handler(session, happened)
    return happened


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_events_fan_out_once_to_matching_active_subscriptions_only(open_hooks):
    customer_feed: list[dict] = []
    feedback_feed: list[dict] = []
    transports = {
        "customer": feed_transport(customer_feed, INTERNAL_SECRET),
        "feedback": feed_transport(feedback_feed, INTERNAL_SECRET),
    }
    async with open_hooks(transports=transports) as hooks:
        orders = await hooks.subscribe(event_types=("order.*",))
        mixed = await hooks.subscribe(url="https://other.example/in", event_types=("customer.created", "complaint.*"))
        paused = await hooks.subscribe(event_types=("order.recorded", "customer.created"))
        etag = (await hooks.gateway.client.get(f"/api/v1/webhooks/{paused['id']}", headers=hooks.admin)).headers
        await hooks.gateway.client.patch(
            f"/api/v1/webhooks/{paused['id']}", headers=hooks.admin | {"If-Match": etag["etag"]}, json={"active": False}
        )
        app = hooks.gateway.app
        consumers = {
            c.name: c
            for c in feeds.consumers(
                app.state.sessionmaker, app.state.settings, app.state.upstreams, app.state.webhook_runtime
            )
        }
        assert set(consumers) == {"webhooks-customer", "webhooks-scoring", "webhooks-feedback"}
        c0, f0 = await consumers["webhooks-customer"].cursor(), await consumers["webhooks-feedback"].cursor()
        before_subscriptions = datetime.now(UTC) - timedelta(hours=1)
        customer_feed += [
            event(c0 + 1, "order.recorded", amount="9.90", currency="CNY"),
            event(c0 + 2, "customer.created", name="Ada"),
            event(c0 + 3, "customer.updated", name="Ada L."),
            event(c0 + 4, "order.refunded", occurred_at=before_subscriptions),  # older than every subscription
            event(c0 + 5, "customer.internal_note_added"),  # not a public type
        ]
        feedback_feed.append(event(f0 + 1, "complaint.created", severity="high"))

        assert await consumers["webhooks-customer"].poll_once(wait=0) == 4
        assert await consumers["webhooks-feedback"].poll_once(wait=0) == 1
        # The same events served again (a replayed feed): nothing is queued twice.
        consumers["webhooks-customer"].source = EverythingAgain(customer_feed)
        await consumers["webhooks-customer"].poll_once(wait=0)

        assert [d["event_type"] for d in await hooks.deliveries(orders["id"])] == ["order.recorded"]
        assert sorted(d["event_type"] for d in await hooks.deliveries(mixed["id"])) == [
            "complaint.created",
            "customer.created",
        ]
        assert await hooks.deliveries(paused["id"]) == []
        assert await consumers["webhooks-customer"].cursor() == c0 + 5


async def test_the_end_of_a_job_can_be_subscribed_to(open_hooks):
    customer_feed: list[dict] = []
    scoring_feed: list[dict] = []
    transports = {
        "customer": feed_transport(customer_feed, INTERNAL_SECRET),
        "scoring": feed_transport(scoring_feed, INTERNAL_SECRET),
    }
    async with open_hooks(transports=transports) as hooks:
        jobs = await hooks.subscribe(event_types=("import.finished", "export.finished", "scoring_run.finished"))
        app = hooks.gateway.app
        consumers = {
            c.name: c
            for c in feeds.consumers(
                app.state.sessionmaker, app.state.settings, app.state.upstreams, app.state.webhook_runtime
            )
        }
        c0, s0 = await consumers["webhooks-customer"].cursor(), await consumers["webhooks-scoring"].cursor()
        customer_feed += [
            event(c0 + 1, "import.finished", status="succeeded"),
            event(c0 + 2, "export.finished", status="failed"),
            event(c0 + 3, "order.recorded"),
        ]
        scoring_feed.append(event(s0 + 1, "scoring_run.finished", status="succeeded"))

        assert await consumers["webhooks-customer"].poll_once(wait=0) == 3
        assert await consumers["webhooks-scoring"].poll_once(wait=0) == 1
        assert sorted(d["event_type"] for d in await hooks.deliveries(jobs["id"])) == [
            "export.finished",
            "import.finished",
            "scoring_run.finished",
        ]


class EverythingAgain:
    """A feed that ignores the cursor and serves every event again."""

    def __init__(self, events):
        self.events = events

    async def fetch(self, after, limit, wait):
        return [Event.model_validate(e) for e in self.events]


async def test_a_delivery_is_signed_as_standard_webhooks_says_and_sent_to_the_checked_address(hooks):
    subscription = await hooks.subscribe()
    happened = await queue(hooks, amount="129.90", currency="CNY")

    assert await hooks.dispatch() >= 1

    [request] = hooks.receiver.for_host("partner.example")
    payload = verify_standard_webhook(
        subscription["secret"], request.headers, request.content, now=int(hooks.clock().timestamp())
    )
    assert payload == {
        "id": str(happened.id),
        "type": "order.recorded",
        "occurred_at": happened.occurred_at.isoformat(),
        "data": {"amount": "129.90", "currency": "CNY"},
    }
    assert request.headers["webhook-id"] == str(happened.id)
    assert request.headers["webhook-timestamp"] == str(int(hooks.clock().timestamp()))
    # Connected to the address that was checked, with the name kept for Host and TLS.
    assert (request.url.scheme, request.url.host, request.url.path) == ("https", PUBLIC_ADDRESS, "/hook")
    assert request.extensions["sni_hostname"] == "partner.example"
    tampered = request.content.replace(b"129.90", b"1.00")
    try:
        verify_standard_webhook(subscription["secret"], request.headers, tampered, now=int(hooks.clock().timestamp()))
    except AssertionError:
        pass
    else:
        raise AssertionError("a changed body must not verify")
    [delivery] = await hooks.deliveries(subscription["id"])
    assert delivery["status"] == "delivered" and delivery["last_status_code"] == 204
    assert len(delivery["attempts"]) == 1 and delivery["attempts"][0]["duration_ms"] >= 0


async def test_failures_are_retried_with_growing_jittered_delays_for_a_day_then_given_up(open_hooks):
    async with open_hooks(receiver=Receiver(status=503)) as hooks:
        subscription = await hooks.subscribe()
        await queue(hooks)
        started = hooks.clock()
        delays: list[tuple[int, float]] = []
        while True:
            assert await hooks.dispatch() >= 1
            [delivery] = await hooks.deliveries(subscription["id"])
            if delivery["status"] != "pending":
                break
            failures = delivery["attempt_count"]
            delay = (at(delivery["next_attempt_at"]) - hooks.clock()).total_seconds()
            bound = min(3600.0, 5.0 * 2 ** (failures - 1))
            assert 1.0 <= delay <= bound, (failures, delay, bound)
            delays.append((failures, delay))
            hooks.clock.advance_to(at(delivery["next_attempt_at"]))

        assert delivery["status"] == "failed"
        elapsed = hooks.clock() - started
        # It kept trying until the next wait would have gone past the 24 hours, and no further.
        assert timedelta(hours=23) <= elapsed <= timedelta(hours=24)
        assert len(delivery["attempts"]) == len(delays) + 1 == delivery["attempt_count"]
        assert all(a["status_code"] == 503 for a in delivery["attempts"])
        early = [d for n, d in delays if n <= 3]
        late = [d for n, d in delays if n >= 10]
        assert max(early) <= 20 and sum(late) / len(late) > 300  # the waits grow
        assert len({round(d, 3) for _, d in delays}) > len(delays) // 2  # and are jittered
        read = await hooks.gateway.client.get(f"/api/v1/webhooks/{subscription['id']}", headers=hooks.admin)
        assert read.json()["consecutive_failures"] == 1 and read.json()["active"] is True


async def test_410_disables_the_subscription_at_once(open_hooks):
    async with open_hooks(receiver=Receiver(status=410)) as hooks:
        subscription = await hooks.subscribe()
        await queue(hooks)

        await hooks.dispatch()
        await queue(hooks)

        [delivery] = await hooks.deliveries(subscription["id"])
        assert (delivery["status"], delivery["last_status_code"]) == ("failed", 410)
        read = (await hooks.gateway.client.get(f"/api/v1/webhooks/{subscription['id']}", headers=hooks.admin)).json()
        assert (read["active"], read["disabled_reason"]) == (False, "gone")
        assert len(hooks.receiver.requests) == 1


async def test_consecutive_failed_deliveries_disable_the_subscription(open_hooks):
    # Deliveries whose data says "ok" succeed; the others always fail.
    receiver = Receiver(status=lambda request: 200 if b'"ok"' in request.content else 500)
    settings = {"webhook_disable_after_failures": 2, "webhook_retry_window_seconds": 60}
    async with open_hooks(receiver=receiver, **settings) as hooks:
        subscription = await hooks.subscribe()
        path = f"/api/v1/webhooks/{subscription['id']}"

        async def settle(outcome: str) -> dict:
            await queue(hooks, outcome=outcome)
            for _ in range(200):
                await hooks.dispatch()
                hooks.clock.advance(120)  # past the retry window after the first failure
                await hooks.dispatch()
                if all(d["status"] != "pending" for d in await hooks.deliveries(subscription["id"])):
                    break
            return (await hooks.gateway.client.get(path, headers=hooks.admin)).json()

        assert (await settle("bad"))["consecutive_failures"] == 1
        assert (await settle("ok"))["consecutive_failures"] == 0  # a success starts the count again
        assert (await settle("bad"))["active"] is True
        final = await settle("bad")

        assert (final["active"], final["disabled_reason"], final["consecutive_failures"]) == (False, "failing", 2)
        statuses = [d["status"] for d in await hooks.deliveries(subscription["id"])]
        assert sorted(statuses) == ["delivered", "failed", "failed", "failed"]


async def test_a_host_that_turns_private_after_subscribing_is_not_called(hooks, monkeypatch):
    subscription = await hooks.subscribe(url="https://partner.example/hook")
    await queue(hooks)
    monkeypatch.setitem(FAKE_DNS, "partner.example", ["127.0.0.1"])

    await hooks.dispatch()

    assert hooks.receiver.for_host("partner.example") == []
    [delivery] = await hooks.deliveries(subscription["id"])
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None
    assert delivery["last_error"].startswith("refused:") and "loopback" in delivery["last_error"]


async def test_timeouts_are_logged_and_retried(open_hooks):
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with open_hooks(receiver=Receiver(status=hang)) as hooks:
        subscription = await hooks.subscribe()
        await queue(hooks)

        await hooks.dispatch()

        [delivery] = await hooks.deliveries(subscription["id"])
        assert delivery["status"] == "pending" and delivery["attempt_count"] == 1
        assert delivery["attempts"][0]["status_code"] is None
        assert delivery["attempts"][0]["error"].startswith("timeout")


async def test_replay_sends_again_now_even_when_delivered_or_failed(hooks):
    subscription = await hooks.subscribe()
    happened = await queue(hooks)
    await hooks.dispatch()
    [delivery] = await hooks.deliveries(subscription["id"])
    replay = f"/api/v1/webhooks/{subscription['id']}/deliveries/{delivery['id']}/replay"

    response = await hooks.gateway.client.post(replay, headers=hooks.admin)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await hooks.dispatch()

    requests = hooks.receiver.for_host("partner.example")
    assert [r.headers["webhook-id"] for r in requests] == [str(happened.id)] * 2
    [delivery] = await hooks.deliveries(subscription["id"])
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 2
    unknown = f"/api/v1/webhooks/{subscription['id']}/deliveries/{subscription['id']}/replay"
    assert (await hooks.gateway.client.post(unknown, headers=hooks.admin)).status_code == 404
    etag = (await hooks.gateway.client.get(f"/api/v1/webhooks/{subscription['id']}", headers=hooks.admin)).headers
    await hooks.gateway.client.patch(
        f"/api/v1/webhooks/{subscription['id']}",
        headers=hooks.admin | {"If-Match": etag["etag"]},
        json={"active": False},
    )
    refused = await hooks.gateway.client.post(replay, headers=hooks.admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "webhook_inactive")


async def test_deliveries_page_by_cursor_and_filter_by_status(open_hooks):
    receiver = Receiver(status=lambda request: 200 if b'"ok"' in request.content else 500)
    async with open_hooks(receiver=receiver) as hooks:
        subscription = await hooks.subscribe()
        for outcome in ("ok", "bad", "ok"):
            await queue(hooks, outcome=outcome)
        await hooks.dispatch()
        path = f"/api/v1/webhooks/{subscription['id']}/deliveries"

        first = (await hooks.gateway.client.get(path, headers=hooks.admin, params={"limit": 2})).json()
        second = (
            await hooks.gateway.client.get(
                path, headers=hooks.admin, params={"limit": 2, "cursor": first["next_cursor"]}
            )
        ).json()
        delivered = await hooks.deliveries(subscription["id"], status="delivered")
        pending = await hooks.deliveries(subscription["id"], status="pending")

        assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
        assert len({d["id"] for d in first["items"] + second["items"]}) == 3
        assert len(delivered) == 2 and len(pending) == 1
        bad = await hooks.gateway.client.get(path, headers=hooks.admin, params={"status": "lost"})
        assert bad.status_code == 422


async def test_running_gateway_follows_the_feeds_and_delivers_over_the_network(open_hooks):
    received: list[tuple[dict[str, str], bytes]] = []
    partner = FastAPI()

    @partner.post("/hook")
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    customer_feed: list[dict] = []
    transports = {
        name: feed_transport(customer_feed if name == "customer" else [], INTERNAL_SECRET)
        for name in ("customer", "scoring", "feedback")
    }
    settings = {"webhook_workers": True, "webhook_allow_private": True, "webhook_dispatch_interval_seconds": 0.05}
    async with serve(partner) as url, open_hooks(network=True, transports=transports, **settings) as hooks:
        subscription = await hooks.subscribe(url=f"{url}/hook", event_types=("customer.*",))
        async with hooks.gateway.app.state.sessionmaker() as session:
            cursor = await session.scalar(
                select(infra.consumer_cursor.c.last_seq).where(infra.consumer_cursor.c.consumer == "webhooks-customer")
            )
        customer_feed.append(event((cursor or 0) + 1, "customer.created", name="Grace"))

        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)

    assert len(received) == 1
    headers, body = received[0]
    payload = verify_standard_webhook(
        subscription["secret"], httpx.Headers(headers), body, now=int(hooks.clock().timestamp())
    )
    assert payload["type"] == "customer.created" and payload["data"] == {"name": "Grace"}
