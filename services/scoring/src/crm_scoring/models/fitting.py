"""What every maximum-likelihood fit here shares: the result record and the standard errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FitResult:
    """Parameters in the model's own space, with their standard errors (None when not estimable)."""

    params: dict[str, float]
    standard_errors: dict[str, float | None]
    log_likelihood: float
    converged: bool
    iterations: int
    n_observations: int
    n_unique_rows: int
    seconds: float
    message: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def log_space_standard_errors(
    gradient: Callable[[FloatArray], FloatArray], log_params: FloatArray, step: float = 1e-6
) -> FloatArray:
    """Standard errors in the original space from the Hessian of the negative log-likelihood.

    `gradient` is the analytic gradient of the total negative log-likelihood in log-parameter
    space; its central differences give the Hessian there. The covariance of log θ is its inverse,
    and the delta method maps it back: se(θ) = θ · se(log θ). NaN where the Hessian is not
    positive definite (a parameter at a boundary or not identified by the data).
    """
    k = log_params.size
    hessian = np.empty((k, k))
    at = gradient(log_params)
    for j in range(k):
        bump = np.zeros(k)
        bump[j] = step
        # forward differences: half the gradient evaluations; O(step) error is far below the SE
        hessian[:, j] = (gradient(log_params + bump) - at) / step
    hessian = (hessian + hessian.T) / 2
    try:
        np.linalg.cholesky(hessian)
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full(k, np.nan)
    variances = np.diag(covariance)
    with np.errstate(invalid="ignore"):
        return np.where(variances > 0, np.exp(log_params) * np.sqrt(variances), np.nan)


def unique_rows(*columns: FloatArray, weights: FloatArray | None = None) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows into one row carrying the summed weight (the likelihood is a sum).

    Each column is first replaced by its rank among the column's distinct values; the ranks make one
    integer key per row, so a single integer `unique` finds the distinct rows (much faster than a
    lexicographic sort of the float columns).
    """
    w = np.ones(columns[0].shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if columns[0].shape[0] == 0:
        return [np.asarray(c, dtype=np.float64) for c in columns], w
    key = np.zeros(columns[0].shape[0], dtype=np.int64)
    values = []
    for column in columns:
        distinct, codes = np.unique(column, return_inverse=True)
        values.append(distinct)
        key = key * distinct.size + codes
    distinct_keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inverse, weights=w, minlength=distinct_keys.size).astype(np.float64)
    return [np.asarray(c, dtype=np.float64)[first] for c in columns], counts


def wsum(weights: NDArray[Any], values: NDArray[Any]) -> float:
    """Σ w·v without BLAS: on small vectors the BLAS call costs more than the sum."""
    return float(np.sum(weights * values))


def as_float_array(values: object) -> FloatArray:
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def to_public(values: FloatArray, names: tuple[str, ...]) -> dict[str, float | None]:
    return {n: (None if not np.isfinite(v) else float(v)) for n, v in zip(names, values, strict=True)}


def labels(
    conditions: Sequence[NDArray[np.bool_]], choices: Sequence[str | None], default: str | None = None
) -> NDArray[np.object_]:
    """Like np.select for text labels, with None allowed: the first true condition wins."""
    out = np.full(np.shape(conditions[0]), default, dtype=object)
    for condition, choice in zip(reversed(conditions), reversed(choices), strict=True):
        out[np.asarray(condition, dtype=bool)] = choice
    return out
