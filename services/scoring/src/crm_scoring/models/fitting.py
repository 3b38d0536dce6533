"""What every maximum-likelihood fit here shares: the result record and the standard errors."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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


def quality(fit: dict[str, Any] | None) -> dict[str, Any]:
    """Whether a stored fit (`FitResult` as a dict) can be relied on, and why not: it did not
    converge, or a parameter's standard error is not estimable or exceeds the estimate itself."""
    if fit is None:
        return {"quality": "no_model", "reasons": ["the model could not be fitted (too few buyers)"]}
    reasons = [] if fit["converged"] else [f"the fit did not converge ({fit.get('message') or 'no message'})"]
    for name, estimate in fit["params"].items():
        se = fit["standard_errors"].get(name)
        if se is None or not np.isfinite(se):
            reasons.append(f"the standard error of {name} is not estimable")
        elif se > abs(estimate):
            reasons.append(f"the standard error of {name} ({se:.4g}) exceeds its estimate ({estimate:.4g})")
    return {"quality": "unreliable" if reasons else "reliable", "reasons": reasons}


# A line search stops when it can no longer lower the objective in floating point. At the optimum
# that happens depending on the CPU's rounding (L-BFGS-B did so on the CDNOW data on some AMD
# machines, 2e-8 from the optimum): a per-observation gradient this small is converged.
CONVERGED_GRADIENT = 1e-6


def log_space_hessian(
    gradient: Callable[[FloatArray], FloatArray], log_params: FloatArray, at: FloatArray, step: float = 1e-6
) -> FloatArray:
    """The Hessian of the negative log-likelihood in log-parameter space, by forward differences
    of its analytic `gradient` (`at` is the gradient at `log_params`), symmetrised: half the
    gradient evaluations of central differences, and the O(step) error is far below the SE."""
    k = log_params.size
    hessian = np.empty((k, k))
    for j in range(k):
        bump = np.zeros(k)
        bump[j] = step
        hessian[:, j] = (gradient(log_params + bump) - at) / step
    return (hessian + hessian.T) / 2


def standard_errors(hessian: FloatArray, log_params: FloatArray) -> FloatArray:
    """Standard errors in the original space: the covariance of log θ is the inverse Hessian, and
    the delta method maps it back, se(θ) = θ · se(log θ). NaN where the Hessian is not positive
    definite (a parameter at a boundary or not identified by the data)."""
    try:
        np.linalg.cholesky(hessian)
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full(log_params.size, np.nan)
    variances = np.diag(covariance)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.where(variances > 0, np.exp(log_params) * np.sqrt(variances), np.nan))


@dataclass(frozen=True)
class Minimum:
    x: FloatArray
    fun: float
    jac: FloatArray
    nit: int
    success: bool
    message: str


def quasi_newton(
    fun: Callable[[FloatArray], tuple[float, FloatArray]],
    start: FloatArray,
    *,
    bound: float,
    max_iter: int,
    gtol: float,
    ftol: float = 1e-14,
) -> Minimum:
    """BFGS within the box ±`bound`, with a backtracking (Armijo) line search.

    Used instead of scipy's L-BFGS-B, whose BLAS calls on these tiny arrays woke OpenBLAS threads:
    on two shared cores those cost 0.1 s and more per fit and competed with the evaluations. It
    takes a few more evaluations here (27 against 20 for the BG/NBD on a million customers) and
    no time between them. A parameter on a bound whose gradient pushes it
    outwards is held there. Stops when the projected gradient is at most `gtol` or an iteration
    lowers the objective by a relative `ftol` or less.
    """
    k = start.size
    x = np.clip(np.asarray(start, dtype=np.float64), -bound, bound)
    f, g = fun(x)
    inverse = np.eye(k)
    for iteration in range(max_iter):
        free = ~(((x <= -bound) & (g > 0)) | ((x >= bound) & (g < 0)))
        projected = np.where(free, g, 0.0)
        if float(np.max(np.abs(projected))) <= gtol:
            return Minimum(x, f, g, iteration, True, "projected gradient below gtol")
        direction = np.where(free, -(inverse @ projected), 0.0)
        slope = float(projected @ direction)
        if not slope < 0:  # not a descent direction: start the curvature estimate afresh
            inverse = np.eye(k)
            direction, slope = -projected, -float(projected @ projected)
        step = 1.0 if iteration else min(1.0, 1.0 / float(np.max(np.abs(projected))))
        for _ in range(30):
            candidate = np.clip(x + step * direction, -bound, bound)
            f_new, g_new = fun(candidate)
            decrease = min(float(g @ (candidate - x)), 0.0)  # a step cut by the bounds may not climb
            if np.isfinite(f_new) and np.all(np.isfinite(g_new)) and f_new <= f + 1e-4 * decrease:
                break
            if np.isfinite(f_new) and f_new > f:  # the minimum of the quadratic through f, slope, f_new
                step *= min(0.5, max(0.1, -slope * step / (2 * (f_new - f - slope * step))))
            else:
                step *= 0.25
        else:
            return Minimum(x, f, g, iteration, False, "the line search could not lower the objective")
        s, y = candidate - x, g_new - g
        ys = float(y @ s)
        if ys > 1e-12 * float(np.linalg.norm(y) * np.linalg.norm(s)):
            if iteration == 0:
                inverse *= ys / float(y @ y)  # the initial curvature scale
            rho = 1.0 / ys
            v = np.eye(k) - rho * np.outer(s, y)
            inverse = v @ inverse @ v.T + rho * np.outer(s, s)
        reduction = f - f_new
        x, f, g = candidate, f_new, g_new
        if reduction <= ftol * max(abs(f), 1.0):
            return Minimum(x, f, g, iteration + 1, True, "relative reduction of the objective below ftol")
    return Minimum(x, f, g, max_iter, False, "iteration limit reached")


