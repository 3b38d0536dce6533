"""Secrets: password hashes (argon2id), access tokens (HS256 JWT), refresh tokens and API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

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

    The algorithm is pinned, so a token that names `none` or another algorithm is refused, and a
    token without a `jti` is refused too: revocation (`revocation.py`) is by that id.
    """
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
        leeway=5,
    )
    return claims


MAX_PASSWORD_LENGTH = 256  # argon2 would hash longer ones, but a megabyte of password is an attack
# zxcvbn's dictionaries are English; these are the building blocks of the passwords most used in
# China (pinyin words, numbers that read as "I love you for ever", the commonest surnames), which it
# would otherwise rate as random.
_LOCAL_WORDS = (
    "woaini",
    "aini",
    "5201314",
    "1314520",
    "1314",
    "520",
    "woaiwojia",
    "iloveyou",
    "qq",
    "wang",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "zhou",
    "xiaoming",
    "laopo",
    "laogong",
    "baobei",
    "zhongguo",
    "asdfghjkl",
)
_EMAIL_PARTS = re.compile(r"[@._+-]+")


def password_weakness(password: str, *, email: str, min_length: int, min_score: int) -> str | None:
    """Why `password` is too weak for an account with `email`, or None when it is acceptable.

    Strength is zxcvbn's estimate (0-4) of how many guesses a password takes; `min_score` is the
    lowest accepted (`CRM_GATEWAY_PASSWORD_MIN_SCORE`).
    """
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    lowered = password.lower()
    local_part = email.partition("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        return "must not contain the email address"
    user_inputs = [email.lower(), *(p for p in _EMAIL_PARTS.split(email.lower()) if p), *_LOCAL_WORDS]
    estimate = zxcvbn(password, user_inputs=user_inputs)
    if estimate["score"] < min_score:
        feedback = estimate["feedback"]
        hints = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
        hint = " ".join(h for h in hints if h) or "Add another word or two. Uncommon words are better."
        return f"is too easy to guess (strength {estimate['score']} of 4, at least {min_score} needed): {hint}"
    return None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key): enough, since it cannot be guessed."""
    return hashlib.sha256(secret.encode()).hexdigest()


API_KEY_PREFIX = "crm"


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its visible prefix: `crm_<prefix>_<secret>`."""
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str | None:
    """The prefix of something shaped like one of our keys, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8 or not parts[2]:
        return None
    return parts[1]


def same_digest(secret: str, expected: str) -> bool:
    return hmac.compare_digest(digest(secret), expected)
