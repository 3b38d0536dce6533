"""The pieces of webhooks on their own: signatures, the retry bounds, address checks, the catalogue."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm_gateway.webhooks import catalogue, signing, targets
from crm_gateway.webhooks.retry import RetryPolicy

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_signature_matches_the_published_standard_webhooks_example():
    # The example of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    assert signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_new_secrets_are_random_and_long_enough():
    secrets = {signing.new_secret() for _ in range(50)}

    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) == len("whsec_") + 44 for s in secrets)  # 32 bytes


def test_backoff_bounds_double_from_five_seconds_up_to_the_cap():
    policy = RetryPolicy(initial_seconds=5, max_delay_seconds=3600)

    assert [policy.delay(n, lambda: 1.0) for n in range(1, 12)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
    ]
    assert policy.delay(200, lambda: 1.0) == 3600
    assert policy.delay(8, lambda: 0.0) == 1.0  # full jitter, but never an immediate retry
    assert policy.delay(8, lambda: 0.5) == 320


def test_no_retry_is_scheduled_past_the_window():
    policy = RetryPolicy(initial_seconds=5, max_delay_seconds=3600)
    now = datetime(2026, 11, 26, tzinfo=UTC)

    assert policy.next_attempt(3, now, now + timedelta(seconds=20), lambda: 1.0) == now + timedelta(seconds=20)
    assert policy.next_attempt(3, now, now + timedelta(seconds=19), lambda: 1.0) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classes(address, reason):
    assert targets.refusal(targets.ipaddress.ip_address(address)) == reason


async def test_requests_go_to_the_checked_address_with_the_name_kept():
    async def resolver(host: str, port: int) -> list[str]:
        assert (host, port) == ("partner.example", 8443)
        return ["2606:4700:4700::1111"]

    target = await targets.check("https://partner.example:8443/in?x=1", resolver, allow_private=False)
    url, host, extensions = target.request_parts()

    assert str(url) == "https://[2606:4700:4700::1111]:8443/in?x=1"
    assert host == {"Host": "partner.example:8443"}
    assert extensions == {"sni_hostname": "partner.example"}


def test_the_catalogue_lists_exactly_the_documented_public_events():
    text = EVENTS_DOC.read_text(encoding="utf-8")
    # the gateway's own events (staff accounts) are internal: no partner may subscribe to them
    text = re.sub(r"^## gateway\n.*?(?=^## )", "", text, flags=re.M | re.S)
    documented: set[str] = set()
    for row in re.findall(r"^\| (`[a-z_]+\.[a-z_]+`(?: / `[a-z_]+\.[a-z_]+`)*) \|", text, re.M):
        documented.update(re.findall(r"`([a-z_]+\.[a-z_]+)`", row))

    assert documented == set(catalogue.ALL_TYPES)


def test_patterns():
    assert catalogue.is_valid_pattern("order.*") and catalogue.is_valid_pattern("survey.responded")
    assert not catalogue.is_valid_pattern("order.placed") and not catalogue.is_valid_pattern("*")
    assert catalogue.matches(["order.*"], "order.refunded")
    assert not catalogue.matches(["order.*"], "customer.created")
    assert not catalogue.matches(["order.recorded"], "order.refunded")


def test_webhooks_never_carry_the_internal_contact_fields():
    customer = {"id": "c1", "name": "Li Lei", "phone": "+8613800138000", "preferred_channel": "im"}
    customer["best_contact_time"] = "evenings"
    assert catalogue.public_data("customer.updated", customer) == {"id": "c1", "name": "Li Lei"}
    contact = {"id": "i1", "summary": "talked about the renewal", "outcome": "agreed"}
    assert catalogue.public_data("interaction.logged", contact) == {"id": "i1", "outcome": "agreed"}
    order = {"id": "o1", "phone": "kept: an order has no such field to hide"}
    assert catalogue.public_data("order.recorded", order) == order
