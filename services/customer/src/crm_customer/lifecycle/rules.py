"""The lifecycle rules, as pure functions (docs/customer-archive.md, "Lifecycle").

On a purchase (an order that is no refund):
- a `lost` customer who buys is `won_back`;
- the first purchase makes the customer `new`;
- a purchase within the activity window after another makes them `active`;
- a purchase after a longer gap changes nothing (scoring's churn rules speak for such customers).
From scoring: a suggestion of `at_risk` or `lost` moves the stage there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

WARNING_STAGES = ("at_risk", "lost")


def after_purchase(
    stage: str, occurred_at: datetime, others: Sequence[datetime], window_days: int
) -> tuple[str, str] | None:
    """The stage a purchase moves the customer to and why, or None when no rule fires.

    `others`: when the customer's other live purchases took place.
    """
    if stage == "lost":
        return "won_back", "purchase by a lost customer"
    if not others:
        return ("new", "first purchase") if stage != "new" else None
    window = timedelta(days=window_days)
    if any(timedelta(0) <= occurred_at - other <= window for other in others):
        return ("active", f"repeat purchase within {window_days} days") if stage != "active" else None
    if stage == "prospect" and all(other > occurred_at for other in others):
        # the earliest of purchases stored together (a batch, an import) is the first one
        return "new", "first purchase"
    return None


def after_scoring(stage: str, suggestion: str | None, churn_risk: float | None) -> tuple[str, str] | None:
    """The stage scoring's suggestion moves the customer to and why, or None."""
    if suggestion not in WARNING_STAGES or suggestion == stage:
        return None
    risk = "" if churn_risk is None else f", churn risk {churn_risk:.2f}"
    return suggestion, f"scoring suggests {suggestion}{risk}"