@dataclass(frozen=True)
class Optimum:
    log_params: FloatArray
    neg_log_likelihood: float
    standard_errors: FloatArray
    converged: bool
    iterations: int
    message: str


# a warm start that has not converged in this many steps is on a flat ridge of the likelihood,
# where it can wander for long: the fit starts again from the usual point instead
WARM_MAX_ITER = 25


def maximise_from(
    neg_loglik_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    warm: FloatArray | None,
    cold: Callable[[], FloatArray],
    n: float,
    *,
    bound: float,
    max_iter: int,
) -> Optimum:
    """`maximise` from `warm` (an earlier optimum) for at most `WARM_MAX_ITER` steps, else, or if
    that does not converge, from the usual start `cold()`."""
    if warm is not None:
        optimum = maximise(neg_loglik_and_grad, warm, n, bound=bound, max_iter=min(max_iter, WARM_MAX_ITER))
        if optimum.converged:
            return optimum
    return maximise(neg_loglik_and_grad, cold(), n, bound=bound, max_iter=max_iter)


def warm_start(params: Mapping[str, float] | None, names: Sequence[str], bound: float) -> FloatArray | None:
    """An earlier fit's parameters as a starting point in log space, if they make one (all named,
    positive, finite and inside the bounds); None otherwise."""
    if not params:
        return None
    try:
        values = np.array([float(params[name]) for name in names])
    except (KeyError, TypeError, ValueError):
        return None
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        return None
    logs = np.log(values)
    return logs if np.all(np.abs(logs) < bound - 1e-6) else None


# The quasi-Newton method stops at this per-observation gradient; the Newton step with the Hessian
# the standard errors need anyway then lands on the optimum to rounding, in one evaluation instead
# of the several a quasi-Newton method takes for the last digits.
_GTOL = 1e-7


def maximise(
    neg_loglik_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    start: FloatArray,
    n: float,
    *,
    bound: float,
    max_iter: int,
) -> Optimum:
    """Maximum likelihood in log-parameter space within ±`bound`, with standard errors.

    `quasi_newton` minimises the per-observation objective (which keeps its tolerances
    meaningful) close to the optimum; one Newton step with the finite-difference Hessian finishes
    it and is kept when it lowers the objective. The gradient at the point the quasi-Newton
    method ends on is reused for that Hessian.
    """
    scale = 1.0 / n
    seen: dict[bytes, tuple[float, FloatArray]] = {}

    def objective(p: FloatArray) -> tuple[float, FloatArray]:
        value, grad = neg_loglik_and_grad(p)
        seen.clear()
        seen[p.tobytes()] = (value, grad)
        return value * scale, grad * scale

    result = quasi_newton(objective, start, bound=bound, max_iter=max_iter, gtol=_GTOL)
    log_params = np.asarray(result.x, dtype=np.float64)
    value, grad = seen.get(log_params.tobytes()) or neg_loglik_and_grad(log_params)
    hessian = log_space_hessian(lambda p: neg_loglik_and_grad(p)[1], log_params, grad)
    ses = standard_errors(hessian, log_params)
    polished = False
    if np.all(np.isfinite(ses)) and np.all(np.isfinite(grad)):
        candidate = log_params - np.linalg.solve(hessian, grad)
        if np.all(np.abs(candidate) < bound - 1e-6):
            new_value, new_grad = neg_loglik_and_grad(candidate)
            # this close to the optimum the values differ in their last digits only: a smaller
            # gradient at a value no worse than rounding decides then
            flat = new_value <= value + 1e-13 * abs(value) and np.max(np.abs(new_grad)) < np.max(np.abs(grad))
            if new_value < value or flat:
                log_params, value, grad, polished = candidate, new_value, new_grad, True
                ses = standard_errors(hessian, log_params)
    at_bound = bool(np.any(np.abs(log_params) >= bound - 1e-6))
    small_gradient = bool(np.all(np.isfinite(grad))) and float(np.max(np.abs(grad))) * scale <= CONVERGED_GRADIENT
    return Optimum(
        log_params=log_params,
        neg_log_likelihood=float(value),
        standard_errors=ses,
        converged=not at_bound and (bool(result.success) or small_gradient),
        iterations=int(result.nit) + polished,
        message=str(result.message) + (" (a parameter reached its bound)" if at_bound else ""),
    )


