"""Password hashes (argon2id) and the access tokens handed to people (HS256 JWT)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ISSUER = "crm-gateway"
# Distinct from the internal token's audience, so neither kind of token is accepted as the other.
AUDIENCE = "crm-api"
ALGORITHM = "HS256"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so that both failures take about as long.
_DUMMY_HASH = _hasher.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash, spends the same effort and answers False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue_access_token(subject: str, secret: str, ttl_seconds: int, **claims: Any) -> IssuedToken:
    now = int(time.time())
    payload = {
        **claims,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return IssuedToken(jwt.encode(payload, secret, algorithm=ALGORITHM), ttl_seconds)


def decode_access_token(token: str, secret: str) -> dict[str, Any]:
    """The claims of a valid token; raises `jwt.PyJWTError` for anything else.

    The algorithm is pinned, so a token that names `none` or another algorithm is refused.
    """
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        leeway=5,
    )
    return claims
