"""Retention and churn over a period (DOMAIN.md §2).

A customer "is a customer at date d" when they made a purchase in the activity window before d,
i.e. in (d − W, d]. With S the customers at the period start and E those at its end:

    new       = |E \\ S|   acquired, or won back, during the period
    lost      = |S \\ E|
    retention = (|E| − new) / |S|     churn = lost / |S| = 1 − retention

Counting won-back customers as new keeps churn = 1 − retention exact, as the formula requires.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crm_scoring.models.fitting import FloatArray


@dataclass(frozen=True)
class Retention:
    start_count: int
    end_count: int
    new_count: int
    lost_count: int
    retention_rate: float | None
    churn_rate: float | None


def retention(
    last_purchase_by_start: FloatArray, last_purchase_by_end: FloatArray, start: float, end: float, window: float
) -> Retention:
    """From each customer's last purchase time at or before `start` and at or before `end` (NaN: none).

    Times are in any one unit (e.g. days since an epoch); `window` is in the same unit.
    """
    with np.errstate(invalid="ignore"):
        at_start = last_purchase_by_start > start - window
        at_end = last_purchase_by_end > end - window
    start_count, end_count = int(at_start.sum()), int(at_end.sum())
    new = int((at_end & ~at_start).sum())
    lost = int((at_start & ~at_end).sum())
    if start_count == 0:
        return Retention(start_count, end_count, new, lost, None, None)
    rate = (end_count - new) / start_count
    return Retention(start_count, end_count, new, lost, rate, lost / start_count)
