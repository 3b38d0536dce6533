"""Holdout validation of BG/NBD and Gamma-Gamma, as Fader, Hardie & Lee (2005) do it.

A backtest fits on the calibration period (up to `as_of`) and predicts the holdout period
(`as_of`, `holdout_until`]; these functions compare the predictions with what happened:
- conditional expectations per calibration frequency class (0, 1, … 6, 7+), with counts;
- the tracking curve: cumulative repeat purchases week by week over calibration and holdout,
  predicted as Σ_i E[X(t − s_i)] (the unconditional expectation from each customer's first
  purchase s_i) against the actual count;
- Gamma-Gamma: predicted against actual average spend of those who bought in the holdout;
- error measures per customer: mean absolute error, aggregate error in percent, correlation.

Predictions are the plain BG/NBD conditional expectation (the literature's), and alongside it the
card's, which adds the dropout-at-first-purchase allowance for one-time buyers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import hyp2f1

from crm_scoring.models import bgnbd_predict, gamma_gamma
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FloatArray, as_float_array
from crm_scoring.models.gamma_gamma import GammaGammaParams

TOP_CLASS = 7  # frequency classes 0 … 6 and 7+


def expected_unconditional(params: BgNbdParams, t: object) -> FloatArray:
    """E[X(t)]: expected repeat purchases in the first t time units after the first purchase,
    (a+b−1)/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))]."""
    ts = as_float_array(t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-7:
        a = 1.0 + 1e-7
    with np.errstate(all="ignore"):
        out = (
            (a + b - 1.0)
            / (a - 1.0)
            * (1.0 - (alpha / (alpha + ts)) ** r * hyp2f1(r, b, a + b - 1.0, ts / (alpha + ts)))
        )
    return np.asarray(np.where(ts > 0, np.clip(out, 0.0, None), 0.0), dtype=np.float64)


def _errors(predicted: FloatArray, actual: FloatArray) -> dict[str, float | None]:
    total = float(actual.sum())
    spread = predicted.std() > 0 and actual.std() > 0
    return {
        "mean_absolute_error": float(np.abs(predicted - actual).mean()) if actual.size else None,
        "aggregate_error_percent": (float(predicted.sum()) - total) / total * 100.0 if total > 0 else None,
        "correlation": float(np.corrcoef(predicted, actual)[0, 1]) if spread else None,
    }


@dataclass(frozen=True)
class Timeline:
    """The cohort's days for the tracking plot: each customer's first purchase day and the cohort's
    repeat purchase days per day, as date ordinals, with the calibration end and the holdout end."""

    first_day: FloatArray
    repeat_days_by_day: dict[int, int]
    as_of_day: int
    until_day: int
    days_per_unit: float


def validate(
    *,
    bgnbd: BgNbdParams,
    gg: GammaGammaParams | None,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    repeat_mean: FloatArray,
    holdout_length: float,
    holdout_days: FloatArray,
    holdout_spend: FloatArray,
    timeline: Timeline,
) -> dict[str, Any]:
    """The validation of a calibration cohort (buyers up to `as_of`); time in model units.
    `holdout_days`/`holdout_spend`: each customer's purchase days and spend in the holdout."""
    plain = bgnbd_predict.expected_purchases(bgnbd, holdout_length, x, t_x, T, one_time_rule=False)
    card = bgnbd_predict.expected_purchases(bgnbd, holdout_length, x, t_x, T)
    classes = np.minimum(x, TOP_CLASS).astype(int)
    by_class = []
    for k in range(TOP_CLASS + 1):
        members = classes == k
        n = int(members.sum())
        by_class.append(
            {
                "frequency": f"{k}+" if k == TOP_CLASS else str(k),
                "customers": n,
                "actual_purchases": int(holdout_days[members].sum()),
                "actual_mean": float(holdout_days[members].mean()) if n else None,
                "predicted_mean": float(plain[members].mean()) if n else None,
                "predicted_mean_with_one_time_rule": float(card[members].mean()) if n else None,
            }
        )
    return {
        "customers": int(x.size),
        "holdout_length": holdout_length,
        "by_frequency": by_class,
        "tracking": _tracking(bgnbd, timeline),
        "spend": _spend(gg, x, repeat_mean, holdout_days, holdout_spend),
        "errors": _errors(plain, holdout_days),
        "errors_with_one_time_rule": _errors(card, holdout_days),
        "actual_total": int(holdout_days.sum()),
        "predicted_total": float(plain.sum()),
    }


def _tracking(params: BgNbdParams, timeline: Timeline) -> dict[str, Any]:
    first_day, repeat_days_by_day, until_day = timeline.first_day, timeline.repeat_days_by_day, timeline.until_day
    days_per_unit = timeline.days_per_unit
    if not first_day.size:
        return {"calibration_weeks": 0, "points": []}
    start = int(first_day.min())
    firsts, counts = np.unique(first_day, return_counts=True)
    days = np.array(sorted(repeat_days_by_day), dtype=np.int64)
    per_day = np.array([repeat_days_by_day[d] for d in days], dtype=np.float64)
    points = []
    week = 0
    while True:
        week += 1
        end = min(start + 7 * week, until_day)
        elapsed = (end - firsts) / days_per_unit
        predicted = float((expected_unconditional(params, elapsed) * counts).sum())
        actual = float(per_day[days <= end].sum()) if days.size else 0.0
        points.append({"week": week, "day": end, "actual": actual, "predicted": predicted})
        if end >= until_day:
            break
    return {"calibration_weeks": (timeline.as_of_day - start) / 7.0, "points": points}


def _spend(
    gg: GammaGammaParams | None, x: FloatArray, repeat_mean: FloatArray, holdout_days: FloatArray, spend: FloatArray
) -> dict[str, Any] | None:
    if gg is None:
        return None
    bought = holdout_days > 0
    if not bought.any():
        return {"customers": 0, "actual_mean": None, "predicted_mean": None}
    predicted = gamma_gamma.expected_average_spend(gg, x[bought], repeat_mean[bought])
    actual = spend[bought] / holdout_days[bought]
    known = np.isfinite(predicted)
    return {
        "customers": int(bought.sum()),
        "actual_mean": float(actual.mean()),
        "predicted_mean": float(predicted[known].mean()) if known.any() else None,
    }
