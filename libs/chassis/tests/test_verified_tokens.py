"""A service checks an internal token's signature once and remembers it until the token expires."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from crm_chassis.errors import Unauthorized
from crm_chassis.identity import LEEWAY_SECONDS, Principal, VerifiedTokens, sign_internal_token

SECRET = "s" * 40
AGENT = Principal(subject="7b0c43c4-64a1-4bd5-9d9f-1c4b7c3f0a11", kind="user", role="agent", name="Agent")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT was asked to decode, in order."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def expiry(token: str) -> int:
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


def test_a_token_is_verified_once_while_it_lives(decodes: list[str]) -> None:
    token = sign_internal_token(AGENT, SECRET, ttl_seconds=60)
    exp = expiry(token)
    decodes.clear()
    clock = Clock(exp - 60)
    tokens = VerifiedTokens(SECRET, clock=clock)
    assert tokens.principal(token) == AGENT
    clock.now = exp + LEEWAY_SECONDS - 0.5  # as long as PyJWT itself would accept it
    assert tokens.principal(token) == AGENT
    assert decodes == [token]
    clock.now = exp + LEEWAY_SECONDS  # its time is over: checked again, not taken from memory
    tokens.principal(token)
    assert decodes == [token, token]


def test_a_forged_or_expired_token_is_refused_every_time_and_never_remembered(decodes: list[str]) -> None:
    good = sign_internal_token(AGENT, SECRET, ttl_seconds=60)
    forged = sign_internal_token(AGENT, "x" * 40, ttl_seconds=60)
    expired = sign_internal_token(AGENT, SECRET, ttl_seconds=-60)
    tokens = VerifiedTokens(SECRET, clock=Clock(expiry(good) - 60))
    decodes.clear()
    for token in (forged, expired, forged, expired):
        with pytest.raises(Unauthorized):
            tokens.principal(token)
    assert decodes == [forged, expired, forged, expired]
    assert tokens.principal(good) == AGENT


def test_the_memory_is_bounded() -> None:
    clock = Clock(0.0)
    tokens = VerifiedTokens(SECRET, clock=clock, max_entries=3)
    principals = [Principal(subject=f"user-{i}", kind="user", role="agent") for i in range(10)]
    signed = [sign_internal_token(p, SECRET, ttl_seconds=60) for p in principals]
    clock.now = expiry(signed[0]) - 60
    for principal, token in zip(principals, signed, strict=True):
        assert tokens.principal(token) == principal
        assert len(tokens.memo) <= 3
