"""`/api/v1/webhooks`: admins only, secrets shown once, known event types, safe URLs, If-Match."""

from __future__ import annotations

import pytest

from crm_gateway.auth.permissions import SCOPES
from crm_gateway.users.models import Role


async def test_admin_subscribes_and_sees_the_secret_once(hooks):
    created = await hooks.subscribe(event_types=("order.*", "customer.created"))

    assert created["secret"].startswith("whsec_") and len(created["secret"]) >= len("whsec_") + 32
    assert created["event_types"] == ["customer.created", "order.*"]
    assert created["active"] is True
    read = await hooks.gateway.client.get(f"/api/v1/webhooks/{created['id']}", headers=hooks.admin)
    assert read.status_code == 200
    assert "secret" not in read.json()
    listed = await hooks.gateway.client.get("/api/v1/webhooks", headers=hooks.admin)
    assert created["id"] in [item["id"] for item in listed.json()["items"]]
    assert all("secret" not in item for item in listed.json()["items"])


@pytest.mark.parametrize("event_types", [["order.placed"], ["nothing.*"], ["*"], []])
async def test_unknown_event_types_are_422(hooks, event_types):
    response = await hooks.gateway.client.post(
        "/api/v1/webhooks", headers=hooks.admin, json={"url": "https://partner.example/", "event_types": event_types}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("event_types")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.0.0.8:8080/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://localhost:9000/hook", "loopback"),
        ("https://sneaky.example/hook", "private"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://partner.example/hook", "http"),
        ("https://user:pw@partner.example/hook", "password"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_urls_that_do_not_reach_a_public_address_are_refused(hooks, url, why):
    response = await hooks.gateway.client.post(
        "/api/v1/webhooks", headers=hooks.admin, json={"url": url, "event_types": ["order.recorded"]}
    )

    assert response.status_code == 422, url
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.url" and problem["errors"][0]["code"] == "unsafe_url"
    assert why in problem["detail"]


async def test_private_targets_are_allowed_when_the_admin_setting_says_so(open_hooks):
    async with open_hooks(webhook_allow_private=True) as hooks:
        for url in ("http://127.0.0.1:9000/hook", "http://10.0.0.8/hook", "http://localhost/hook"):
            await hooks.subscribe(url=url)


async def test_patch_needs_if_match_and_checks_the_new_url(hooks):
    created = await hooks.subscribe()
    path = f"/api/v1/webhooks/{created['id']}"
    etag = (await hooks.gateway.client.get(path, headers=hooks.admin)).headers["etag"]

    missing = await hooks.gateway.client.patch(path, headers=hooks.admin, json={"active": False})
    unsafe = await hooks.gateway.client.patch(
        path, headers=hooks.admin | {"If-Match": etag}, json={"url": "http://192.168.1.1/"}
    )
    changed = await hooks.gateway.client.patch(
        path,
        headers=hooks.admin | {"If-Match": etag},
        json={"url": "https://other.example/in", "event_types": ["complaint.*"], "active": False},
    )
    stale = await hooks.gateway.client.patch(path, headers=hooks.admin | {"If-Match": etag}, json={"active": True})

    assert missing.status_code == 428
    assert unsafe.status_code == 422
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["url"], body["event_types"], body["active"]) == ("https://other.example/in", ["complaint.*"], False)
    assert body["disabled_reason"] == "admin"
    assert stale.status_code == 412
    assert changed.headers["etag"] != etag


async def test_deleted_subscription_is_gone(hooks):
    created = await hooks.subscribe()
    path = f"/api/v1/webhooks/{created['id']}"

    assert (await hooks.gateway.client.delete(path, headers=hooks.admin)).status_code == 204
    assert (await hooks.gateway.client.get(path, headers=hooks.admin)).status_code == 404
    assert (await hooks.gateway.client.get(f"{path}/deliveries", headers=hooks.admin)).status_code == 404


async def test_only_admins_manage_webhooks(hooks):
    created = await hooks.subscribe()
    path = f"/api/v1/webhooks/{created['id']}"
    callers = [(await hooks.gateway.signed_in(role))[1] for role in (Role.manager, Role.agent, Role.analyst)]
    _, every_scope = await hooks.gateway.add_key(set(SCOPES))
    callers.append({"X-API-Key": every_scope})
    body = {"url": "https://partner.example/", "event_types": ["order.recorded"]}

    for headers in callers:
        for method, url, json in [
            ("GET", "/api/v1/webhooks", None),
            ("POST", "/api/v1/webhooks", body),
            ("GET", path, None),
            ("PATCH", path, {"active": False}),
            ("DELETE", path, None),
            ("GET", f"{path}/deliveries", None),
            ("POST", f"{path}/deliveries/{created['id']}/replay", None),
        ]:
            response = await hooks.gateway.client.request(method, url, headers=headers, json=json)
            assert response.status_code == 403, (method, url, headers)
    assert (await hooks.gateway.client.get(path)).status_code == 401
    assert (await hooks.gateway.client.get(path, headers=hooks.admin)).json()["active"] is True
