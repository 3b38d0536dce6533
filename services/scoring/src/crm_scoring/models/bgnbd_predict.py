"""Predictions of a fitted BG/NBD: P(alive) and expected purchases, for one-time buyers too.

One-time buyers. The BG/NBD lets a customer drop out only after a *repeat* purchase, so anyone
with frequency 0 gets P(alive) = 1 however long ago they bought, and a churn warning built on it
would call them safe. The rule used here (documented in the service README) gives them the
dropout-at-first-purchase allowance of the MBG/NBD (Batislam et al. 2007) with the BG/NBD's own
fitted parameters: had the customer been allowed to leave right after the first purchase with the
same dropout probability p ~ Beta(a, b), the posterior probability of being alive after T quiet
time units is

    P(alive | x = 0, T) = 1 / (1 + (a / b) · ((α + T) / α)^r),

which falls with T as it should. Their expected purchases are scaled by the same probability,
since the BG/NBD's conditional expectation for x = 0 is the expectation given alive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, hyp2f1

from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FloatArray, as_float_array


def _arrays(*values: object) -> tuple[FloatArray, ...]:
    arrays = np.broadcast_arrays(*(as_float_array(v) for v in values))
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


def _log_odds_dead(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """ln of (a/(b+x−1)) · ((α+T)/(α+t_x))^(r+x) for repeat buyers; −inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    safe_b = np.where(repeat, b + x - 1.0, 1.0)
    out = np.log(a) - np.log(safe_b) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, out, -np.inf)


def _one_time_alive(params: BgNbdParams, T: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    return np.asarray(expit(-(np.log(a) - np.log(b) + r * (np.log(alpha + T) - np.log(alpha)))), dtype=np.float64)


def p_alive(
    params: BgNbdParams, frequency: object, recency: object, T: object, *, one_time_rule: bool = True
) -> FloatArray:
    """Probability that each customer is still active at the end of the observation."""
    x, t_x, t = _arrays(frequency, recency, T)
    alive = expit(-_log_odds_dead(params, x, t_x, t))
    if one_time_rule:
        alive = np.where(x == 0, _one_time_alive(params, t), alive)
    return np.asarray(alive, dtype=np.float64)


def expected_purchases(
    params: BgNbdParams,
    horizon: object,
    frequency: object,
    recency: object,
    T: object,
    *,
    one_time_rule: bool = True,
) -> FloatArray:
    """E[purchases in (T, T + horizon] | x, t_x, T]."""
    t, x, t_x, big_t = _arrays(horizon, frequency, recency, T)
    alive = p_alive(params, x, t_x, big_t, one_time_rule=one_time_rule)
    out = np.where(t > 0, _given_alive(params, t, x, big_t) * alive, 0.0)
    return np.asarray(np.clip(out, 0.0, None), dtype=np.float64)


def expected_purchases_curve(
    params: BgNbdParams,
    horizons: Sequence[float],
    frequency: object,
    recency: object,
    T: object,
    *,
    one_time_rule: bool = True,
) -> list[FloatArray]:
    """`expected_purchases` at each horizon, for a whole population at once.

    Given alive, the expectation depends on x and T only, not on t_x; a population has few
    distinct (x, T) pairs (T counts whole days), so the hypergeometric function runs once per
    pair and horizon, and P(alive) once per customer.
    """
    x, t_x, big_t = _arrays(frequency, recency, T)
    alive = p_alive(params, x, t_x, big_t, one_time_rule=one_time_rule)
    x_values, x_index = np.unique(x, return_inverse=True)
    t_values, t_index = np.unique(big_t, return_inverse=True)
    pairs, inverse = np.unique(x_index * t_values.size + t_index, return_inverse=True)
    px, pt = x_values[pairs // t_values.size], t_values[pairs % t_values.size]
    curve = []
    for horizon in horizons:
        if horizon <= 0:
            curve.append(np.zeros_like(x))
            continue
        given_alive = _given_alive(params, np.full_like(px, horizon), px, pt)[inverse.reshape(x.shape)]
        curve.append(np.asarray(np.clip(given_alive * alive, 0.0, None), dtype=np.float64))
    return curve


def _given_alive(params: BgNbdParams, t: FloatArray, x: FloatArray, big_t: FloatArray) -> FloatArray:
    """E[purchases in (T, T + t] | alive, x, T].

    The Gauss hypergeometric term is used in its Euler-transformed form,
    ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; z) = ((α+T)/(α+T+t))^(a−1) 2F1(a+b−1−r, a−1; a+b+x−1; z),
    whose first two arguments do not grow with x: it stays finite for huge frequencies.
    """
    r, alpha, b = params.r, params.alpha, params.b
    a = params.a
    if abs(a - 1.0) < 1e-7:  # removable singularity of the closed form at a = 1
        a = 1.0 + 1e-7
    c = a + b + x - 1.0
    z = t / (alpha + big_t + t)
    with np.errstate(all="ignore"):
        tail = np.exp((a - 1.0) * (np.log(alpha + big_t) - np.log(alpha + big_t + t)))
        bracket = 1.0 - tail * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        given_alive = c / (a - 1.0) * bracket
        # scipy's series fails for some extreme parameter sets (first and third arguments large
        # and close, z near 1); there the expectation without dropout during the horizon, the
        # posterior purchase rate times the horizon, is used: an upper bound, and always finite.
        no_dropout = np.minimum((r + x) / (alpha + big_t) * t, np.finfo(np.float64).max)
        return np.asarray(np.where(np.isfinite(given_alive), given_alive, no_dropout), dtype=np.float64)
