"""Customer value three ways: simple Cv = S/t × T, discounted CLTV, and probabilistic CLV."""

from __future__ import annotations

import numpy as np

from crm_scoring.models import bgnbd_predict
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FloatArray, as_float_array

DAYS_PER_MONTH = 30.0
DAYS_PER_YEAR = 365.25


def simple_value(avg_spend: object, cycle_days: object, relationship_days: float) -> FloatArray:
    """Cv = S / t × T with t and T in days; NaN when the cycle is unknown (fewer than two purchases)."""
    s, t = np.broadcast_arrays(as_float_array(avg_spend), as_float_array(cycle_days))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 0, s / t * relationship_days, np.nan)
    return np.asarray(out, dtype=np.float64)


def annuity_factor(years: int, rate: float) -> float:
    """Σ_{t=1..n} 1/(1+i)^t."""
    return float(sum(1.0 / (1.0 + rate) ** t for t in range(1, years + 1)))


def discounted_cltv(annual_profit: object, retention: object, years: int, rate: float) -> FloatArray:
    """CLTV = Σ_{t=1..n} P_t/(1+i)^t with P_t = P₁ · r^(t−1): P₁ the profit of the last twelve
    months, r the yearly retention probability (NaN: held flat)."""
    p1, r = np.broadcast_arrays(as_float_array(annual_profit), as_float_array(retention))
    r = np.where(np.isfinite(r), r, 1.0)
    total = np.zeros(p1.shape)
    for t in range(1, years + 1):
        total = total + p1 * r ** (t - 1) / (1.0 + rate) ** t
    return np.asarray(total, dtype=np.float64)


def cltv_terms(
    annual_profit: float, retention: float | None, years: int, rate: float
) -> list[tuple[int, float, float]]:
    """(t, P_t, P_t/(1+i)^t) for each year of the discounted CLTV."""
    r = 1.0 if retention is None else retention
    return [
        (t, annual_profit * r ** (t - 1), annual_profit * r ** (t - 1) / (1.0 + rate) ** t) for t in range(1, years + 1)
    ]


def retention_years(retention: float | None, years: int) -> float:
    """Expected years of relationship within the horizon, the first counted: Σ_{t=1..n} r^(t−1)."""
    r = 1.0 if retention is None else retention
    return float(sum(r ** (t - 1) for t in range(1, years + 1)))


def yearly_retention(params: BgNbdParams, x: object, T: object, units_per_year: float) -> FloatArray:
    """A customer's probability of not dropping out over the next year, from BG/NBD: with dropout
    probability p after each purchase and purchases at rate λ (Poisson), survival over a year is
    exp(−p·λ·year); p and λ are taken at their posterior means a/(a+b+x) and (r+x)/(α+T)."""
    xs, ts = np.broadcast_arrays(as_float_array(x), as_float_array(T))
    p = params.a / (params.a + params.b + xs)
    lam = (params.r + xs) / (params.alpha + ts)
    return np.asarray(np.exp(-p * lam * units_per_year), dtype=np.float64)


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


LOSS_BASES = ("clv_before_loss", "yearly_profit_x_remaining_years")


def estimated_loss(
    lost: bool,
    clv_before_loss: float | None,
    yearly_profit: float | None,
    population_retention: float | None,
    years: int,
) -> tuple[float | None, str | None]:
    """(loss, basis) of a customer: none unless lost. The value the business expected from them
    before they were lost: their probabilistic CLV at the last scoring that did not find them lost,
    else their average yearly profit × the years a customer stays within the CLTV horizon at the
    population's retention rate (Σ_{t=1..n} r^(t−1))."""
    if not lost:
        return None, None
    if clv_before_loss is not None:
        return float(clv_before_loss), LOSS_BASES[0]
    if yearly_profit is None:
        return None, None
    return max(float(yearly_profit), 0.0) * retention_years(population_retention, years), LOSS_BASES[1]