@dataclass(frozen=True)
class Distinct:
    """Identical rows collapsed into one carrying the summed weight (the likelihood is a sum).

    Row k holds `values[j][codes[j][k]]` in column j: a function of one column can be computed
    once per distinct value of that column and gathered with the codes.
    """

    values: list[FloatArray]
    codes: list[NDArray[np.intp]]
    weights: FloatArray

    def column(self, j: int) -> FloatArray:
        return self.values[j][self.codes[j]]


def _grid_values(column: FloatArray) -> tuple[FloatArray, NDArray[np.intp]] | None:
    """`np.unique(column, return_inverse=True)` without sorting, when the values lie on a grid
    (counts, times in whole days): the grid step is the least gap between distinct values of a
    sample, each value's grid index k = rint((v − min) / step) is a monotone function of the value,
    and it is checked to determine the value (every row's value equals the one stored for its
    index), so distinct indices are distinct values in the same order. None when this fails."""
    n = column.shape[0]
    lo, hi = float(column.min()), float(column.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    if lo == hi:
        return column[:1].copy(), np.zeros(n, dtype=np.intp)
    sample = np.unique(column[:: max(1, n // 8192)])
    if sample.size < 2:
        return None
    step = float(np.min(np.diff(sample)))
    span = np.rint((hi - lo) / step)
    if not span < 4 * n + 4096:  # a grid this fine would cost more than sorting
        return None
    index = np.rint((column - lo) / step).astype(np.intp)
    stored = np.empty(int(span) + 1)
    stored[index] = column
    if not np.array_equal(stored[index], column):
        return None
    present = np.bincount(index, minlength=stored.size).astype(bool)
    rank = np.cumsum(present) - 1
    return stored[present], rank[index]


def distinct_values(column: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """The column's sorted distinct values and each row's rank among them."""
    values = np.asarray(column, dtype=np.float64)
    if values.shape[0] >= 1024:  # below that, sorting is as fast
        on_grid = _grid_values(values)
        if on_grid is not None:
            return on_grid
    distinct, code = np.unique(values, return_inverse=True)
    return distinct, code.reshape(values.shape[0])


def distinct_rows(*columns: FloatArray, weights: FloatArray | None = None) -> Distinct:
    """Each column is replaced by its rank among the column's distinct values; the ranks make one
    integer key per row, so a single integer sort finds the distinct rows (much faster than a
    lexicographic sort of the float columns). With unit weights the sorted keys alone give the
    rows and their counts; otherwise, or when the key space passes 2⁶³, the keys are re-ranked.
    Either way the rows come in lexicographic order of their values, the first column first."""
    n = columns[0].shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    values, codes = [], []
    for column in columns:
        distinct, code = distinct_values(column)
        values.append(distinct)
        codes.append(code)
    sizes = [max(v.size, 1) for v in values]
    if math.prod(sizes) < 2**62 and n and bool(np.all(w == 1.0)):
        key = codes[0].astype(np.int64)
        for code, size in zip(codes[1:], sizes[1:], strict=True):
            key = key * size + code
        key.sort()
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.not_equal(key[1:], key[:-1], out=change[1:])
        starts = np.flatnonzero(change)
        counts = np.diff(np.append(starts, n)).astype(np.float64)
        distinct_keys = key[starts]
        row_codes = []
        for size in reversed(sizes[1:]):
            distinct_keys, code = np.divmod(distinct_keys, size)
            row_codes.append(code.astype(np.intp))
        row_codes.append(distinct_keys.astype(np.intp))
        return Distinct(values=values, codes=row_codes[::-1], weights=counts)
    key = np.zeros(n, dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        if key.size and int(key.max()) >= np.iinfo(np.int64).max // size:
            key = np.unique(key, return_inverse=True)[1].reshape(n).astype(np.int64)  # re-rank: no overflow
        key = key * size + code
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.reshape(n), weights=w, minlength=first.size).astype(np.float64)
    return Distinct(values=values, codes=[code[first] for code in codes], weights=counts)


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
