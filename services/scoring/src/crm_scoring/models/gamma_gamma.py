"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005b): average spend per purchase.

Fitted on repeat buyers only: x = number of repeat purchases, m = their mean value (first
purchase excluded, same-day purchases summed). Per customer,

    LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ + m x).

Terms in x alone are computed once per distinct x, terms linear in the parameters are pre-summed,
so each evaluation costs one logarithm per row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from crm_scoring.models.fitting import (
    FitResult,
    FloatArray,
    as_float_array,
    distinct_values,
    maximise_from,
    to_public,
    warm_start,
    wsum,
)

NAMES = ("p", "q", "gamma")
_LOG_BOUND = 25.0
BLOCK = 65_536  # rows per block of the evaluation: 512 KiB per temporary


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


class _Data:
    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.mx, self.w = m * x, w
        self.n = float(w.sum())
        self.x_values, index = distinct_values(x)
        self.x_weights = np.bincount(index, weights=w, minlength=self.x_values.size)
        log_m, log_x = np.log(m), np.log(x)
        self.wx = w * x
        self.sum_x_log_mx = wsum(self.wx, log_m + log_x)
        self.sum_log_m = wsum(w, log_m)
        self.unit = bool(np.all(w == 1.0))  # then Σ w·v is Σ v
        self.blocks = [slice(i, i + BLOCK) for i in range(0, x.size, BLOCK)]


def _neg_loglik_and_grad(log_params: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    p, q, gamma = np.exp(log_params)
    xv, xw = d.x_values, d.x_weights
    px = p * xv
    # per row, block by block: log(γ + m x) and its reciprocal, weighted by w and by w x
    sum_wx_log = sum_w_log = sum_wx_inv = sum_w_inv = 0.0
    for block in d.blocks:
        shifted = gamma + d.mx[block]
        inv = np.reciprocal(shifted)
        log_gm = np.log(shifted, out=shifted)
        wx = d.wx[block]
        sum_wx_log += float(np.einsum("i,i->", wx, log_gm))
        sum_wx_inv += float(np.einsum("i,i->", wx, inv))
        if d.unit:
            sum_w_log += float(log_gm.sum())
            sum_w_inv += float(inv.sum())
        else:
            w = d.w[block]
            sum_w_log += float(np.einsum("i,i->", w, log_gm))
            sum_w_inv += float(np.einsum("i,i->", w, inv))
    ll = wsum(xw, gammaln(px + q) - gammaln(px)) - d.n * gammaln(q) + d.n * q * np.log(gamma)
    ll += p * d.sum_x_log_mx - d.sum_log_m - p * sum_wx_log - q * sum_w_log
    g_p = wsum(xw, xv * (digamma(px + q) - digamma(px))) + d.sum_x_log_mx - sum_wx_log
    g_q = wsum(xw, digamma(px + q)) - d.n * digamma(q) + d.n * np.log(gamma) - sum_w_log
    g_gamma = d.n * q / gamma - p * sum_wx_inv - q * sum_w_inv
    grad = np.array([g_p, g_q, g_gamma]) * np.exp(log_params)
    return -ll, -grad


def prepare(
    frequency: object, monetary: object, weights: object | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, m = as_float_array(frequency), as_float_array(monetary)
    w = np.ones_like(x) if weights is None else as_float_array(weights)
    keep = np.flatnonzero((x > 0) & (m > 0) & np.isfinite(m) & (w > 0))
    return x.take(keep), m.take(keep), w.take(keep)


def log_likelihood(params: GammaGammaParams, frequency: object, monetary: object) -> float:
    x, m, w = prepare(frequency, monetary)
    log_params = np.log([params.p, params.q, params.gamma])
    return -_neg_loglik_and_grad(log_params, _Data(x, m, w))[0]


def fit(
    frequency: object,
    monetary: object,
    weights: object | None = None,
    *,
    max_iter: int = 2000,
    start_from: Mapping[str, float] | None = None,
) -> FitResult:
    """Fit on the repeat buyers among the rows given (others are ignored, as the model requires);
    `start_from` as in `bgnbd.fit`."""
    started = time.perf_counter()
    x, m, w = prepare(frequency, monetary, weights)
    if x.size == 0:
        raise ValueError("no repeat buyers with a positive spend to fit the spend model on")
    # no grouping into distinct rows: average spends are continuous and rarely repeat, so sorting
    # them would cost more (0.45 s for a million) than the evaluations it could save
    data = _Data(x, m, w)
    mean_spend = float(np.average(m, weights=w))
    optimum = maximise_from(
        lambda p: _neg_loglik_and_grad(p, data),
        warm_start(start_from, NAMES, _LOG_BOUND),
        lambda: np.array([0.0, np.log(2.0), np.log(max(mean_spend, 1e-6))]),
        data.n,
        bound=_LOG_BOUND,
        max_iter=max_iter,
    )
    return FitResult(
        params={n: float(v) for n, v in zip(NAMES, np.exp(optimum.log_params), strict=True)},
        standard_errors=to_public(optimum.standard_errors, NAMES),
        log_likelihood=-optimum.neg_log_likelihood,
        converged=optimum.converged,
        iterations=optimum.iterations,
        n_observations=round(data.n),
        n_unique_rows=int(x.size),
        seconds=time.perf_counter() - started,
        message=optimum.message,
    )


def params_of(result: FitResult) -> GammaGammaParams:
    return GammaGammaParams(p=result.params["p"], q=result.params["q"], gamma=result.params["gamma"])


def expected_average_spend(params: GammaGammaParams, frequency: object, monetary: object) -> FloatArray:
    """E[spend per purchase | x, m]: a credibility-weighted mix of the population mean and m.

    With q ≤ 1 the population mean does not exist; the customer's own mean is used then. Customers
    with no repeat purchase get the population mean.
    """
    x, m = np.broadcast_arrays(as_float_array(frequency), as_float_array(monetary))
    p, q, gamma = params.p, params.q, params.gamma
    if q <= 1.0:
        return np.asarray(np.where(x > 0, m, np.nan), dtype=np.float64)
    population = gamma * p / (q - 1.0)
    weight = p * x / (p * x + q - 1.0)
    own = np.where(x > 0, m, 0.0)
    return np.asarray(weight * own + (1.0 - weight) * population, dtype=np.float64)
