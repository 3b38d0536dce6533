"""The composite overview: parallel reads, each part degrading on its own."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

CUSTOMER = str(uuid.uuid4())


def service(routes: dict[str, Any]) -> httpx.MockTransport:
    """A fake service answering by path: a (status, body) pair, or an exception to raise."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = routes.get(request.url.path)
        if answer is None:
            return httpx.Response(404, json={"code": "not_found"})
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


CUSTOMER_SERVICE = {f"/customers/{CUSTOMER}": (200, {"id": CUSTOMER, "name": "Ada"})}
SCORING = {f"/customers/{CUSTOMER}/scores": (200, {"customer_id": CUSTOMER, "churn_risk": {"score": 0.4}})}
FEEDBACK = {
    "/complaints": (200, {"items": [{"id": "c1", "status": "open"}], "next_cursor": None}),
    f"/analytics/satisfaction/customers/{CUSTOMER}": (200, {"nps": 9, "csat": 5}),
}


async def test_overview_combines_the_services(open_gateway: Any) -> None:
    transports = {"customer": service(CUSTOMER_SERVICE), "scoring": service(SCORING), "feedback": service(FEEDBACK)}
    async with open_gateway(transports=transports) as gateway:
        headers = await gateway.login()
        response = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["profile"]["name"] == "Ada"
    assert body["scores"]["churn_risk"]["score"] == 0.4
    assert body["open_complaints"] == [{"id": "c1", "status": "open"}]
    assert body["satisfaction"] == {"nps": 9, "csat": 5}


async def test_a_part_whose_service_is_down_degrades_alone(open_gateway: Any) -> None:
    down = service({f"/customers/{CUSTOMER}/scores": httpx.ConnectError("refused")})
    failing = service({"/complaints": (500, {"code": "internal_error"})})
    transports = {"customer": service(CUSTOMER_SERVICE), "scoring": down, "feedback": failing}
    async with open_gateway(transports=transports) as gateway:
        headers = await gateway.login()
        response = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["profile"]["name"] == "Ada"
    assert body["scores"] == {"unavailable": True}
    assert body["open_complaints"] == {"unavailable": True}
    assert body["satisfaction"] is None  # answered 404: nothing measured yet


async def test_unknown_customer_and_customer_service_down(open_gateway: Any) -> None:
    transports = {"customer": service({}), "scoring": service(SCORING), "feedback": service(FEEDBACK)}
    async with open_gateway(transports=transports) as gateway:
        headers = await gateway.login()
        missing = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert (await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview")).status_code == 401
    down = {"customer": service({f"/customers/{CUSTOMER}": httpx.ConnectError("refused")})}
    async with open_gateway(transports=down) as gateway:
        headers = await gateway.login()
        response = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=headers)
        assert response.status_code == 502


async def test_each_part_applies_its_own_routes_rule(open_gateway: Any) -> None:
    """A part the caller could not read through its own route is not asked for: `{"forbidden": true}`."""
    seen: list[str] = []

    def recording(routes: dict[str, Any]) -> httpx.MockTransport:
        inner = service(routes)

        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return inner.handle_request(request)

        return httpx.MockTransport(handle)

    transports = {
        "customer": recording(CUSTOMER_SERVICE),
        "scoring": recording(SCORING),
        "feedback": recording(FEEDBACK),
    }
    forbidden = {"forbidden": True}
    async with open_gateway(transports=transports) as gateway:
        _, key = await gateway.add_key({"customers:read"})
        by_key = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers={"X-API-Key": key})
        assert by_key.status_code == 200, by_key.text
        body = by_key.json()
        assert body["profile"]["name"] == "Ada"
        assert (body["scores"], body["open_complaints"], body["satisfaction"]) == (forbidden, forbidden, forbidden)
        assert seen == [f"/customers/{CUSTOMER}"]

        _, scored = await gateway.add_key({"customers:read", "scores:read"})
        body = (
            await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers={"X-API-Key": scored})
        ).json()
        assert body["scores"]["churn_risk"]["score"] == 0.4
        assert (body["open_complaints"], body["satisfaction"]) == (forbidden, forbidden)

        from crm_gateway.users.models import Role

        _, agent = await gateway.signed_in(Role.agent)  # agents read complaints, not satisfaction analytics
        body = (await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=agent)).json()
        assert body["open_complaints"] == [{"id": "c1", "status": "open"}]
        assert body["scores"]["churn_risk"]["score"] == 0.4
        assert body["satisfaction"] == forbidden


async def test_a_merged_customer_redirects_to_the_survivors_overview(open_gateway: Any) -> None:
    survivor = str(uuid.uuid4())
    merged = {"code": "customer_merged", "merged_into": survivor, "instance": f"/customers/{CUSTOMER}"}
    transports = {"customer": service({f"/customers/{CUSTOMER}": (301, merged)})}
    async with open_gateway(transports=transports) as gateway:
        headers = await gateway.login()
        response = await gateway.client.get(f"/api/v1/customers/{CUSTOMER}/overview", headers=headers)
    assert response.status_code == 301
    assert response.headers["location"] == f"/api/v1/customers/{survivor}/overview"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["merged_into"], body["instance"]) == (survivor, f"/api/v1/customers/{CUSTOMER}/overview")
