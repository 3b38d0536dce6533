from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, model_validator

MAX_SPAN = timedelta(days=5 * 366)


class Period(BaseModel):
    """`from`/`to` of an analytics query: the last 180 days by default, at most five years."""

    from_: AwareDatetime | None = None
    to: AwareDatetime | None = None
    interval: Literal["week", "month"] = "month"

    @model_validator(mode="after")
    def _span(self) -> Period:
        self.to = (self.to or datetime.now(UTC)).astimezone(UTC)
        self.from_ = (self.from_ or self.to - timedelta(days=180)).astimezone(UTC)
        if self.from_ >= self.to:
            raise ValueError("from must be before to")
        if self.to - self.from_ > MAX_SPAN:
            raise ValueError("the period may span at most five years")
        return self

    @property
    def start(self) -> datetime:
        assert self.from_ is not None
        return self.from_

    @property
    def end(self) -> datetime:
        assert self.to is not None
        return self.to
