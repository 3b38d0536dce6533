"""Rate limits per principal and route class, and the client address behind trusted proxies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_gateway.audit.addresses import client_address, parse_networks
from crm_gateway.auth import permissions, ratelimit
from crm_gateway.auth.ratelimit import TokenBuckets
from crm_gateway.config import Settings
from crm_gateway.users.models import Role


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate():
    clock = FakeClock()
    buckets = TokenBuckets(clock)

    decisions = [buckets.take("user:a", "customers.read", 3) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after_seconds == 20  # one request every 60/3 s
    assert decisions[0].headers()["RateLimit-Policy"] == "3;w=60"
    clock.now += 20
    assert buckets.take("user:a", "customers.read", 3).allowed
    assert buckets.take("user:b", "customers.read", 3).allowed  # another principal's budget
    assert buckets.take("user:a", "scores.read", 3).allowed  # another class's budget


def test_idle_buckets_are_forgotten_when_memory_is_capped():
    clock = FakeClock()
    buckets = TokenBuckets(clock, max_keys=2)
    buckets.take("a", "c", 1)
    buckets.take("b", "c", 1)
    clock.now += 61

    buckets.take("c", "c", 1)

    assert len(buckets._buckets) == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # peer not trusted: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own entry is not believed
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two trusted hops
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),
        ("10.0.0.2", "garbage, 10.0.0.3", "10.0.0.3"),
        ("10.0.0.2", None, "10.0.0.2"),
    ],
)
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, parse_networks(["10.0.0.0/8"])) == expected


async def test_429_with_retry_after_and_ratelimit_headers_on_every_response(open_gateway):
    async with open_gateway(rate_limits={"customers.read": 2}) as gateway:
        _, headers = await gateway.signed_in(Role.agent)
        answers = [await gateway.client.get("/api/v1/customers/probe", headers=headers) for _ in range(3)]
        other_class = await gateway.client.get("/api/v1/scores/probe", headers=headers)

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "2" for a in answers)
    assert int(answers[0].headers["ratelimit-reset"]) > 0
    refused = answers[2]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) == 30
    assert len(gateway.seen("customer")) == 2
    assert other_class.status_code == 200 and other_class.headers["ratelimit-limit"] == "600"


async def test_reading_a_job_is_limited_on_its_own_and_allows_polling_at_2_hz(open_gateway):
    # the defaults, with bulk.data spent after two calls
    limits = {**Settings().rate_limits, "bulk.data": 2}
    async with open_gateway(rate_limits=limits) as gateway:
        _, headers = await gateway.signed_in(Role.admin)
        # a page following three jobs at 2 Hz for a minute: 120 reads each would be 360, so one job
        polls = [await gateway.client.get("/api/v1/imports/job-1", headers=headers) for _ in range(120)]
        others = [
            await gateway.client.get(path, headers=headers) for path in ("/api/v1/exports/e", "/api/v1/scoring/runs/r")
        ]
        bulk = [await gateway.client.get("/api/v1/imports", headers=headers) for _ in range(3)]

    assert {p.status_code for p in polls + others} == {200}
    assert polls[0].headers["ratelimit-policy"] == "300;w=60"
    assert {o.headers["ratelimit-policy"] for o in others} == {"300;w=60"}
    assert [b.status_code for b in bulk] == [200, 200, 429]  # the job list stays a bulk call
    assert ratelimit.limit_class("GET", ["imports", "j", "errors"], "bulk.data") == "bulk.data"
    assert ratelimit.limit_class("POST", ["scoring", "runs"], "scoring.admin") == "scoring.admin"


async def test_sign_in_is_limited_per_client_address(open_gateway):
    async with open_gateway(rate_limits={"auth.login": 2}) as gateway:
        data = {"username": "someone@crm.test", "password": "x"}
        answers = [await gateway.client.post("/api/v1/auth/token", data=data) for _ in range(3)]

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert "retry-after" in answers[2].headers


async def test_anonymous_survey_responses_are_limited_by_address(open_gateway):
    async with open_gateway(rate_limits={"surveys.respond": 1}, trusted_proxies=["203.0.113.7"]) as gateway:
        first = await gateway.client.post("/api/v1/surveys/responses", json={}, headers={"X-Forwarded-For": "1.2.3.4"})
        again = await gateway.client.post("/api/v1/surveys/responses", json={}, headers={"X-Forwarded-For": "1.2.3.4"})
        other = await gateway.client.post("/api/v1/surveys/responses", json={}, headers={"X-Forwarded-For": "5.6.7.8"})

    assert (first.status_code, again.status_code, other.status_code) == (201, 429, 201)
    assert gateway.seen("feedback")[-1]["headers"]["x-forwarded-for"] == "5.6.7.8"


def test_docs_api_lists_every_route_class_with_its_default_limit():
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    match = re.search(r"<!-- limits:start -->\n(.*?)\n<!-- limits:end -->", text, re.S)
    assert match, "docs/api.md has lost its limits table markers"
    settings = Settings()
    described = {name: granted.description for name, granted in permissions.CLASSES.items()}
    expected = ratelimit.limits_markdown(settings.rate_limits, settings.rate_limit_per_minute, described)
    assert match.group(1).strip() == expected.strip()
    assert "| `orders.batch` | 120 |" in expected
