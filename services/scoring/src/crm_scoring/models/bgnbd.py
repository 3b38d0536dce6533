"""BG/NBD (Fader, Hardie & Lee 2005): how many purchases, and is the customer still alive.

Inputs per customer, in one time unit (weeks by default): `frequency` x = repeat purchases,
`recency` t_x = age at the last purchase, `T` = age at the end of the observation.

The log-likelihood is split so that the costly special functions run once per distinct x and per
distinct T; only repeat buyers need per-row work, and that is one softplus:

    LL = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
         − (r+x) ln(α+T) + softplus(d),   d = ln a − ln(b+x−1) + (r+x) ln((α+T)/(α+t_x))   (x > 0)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from crm_scoring.models.fitting import (
    FitResult,
    FloatArray,
    as_float_array,
    distinct_rows,
    distinct_values,
    maximise_from,
    to_public,
    warm_start,
    wsum,
)

NAMES = ("r", "alpha", "a", "b")
_LOG_BOUND = 25.0  # exp(±25) keeps every parameter finite and positive
BLOCK = 65_536  # rows per block of the evaluation: 512 KiB per temporary


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


class _Data:
    """The fit's data, grouped once: by distinct x for everyone, by T for non-repeaters, and the
    repeat buyers' distinct (x, t_x, T) rows with their counts, each column coded by its distinct
    values so that logarithms and reciprocals of α + T, α + t_x and b + x − 1 run once per value."""

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> None:
        self.n = float(w.sum())
        zero = x == 0
        # integer indices: one boolean mask applied to six columns costs several times more
        nonrepeat, rep = np.flatnonzero(zero), np.flatnonzero(~zero)
        self.t0_values, t0_index = distinct_values(T.take(nonrepeat))
        self.t0_weights = np.bincount(t0_index, weights=w.take(nonrepeat), minlength=self.t0_values.size)
        rows = distinct_rows(x.take(rep), t_x.take(rep), T.take(rep), weights=w.take(rep))
        (self.xv, self.tv, self.Tv), (self.xi, self.ti, self.Ti) = rows.values, rows.codes
        self.w, self.x = rows.weights, rows.column(0)
        # distinct rows come sorted by x: sums per x are sums over contiguous segments
        self.x_starts = np.flatnonzero(np.r_[True, self.xi[1:] != self.xi[:-1]]) if self.xi.size else self.xi
        self.x_segments = self.xi[self.x_starts]
        self.scratch = np.empty(self.w.size)
        self.w_T = np.bincount(self.Ti, weights=self.w, minlength=self.Tv.size)
        self.wx_T = np.bincount(self.Ti, weights=self.w * self.x, minlength=self.Tv.size)
        # terms in x alone, for everyone: x = 0 and the repeaters' distinct x
        repeat_weights = np.bincount(self.xi, weights=self.w, minlength=self.xv.size)
        self.x_values = np.concatenate([[0.0], self.xv]) if zero.any() else self.xv
        self.x_weights = (
            np.concatenate([[float(w.take(nonrepeat).sum())], repeat_weights]) if zero.any() else repeat_weights
        )
        self.n_unique = int(self.t0_values.size + self.w.size)
        self.blocks = [slice(i, i + BLOCK) for i in range(0, self.w.size, BLOCK)]


def _neg_loglik_and_grad(log_params: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    r, alpha, a, b = np.exp(log_params)
    xv, xw = d.x_values, d.x_weights
    ll = wsum(xw, gammaln(r + xv) - gammaln(r) + betaln(a, b + xv) - betaln(a, b)) + d.n * r * np.log(alpha)
    g_r = wsum(xw, digamma(r + xv) - digamma(r)) + d.n * np.log(alpha)
    g_alpha = d.n * r / alpha
    g_a = wsum(xw, digamma(a + b) - digamma(a + b + xv))
    g_b = wsum(xw, digamma(b + xv) - digamma(a + b + xv) - digamma(b) + digamma(a + b))

    log_t0 = np.log(alpha + d.t0_values)
    ll -= r * wsum(d.t0_weights, log_t0)
    g_r -= wsum(d.t0_weights, log_t0)
    g_alpha -= r * wsum(d.t0_weights, 1.0 / (alpha + d.t0_values))

    if d.w.size:
        log_T, inv_T = np.log(alpha + d.Tv), 1.0 / (alpha + d.Tv)  # per distinct T
        log_t, inv_t = np.log(alpha + d.tv), 1.0 / (alpha + d.tv)  # per distinct t_x
        bx = b + d.xv - 1.0  # per distinct x
        head = np.log(a) - np.log(bx)
        # per row, block by block: a block's temporaries stay in the CPU cache
        sum_softplus = sum_ratio = sum_inv = 0.0
        for block in d.blocks:
            w, xi, ti, Ti = d.w[block], d.xi[block], d.ti[block], d.Ti[block]
            rx = r + d.x[block]
            log_ratio = log_T.take(Ti)
            log_ratio -= log_t.take(ti)
            z = rx * log_ratio
            z += head.take(xi)
            # softplus(z) and sigmoid(z) from one exponential, stable for either sign of z
            e = np.abs(z)
            np.negative(e, out=e)
            np.exp(e, out=e)
            softplus = np.log1p(e)
            softplus += np.maximum(z, 0.0)
            # w · posterior weight of "left after the last purchase", kept for the sums per x
            w4 = np.divide(np.where(z >= 0, 1.0, e), e + 1.0, out=d.scratch[block])
            w4 *= w
            sum_softplus += float(np.einsum("i,i->", w, softplus))
            sum_ratio += float(np.einsum("i,i->", w4, log_ratio))
            inv = inv_t.take(ti)
            inv -= inv_T.take(Ti)
            sum_inv += float(np.einsum("i,i->", np.multiply(w4, rx, out=rx), inv))
        w4_x = np.zeros(bx.size)
        w4_x[d.x_segments] = np.add.reduceat(d.scratch, d.x_starts)
        sum_w4 = float(w4_x.sum())
        # Σ w (r + x) f(T) = r Σ_T w_T f(T) + Σ_T (wx)_T f(T)
        sum_log_T = wsum(d.w_T, log_T)
        ll += sum_softplus - r * sum_log_T - wsum(d.wx_T, log_T)
        g_r -= sum_log_T - sum_ratio
        g_alpha -= r * wsum(d.w_T, inv_T) + wsum(d.wx_T, inv_T) + sum_inv
        g_a += sum_w4 / a
        g_b -= wsum(w4_x, 1.0 / bx)

    grad = np.array([g_r, g_alpha, g_a, g_b]) * np.exp(log_params)
    return -ll, -grad


def prepare(
    frequency: object, recency: object, T: object, weights: object | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    x, t_x, t = as_float_array(frequency), as_float_array(recency), as_float_array(T)
    w = np.ones_like(x) if weights is None else as_float_array(weights)
    if not (x.shape == t_x.shape == t.shape == w.shape):
        raise ValueError("frequency, recency, T and weights must have the same length")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > t) or np.any((x == 0) & (t_x != 0)):
        raise ValueError("need 0 ≤ recency ≤ T, and recency = 0 when frequency = 0")
    return x, t_x, t, w


def log_likelihood(params: BgNbdParams, frequency: object, recency: object, T: object) -> float:
    x, t_x, t, w = prepare(frequency, recency, T)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    return -_neg_loglik_and_grad(log_params, _Data(x, t_x, t, w))[0]


def fit(
    frequency: object,
    recency: object,
    T: object,
    weights: object | None = None,
    *,
    max_iter: int = 2000,
    start_from: Mapping[str, float] | None = None,
) -> FitResult:
    """Maximum likelihood in log-parameter space (`fitting.maximise`), on distinct rows weighted by
    count. `start_from` (an earlier fit's parameters) starts the search there: the same optimum,
    in fewer steps when the population changed little."""
    started = time.perf_counter()
    x, t_x, t, w = prepare(frequency, recency, T, weights)
    if x.size == 0 or w.sum() <= 0:
        raise ValueError("no customers to fit")
    data = _Data(x, t_x, t, w)
    optimum = maximise_from(
        lambda p: _neg_loglik_and_grad(p, data),
        warm_start(start_from, NAMES, _LOG_BOUND),
        lambda: np.array([0.0, np.log(max(float(np.average(t, weights=w)), 1e-3)), 0.0, 0.0]),
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
        n_unique_rows=data.n_unique,
        seconds=time.perf_counter() - started,
        message=optimum.message,
    )


def params_of(result: FitResult) -> BgNbdParams:
    p = result.params
    return BgNbdParams(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"])
