"""When to try a failed delivery again: exponential backoff with full jitter, for a bounded window.

Full jitter (a uniform delay between nothing and the exponential bound) spreads the retries of
many deliveries that failed together, say while a partner was down, instead of sending them back
in waves at the same instants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_DELAY_SECONDS = 1.0  # an immediate retry of what just failed tells nothing new


@dataclass(frozen=True)
class RetryPolicy:
    initial_seconds: float
    max_delay_seconds: float

    def bound(self, failures: int) -> float:
        """The longest wait after the `failures`-th failed attempt (1, 2, ...)."""
        exponent = min(failures - 1, 60)  # 2**60 seconds is past any cap; keeps the float finite
        return min(self.max_delay_seconds, self.initial_seconds * 2.0**exponent)

    def delay(self, failures: int, random: Callable[[], float]) -> float:
        return max(MIN_DELAY_SECONDS, random() * self.bound(failures))

    def next_attempt(
        self, failures: int, now: datetime, retry_until: datetime, random: Callable[[], float]
    ) -> datetime | None:
        """When to try again, or None when that would fall after `retry_until`: give up."""
        at = now + timedelta(seconds=self.delay(failures, random))
        return at if at <= retry_until else None
