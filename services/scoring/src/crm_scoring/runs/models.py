from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from crm_chassis.db import JsonType, UTCDateTime
from crm_scoring.db import Base


class ScoringRun(Base):
    """A full scoring job. `active` is 1 while queued or running and NULL after: its unique index
    lets the database itself refuse a second concurrent run."""

    __tablename__ = "scoring_run"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    # live: rewrites the cards, publishes events, sets the model used between runs;
    # backtest: as of a past date, keeps its model and results under the run and touches nothing else
    mode: Mapped[str] = mapped_column(String(16), server_default="live")
    active: Mapped[int | None] = mapped_column(Integer, unique=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    holdout_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a backtest's holdout end
    # a live run that computes every customer's purchase statistics from the orders again
    rebuild_statistics: Mapped[bool] = mapped_column(Boolean, server_default=false())
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class ScoringModel(Base):
    """What a succeeded run learnt: fitted parameters, population breakpoints, settings used."""

    __tablename__ = "scoring_model"

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    model: Mapped[dict[str, Any]] = mapped_column(JsonType)
