"""Manager performance (`GET /api/v1/analytics/managers`): the scoring and feedback parts merged
with the managers' names, the caller's identity passed on, names hidden from analysts, and each
upstream failure answered as the composites answer it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from crm_chassis.identity import verify_internal_token
from crm_gateway.users import service as user_service
from crm_gateway.users.models import Role

URL = "/api/v1/analytics/managers"
PERIOD = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
SCORING_PATH = "/internal/analytics/managers"
FEEDBACK_PATH = "/internal/analytics/complaints/by-owner"


def retention(start: int, end: int, new: int, lost: int) -> dict[str, Any]:
    rate = (end - new) / start if start else None
    return {
        "start_count": start,
        "end_count": end,
        "new_count": new,
        "lost_count": lost,
        "retention_rate": rate,
        "churn_rate": lost / start if start else None,
    }


def figures(owner: uuid.UUID, revenue: str, book: int) -> dict[str, Any]:
    return {
        "owner_id": str(owner),
        "book_size": book,
        "revenue": revenue,
        "revenue_by_currency": [{"currency": "CNY", "amount": revenue}],
        "key_customers": 2,
        "care_on_track": 1,
        "care_on_track_share": 0.5,
        "retention": retention(2, 2, 1, 1),
        "actions_opened": 2,
        "actions_closed": 2,
        "actions_won_back": 1,
        "win_back_rate": 0.5,
    }


class Upstream:
    """A fake service answering one path (status and body, or an exception), keeping what it was sent."""

    def __init__(self, path: str, answer: Any) -> None:
        self.path, self.answer = path, answer
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            if request.url.path != self.path:
                return httpx.Response(404, json={"code": "not_found"})
            if isinstance(self.answer, Exception):
                raise self.answer
            status, body = self.answer
            return httpx.Response(status, json=body)

        return httpx.MockTransport(handle)


async def named_user(gateway: Any, name: str) -> uuid.UUID:
    async with gateway.app.state.sessionmaker.begin() as session:
        user = await user_service.create(
            session, email=f"{uuid.uuid4().hex[:10]}@crm.test", password="pass-word-123", role=Role.agent, name=name
        )
    return uuid.UUID(str(user.id))


def parts(ann: uuid.UUID, bo: uuid.UUID, *, complaints: Any = None) -> tuple[Upstream, Upstream]:
    scoring = Upstream(
        SCORING_PATH,
        (200, {**PERIOD, "activity_window_days": 365, "items": [figures(ann, "100.00", 3), figures(bo, "250.50", 1)]}),
    )
    items = [{"owner_id": str(ann), "resolved": 4, "resolved_within_sla": 3}]
    feedback = Upstream(FEEDBACK_PATH, complaints or (200, {**PERIOD, "items": items}))
    return scoring, feedback


async def test_admins_get_each_manager_with_their_name_and_complaints(open_gateway: Any) -> None:
    scoring, feedback = Upstream(SCORING_PATH, None), Upstream(FEEDBACK_PATH, None)
    async with open_gateway(transports={"scoring": scoring.transport(), "feedback": feedback.transport()}) as gateway:
        # the users exist before the services name them as owners
        ann, bo = await named_user(gateway, "Ann Wu"), await named_user(gateway, "Bo Li")
        scoring.answer, feedback.answer = (upstream.answer for upstream in parts(ann, bo))
        headers = await gateway.login()
        response = await gateway.client.get(URL, params=PERIOD, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["anonymous"], body["complaints_available"]) == (PERIOD["from"], False, True)
    assert [(i["label"], i["manager_id"], i["revenue"]) for i in body["items"]] == [
        ("Bo Li", str(bo), "250.50"),  # the larger revenue first
        ("Ann Wu", str(ann), "100.00"),
    ]
    first, second = body["items"]
    assert first["revenue_by_currency"] == [{"currency": "CNY", "amount": "250.50"}]
    assert (second["complaints_resolved"], second["complaints_resolved_within_sla"]) == (4, 3)
    assert second["complaints_within_sla_share"] == 0.75
    assert (first["complaints_resolved"], first["complaints_within_sla_share"]) == (0, None)
    assert second["retention"]["retention_rate"] == 0.5 and second["win_back_rate"] == 0.5
    # both parts asked for the same period, with the caller's identity
    for upstream in (scoring, feedback):
        (request,) = upstream.requests
        assert dict(request.url.params) == {"from": "2026-10-01T00:00:00+00:00", "to": "2026-11-01T00:00:00+00:00"}
        assert verify_internal_token(request.headers["x-internal-token"], _secret(gateway)).role == "admin"


def _secret(gateway: Any) -> str:
    secret: str = gateway.app.state.settings.internal_secret.get_secret_value()
    return secret


async def test_analysts_see_no_names_nor_ids(open_gateway: Any) -> None:
    ann, bo = uuid.uuid4(), uuid.uuid4()
    scoring, feedback = parts(ann, bo)
    async with open_gateway(transports={"scoring": scoring.transport(), "feedback": feedback.transport()}) as gateway:
        _, headers = await gateway.signed_in(Role.analyst)
        response = await gateway.client.get(URL, params=PERIOD, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["anonymous"] is True
    assert [(i["label"], i["manager_id"], i["name"]) for i in body["items"]] == [
        ("manager 1", None, None),
        ("manager 2", None, None),
    ]
    assert str(ann) not in response.text and str(bo) not in response.text
    assert body["items"][1]["complaints_resolved"] == 4  # the figures stay


async def test_a_manager_asks_with_their_team_and_an_agent_is_refused(open_gateway: Any) -> None:
    scoring, feedback = parts(uuid.uuid4(), uuid.uuid4())
    async with open_gateway(transports={"scoring": scoring.transport(), "feedback": feedback.transport()}) as gateway:
        lead, headers = await gateway.signed_in(Role.manager)
        email = await gateway.add_user(role=Role.agent, manager_id=uuid.UUID(lead))
        me = await gateway.client.get("/api/v1/auth/me", headers=await gateway.login(email, "pass-word-123"))
        response = await gateway.client.get(URL, params=PERIOD, headers=headers)
        assert response.status_code == 200, response.text
        seen = verify_internal_token(scoring.requests[-1].headers["x-internal-token"], _secret(gateway))
        assert (seen.role, seen.subject, seen.team) == ("manager", lead, frozenset({me.json()["id"]}))
        assert response.json()["anonymous"] is False
        _, as_agent = await gateway.signed_in(Role.agent)
        refused = await gateway.client.get(URL, params=PERIOD, headers=as_agent)
        assert refused.status_code == 403
        assert len(scoring.requests) == 1  # the agent's read reached no service


async def test_feedback_failing_leaves_the_complaints_out(open_gateway: Any) -> None:
    scoring, feedback = parts(uuid.uuid4(), uuid.uuid4(), complaints=httpx.ConnectError("refused"))
    async with open_gateway(transports={"scoring": scoring.transport(), "feedback": feedback.transport()}) as gateway:
        response = await gateway.client.get(URL, params=PERIOD, headers=await gateway.login())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complaints_available"] is False
    assert all(i["complaints_resolved"] is None and i["book_size"] > 0 for i in body["items"])


async def test_scoring_failing_fails_the_read(open_gateway: Any) -> None:
    cases = [
        (httpx.ConnectError("refused"), 502),
        (httpx.ReadTimeout("slow"), 504),
        ((500, {"code": "internal_error"}), 502),
        ((422, {"code": "validation_failed", "title": "from must be before to"}), 422),
    ]
    for answer, status in cases:
        scoring, feedback = parts(uuid.uuid4(), uuid.uuid4())
        scoring.answer = answer
        transports = {"scoring": scoring.transport(), "feedback": feedback.transport()}
        async with open_gateway(transports=transports) as gateway:
            response = await gateway.client.get(URL, params=PERIOD, headers=await gateway.login())
        assert response.status_code == status, (answer, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_period_is_checked_before_any_call(open_gateway: Any) -> None:
    scoring, feedback = parts(uuid.uuid4(), uuid.uuid4())
    async with open_gateway(transports={"scoring": scoring.transport(), "feedback": feedback.transport()}) as gateway:
        headers = await gateway.login()
        reversed_ = await gateway.client.get(URL, params={"from": PERIOD["to"], "to": PERIOD["from"]}, headers=headers)
        too_long = await gateway.client.get(
            URL, params={"from": "2010-01-01T00:00:00Z", **{"to": PERIOD["to"]}}, headers=headers
        )
    assert (reversed_.status_code, too_long.status_code) == (422, 422)
    assert scoring.requests == [] and feedback.requests == []
