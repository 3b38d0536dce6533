"""The internal token of proxied calls is signed once per principal per quarter of its lifetime."""

from __future__ import annotations

from crm_chassis.identity import Principal, verify_internal_token
from crm_gateway.proxy.signing import InternalTokens

SECRET = "test-internal-secret-0123456789abcdef01234"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_reused_for_a_quarter_of_its_life_then_signed_anew():
    clock = FakeClock()
    tokens = InternalTokens(SECRET, 60, clock)
    alice = Principal(subject="a", kind="user", role="agent")

    first = tokens.token_for(alice)
    clock.now += 14.9
    again = tokens.token_for(alice)
    other = tokens.token_for(Principal(subject="b", kind="user", role="agent"))
    clock.now += 0.1
    renewed = tokens.token_for(alice)

    assert again == first
    assert other != first and verify_internal_token(other, SECRET).subject == "b"
    assert verify_internal_token(renewed, SECRET) == alice
    clock.now += 14.9  # signed again at 15 s, so reused until 30 s
    assert renewed != first and tokens.token_for(alice) == renewed


def test_a_changed_principal_gets_its_own_token():
    tokens = InternalTokens(SECRET, 60, FakeClock())
    manager = Principal(subject="m", kind="user", role="manager", team=frozenset({"x"}))
    moved = Principal(subject="m", kind="user", role="manager", team=frozenset({"x", "y"}))

    assert verify_internal_token(tokens.token_for(moved), SECRET).team == frozenset({"x", "y"})
    assert verify_internal_token(tokens.token_for(manager), SECRET).team == frozenset({"x"})


def test_memory_is_bounded():
    clock = FakeClock()
    tokens = InternalTokens(SECRET, 60, clock, max_entries=3)
    for n in range(10):
        tokens.token_for(Principal(subject=str(n), kind="user", role="agent"))
    assert len(tokens.memo) <= 3
