"""Webhook secret rotation: a new secret shown once, both secrets signing during the overlap, then only the new."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from crm_chassis.events import Event
from crm_gateway.users.models import Role
from crm_gateway.webhooks import service as webhook_service
from crm_gateway.webhooks.models import WebhookSubscription

from .webhook_support import event, verify_standard_webhook


def rotate_url(webhook_id: str) -> str:
    return f"/api/v1/webhooks/{webhook_id}/rotate-secret"


async def rotate(hooks, webhook_id: str, **body) -> dict:
    response = await hooks.gateway.client.post(rotate_url(webhook_id), headers=hooks.admin, json=body or None)
    assert response.status_code == 200, response.text
    rotated: dict = response.json()
    return rotated


async def deliver_one(hooks) -> httpx.Request:
    """Queue one event as a feed consumer would, dispatch, and return what the receiver got for it."""
    settings = hooks.gateway.app.state.settings
    handler = webhook_service.fan_out_handler(hooks.clock, settings.webhook_retry_window_seconds)
    happened = Event.model_validate(event(1, "order.recorded", amount="1.00"))
    async with hooks.gateway.app.state.sessionmaker.begin() as session:
        await handler(session, happened)
    await hooks.dispatch()
    [request] = [r for r in hooks.receiver.requests if r.headers["webhook-id"] == str(happened.id)]
    return request


def verifies(secret: str, request: httpx.Request, hooks) -> bool:
    try:
        verify_standard_webhook(secret, request.headers, request.content, now=int(hooks.clock().timestamp()))
    except AssertionError:
        return False
    return True


def signatures(request: httpx.Request) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


async def test_both_secrets_sign_during_the_overlap_then_only_the_new_one(hooks):
    subscription = await hooks.subscribe()
    old = subscription["secret"]

    response = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers=hooks.admin)

    assert response.status_code == 200, response.text
    rotated = response.json()
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    assert datetime.fromisoformat(rotated["retired_secrets_until"]) == hooks.clock() + timedelta(hours=24)
    read = await hooks.gateway.client.get(f"/api/v1/webhooks/{subscription['id']}", headers=hooks.admin)
    assert "secret" not in read.json()
    assert read.json()["secret_rotated_at"] is not None
    assert read.headers["etag"] == response.headers["etag"]

    during = await deliver_one(hooks)
    assert len(signatures(during)) == 2
    assert verifies(new, during, hooks) and verifies(old, during, hooks)

    hooks.clock.advance(24 * 3600 + 1)
    after = await deliver_one(hooks)
    assert len(signatures(after)) == 1
    assert verifies(new, after, hooks) and not verifies(old, after, hooks)
    # Past its overlap the old secret is gone from the database too, not merely unused.
    async with hooks.gateway.app.state.sessionmaker() as session:
        stored = await session.get(WebhookSubscription, uuid.UUID(subscription["id"]))
    assert stored is not None and stored.secret == new
    assert stored.retired_secrets is None and stored.retired_secrets_until is None


async def test_the_overlap_is_configurable_and_zero_stops_old_secrets_at_once(open_hooks):
    async with open_hooks(webhook_secret_overlap_seconds=60) as hooks:
        subscription = await hooks.subscribe()
        first = await rotate(hooks, subscription["id"])
        assert datetime.fromisoformat(first["retired_secrets_until"]) == hooks.clock() + timedelta(seconds=60)
        longer = await rotate(hooks, subscription["id"], overlap_seconds=7200)
        assert datetime.fromisoformat(longer["retired_secrets_until"]) == hooks.clock() + timedelta(seconds=7200)

        leaked = await rotate(hooks, subscription["id"], overlap_seconds=0)
        request = await deliver_one(hooks)

    assert leaked["retired_secrets_until"] is None
    assert len(signatures(request)) == 1
    assert verifies(leaked["secret"], request, hooks)
    assert not any(verifies(s, request, hooks) for s in (subscription["secret"], first["secret"], longer["secret"]))


async def test_rotating_again_during_an_overlap_keeps_each_old_secret_until_its_own_end(hooks):
    subscription = await hooks.subscribe()
    first = await rotate(hooks, subscription["id"], overlap_seconds=600)
    hooks.clock.advance(300)
    second = await rotate(hooks, subscription["id"], overlap_seconds=600)

    both = await deliver_one(hooks)
    assert len(signatures(both)) == 3
    assert all(verifies(s, both, hooks) for s in (subscription["secret"], first["secret"], second["secret"]))

    hooks.clock.advance(301)  # the original secret's overlap is over, the first rotation's is not
    later = await deliver_one(hooks)
    assert len(signatures(later)) == 2
    assert verifies(first["secret"], later, hooks) and verifies(second["secret"], later, hooks)
    assert not verifies(subscription["secret"], later, hooks)


async def test_the_number_of_secrets_signing_at_once_is_capped(hooks):
    subscription = await hooks.subscribe()
    for _ in range(webhook_service.MAX_SIGNING_SECRETS - 1):
        await rotate(hooks, subscription["id"])

    refused = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers=hooks.admin)
    request = await deliver_one(hooks)

    assert refused.status_code == 409
    assert refused.json()["code"] == "too_many_webhook_secrets"
    assert len(signatures(request)) == webhook_service.MAX_SIGNING_SECRETS
    assert (await rotate(hooks, subscription["id"], overlap_seconds=0))["retired_secrets_until"] is None


async def test_a_replayed_rotation_rotates_once_and_does_not_show_the_secret_again(hooks):
    subscription = await hooks.subscribe()
    headers = hooks.admin | {"Idempotency-Key": uuid.uuid4().hex}
    url = rotate_url(subscription["id"])

    first = await hooks.gateway.client.post(url, headers=headers, json={"overlap_seconds": 600})
    again = await hooks.gateway.client.post(url, headers=headers, json={"overlap_seconds": 600})
    request = await deliver_one(hooks)

    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() | {"secret": None}
    assert len(signatures(request)) == 2
    assert verifies(first.json()["secret"], request, hooks)


@pytest.mark.parametrize(
    "body", [{"overlap_seconds": -1}, {"overlap_seconds": 31 * 24 * 3600}, {"overlap": 60}, {"overlap_seconds": "x"}]
)
async def test_a_bad_overlap_is_422(hooks, body):
    subscription = await hooks.subscribe()

    response = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers=hooks.admin, json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_only_admins_rotate_and_only_live_subscriptions(hooks):
    subscription = await hooks.subscribe()
    _, manager = await hooks.gateway.signed_in(Role.manager)
    _, partner = await hooks.gateway.add_key({"customers:read", "orders:write"})

    as_manager = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers=manager)
    as_partner = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers={"X-API-Key": partner})
    unknown = await hooks.gateway.client.post(rotate_url(str(uuid.uuid4())), headers=hooks.admin)
    await hooks.gateway.client.delete(f"/api/v1/webhooks/{subscription['id']}", headers=hooks.admin)
    deleted = await hooks.gateway.client.post(rotate_url(subscription["id"]), headers=hooks.admin)

    assert (as_manager.status_code, as_manager.json()["code"]) == (403, "role_not_allowed")
    assert (as_partner.status_code, as_partner.json()["code"]) == (403, "scope_not_allowed")
    assert unknown.status_code == deleted.status_code == 404
