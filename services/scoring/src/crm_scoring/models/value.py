"""Customer value three ways: simple Cv = S/t × T, discounted CLTV, and probabilistic CLV."""

from __future__ import annotations

import numpy as np

from crm_scoring.models import bgnbd_predict
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FloatArray, as_float_array

DAYS_PER_MONTH = 30.0


def simple_value(avg_spend: object, cycle_days: object, relationship_days: float) -> FloatArray:
    """Cv = S / t × T with t and T in days; NaN when the cycle is unknown (fewer than two purchases)."""
    s, t = np.broadcast_arrays(as_float_array(avg_spend), as_float_array(cycle_days))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 0, s / t * relationship_days, np.nan)
    return np.asarray(out, dtype=np.float64)


def annuity_factor(years: int, rate: float) -> float:
    """Σ_{t=1..n} 1/(1+i)^t."""
    return float(sum(1.0 / (1.0 + rate) ** t for t in range(1, years + 1)))


def discounted_cltv(annual_profit: object, years: int, rate: float) -> FloatArray:
    """CLTV = Σ_{t=1..n} P_t/(1+i)^t with P_t held at the profit of the last twelve months."""
    return as_float_array(annual_profit) * annuity_factor(years, rate)


def monthly_rate(annual_rate: float) -> float:
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def probabilistic_clv(
    params: BgNbdParams,
    expected_spend: object,
    frequency: object,
    recency: object,
    T: object,
    *,
    months: int,
    annual_discount_rate: float,
    days_per_unit: float = 7.0,
) -> FloatArray:
    """Σ over months m of (E[purchases by m] − E[purchases by m−1]) × E[spend] / (1+d)^m.

    The usual formula of the lifetimes package, with d the monthly equivalent of the annual rate
    and months of 30 days converted into the model's time unit.
    """
    x, t_x, t = (as_float_array(v) for v in (frequency, recency, T))
    spend = as_float_array(expected_spend)
    d = monthly_rate(annual_discount_rate)
    total = np.zeros(np.broadcast(x, spend).shape)
    previous = np.zeros_like(total)
    horizons = [m * DAYS_PER_MONTH / days_per_unit for m in range(1, months + 1)]
    for m, cumulative in enumerate(bgnbd_predict.expected_purchases_curve(params, horizons, x, t_x, t), start=1):
        total += (cumulative - previous) * spend / (1.0 + d) ** m
        previous = cumulative
    return np.asarray(np.nan_to_num(total, nan=0.0), dtype=np.float64)
