"""Churn risk 0–1 from the warning points (流失警戒点), with the reasons that raised it.

risk = 1 − (1 − base) · Π (1 − w_i) over the warning points that fired, where base = 1 − P(alive)
(0 when there is no fitted model) and w_i is the configured weight of warning point i. The score
only grows when a point fires, stays in [0, 1], and every part of it has a named reason.
Customers with no purchase have no churn risk (NaN): there is nothing to lose yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import FloatArray


class Reason(IntFlag):
    overdue_purchase = 1  # no purchase for k × the customer's own purchase cycle
    low_p_alive = 2
    open_complaint = 4
    sla_breached = 8
    dissatisfied = 16  # satisfaction index below 1, or a CSAT rating below the neutral 3
    detractor = 32  # NPS answer 0–6
    missed_care = 64  # key customer not contacted within the care reminder limit
    inactive = 128  # no purchase for longer than the "lost" limit
    responded_to_campaign = 256  # an engaging campaign response lately: a sign of engagement


@dataclass(frozen=True)
class ChurnRules:
    cycle_multiple: float = 2.0
    p_alive_threshold: float = 0.3
    lost_after_days: float = 365.0
    lost_p_alive: float = 0.05
    warning_threshold: float = 0.5
    care_limit_days: float = 60.0
    campaign_response_days: float = 30.0
    weights: dict[str, float] | None = None


DEFAULT_WEIGHTS = {
    "overdue_purchase": 0.4,
    "low_p_alive": 0.0,  # already inside the base 1 − P(alive)
    "open_complaint": 0.25,
    "sla_breached": 0.35,
    "dissatisfied": 0.3,
    "detractor": 0.3,
    "missed_care": 0.15,
    "inactive": 0.5,
    # informational: engagement lowers no risk here (the score only grows when a point fires)
    "responded_to_campaign": 0.0,
}


@dataclass(frozen=True)
class ChurnInputs:
    has_purchase: NDArray[np.bool_]
    days_since_purchase: FloatArray
    cycle_days: FloatArray  # NaN with fewer than two purchase days
    p_alive: FloatArray  # NaN without a model
    open_complaints: FloatArray
    sla_breaches: FloatArray
    satisfaction: FloatArray  # NaN when never measured
    nps: FloatArray
    csat: FloatArray  # mean 1–5 rating of the latest CSAT answer; NaN when never measured
    is_key: NDArray[np.bool_]
    days_since_contact: FloatArray  # NaN when never contacted
    # days since the latest engaging campaign response; NaN without one
    days_since_campaign_response: FloatArray | None = None


def assess(i: ChurnInputs, rules: ChurnRules) -> tuple[FloatArray, NDArray[np.int64], NDArray[np.object_]]:
    """(risk, reason bit mask, lifecycle suggestion) per customer."""
    weights = {**DEFAULT_WEIGHTS, **(rules.weights or {})}
    with np.errstate(invalid="ignore"):
        fired = {
            Reason.overdue_purchase: i.days_since_purchase > rules.cycle_multiple * i.cycle_days,
            Reason.low_p_alive: i.p_alive < rules.p_alive_threshold,
            Reason.open_complaint: i.open_complaints > 0,
            Reason.sla_breached: i.sla_breaches > 0,
            Reason.dissatisfied: (i.satisfaction < 1.0) | (i.csat < 3.0),
            Reason.detractor: i.nps <= 6,
            Reason.missed_care: i.is_key & ~(i.days_since_contact <= rules.care_limit_days),
            Reason.inactive: i.days_since_purchase > rules.lost_after_days,
            Reason.responded_to_campaign: (
                np.zeros(i.has_purchase.shape, dtype=bool)
                if i.days_since_campaign_response is None
                else i.days_since_campaign_response <= rules.campaign_response_days
            ),
        }
    keep = 1.0 - np.nan_to_num(1.0 - i.p_alive, nan=0.0)
    mask = np.zeros(i.has_purchase.shape, dtype=np.int64)
    for reason, hit in fired.items():
        hit = hit & i.has_purchase
        mask |= np.where(hit, int(reason), 0)
        keep = keep * np.where(hit, 1.0 - weights[reason.name or ""], 1.0)
    risk = np.where(i.has_purchase, np.clip(1.0 - keep, 0.0, 1.0), np.nan)
    with np.errstate(invalid="ignore"):
        lost = i.has_purchase & ((i.days_since_purchase > rules.lost_after_days) | (i.p_alive < rules.lost_p_alive))
        at_risk = i.has_purchase & ~lost & (risk >= rules.warning_threshold)
    suggestion = np.full(risk.shape, None, dtype=object)
    suggestion[at_risk] = "at_risk"
    suggestion[lost] = "lost"
    return np.asarray(risk, dtype=np.float64), mask, suggestion


def reason_names(mask: int) -> list[str]:
    return [r.name for r in Reason if mask & int(r) and r.name]
