"""What signing in keeps: refresh tokens, revoked access tokens, and failed sign-ins."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import UTCDateTime, utcnow
from crm_gateway.db import Base


class RefreshToken(Base):
    """One refresh token of a sign-in session (its family); only its SHA-256 is kept."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the token was exchanged for its successor: presenting it again means it was stolen.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RevokedToken(Base):
    """An access token, or every access token of a sign-in session, refused before its expiry
    (`revocation.py`); kept until the tokens it stops would have expired anyway."""

    __tablename__ = "revoked_token"

    token_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # `jti:<jti>` or `sid:<family id>`
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """Failed sign-ins counted per key (`account:<email>` or `address:<ip>`), shared by every replica."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
