from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime
from crm_scoring.db import Base

ROW_ID = 1


class ScoringSettingsRow(Base):
    """The single row (`ROW_ID`) of scoring settings; absent until first changed (defaults apply)."""

    __tablename__ = "scoring_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JsonType)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
