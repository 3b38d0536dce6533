"""Standard Webhooks signatures (https://www.standardwebhooks.com): `whsec_` secrets, `v1` HMACs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def overlapping(retired: list[dict[str, str]] | None, now: datetime) -> list[dict[str, str]]:
    """The secrets replaced by a rotation that still sign at `now`, newest first."""
    return [entry for entry in retired or () if datetime.fromisoformat(entry["until"]) > now]


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}` with the decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers, with one signature per secret (space-separated, as the specification
    allows): during a rotation's overlap a receiver holding either secret can verify."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(secret, message_id, timestamp, body) for secret in secrets),
        "Content-Type": "application/json",
    }
