"""The fits' split, grouped and block-wise likelihoods against the formulas evaluated per customer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from crm_scoring.models import bgnbd, fitting, gamma_gamma


def _bgnbd_reference(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> float:
    """FHL 2005 eq. (6), one term per customer, no grouping."""
    r, alpha, a, b = np.exp(log_params)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    head -= (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        d = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * np.log((alpha + T) / (alpha + t_x))
    tail = np.where(x > 0, np.logaddexp(0.0, np.where(x > 0, d, 0.0)), 0.0)
    return float(np.sum(w * (head + tail)))


def _gamma_gamma_reference(log_params: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    p, q, gamma = np.exp(log_params)
    px = p * x
    ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma) + (px - 1) * np.log(m) + px * np.log(x)
    ll -= (px + q) * np.log(gamma + m * x)
    return float(np.sum(w * ll))


def _central_gradient(f: object, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    grad = np.empty(point.size)
    for j in range(point.size):
        bump = np.zeros(point.size)
        bump[j] = step
        grad[j] = (f(point + bump) - f(point - bump)) / (2 * step)  # type: ignore[operator]
    return grad


def _customers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    T = rng.uniform(1.0, 100.0, n)
    x = np.where(rng.random(n) < 0.4, 0.0, rng.geometric(0.2, n).astype(np.float64))
    t_x = np.where(x > 0, T * rng.beta(2.0, 1.0, n), 0.0)
    t_x[:1000] = np.floor(t_x[:1000])  # some rows repeat, some recencies lie on a grid
    return x, t_x, T


@pytest.mark.parametrize("weighted", [False, True])
def test_bgnbd_likelihood_and_gradient_match_the_per_customer_formula(weighted: bool) -> None:
    # more distinct repeat-buyer rows than one block holds, so the block-wise sums are exercised
    n = 3 * bgnbd.BLOCK
    x, t_x, T = _customers(n, seed=21)
    w = np.random.default_rng(22).uniform(0.5, 3.0, n) if weighted else np.ones(n)
    data = bgnbd._Data(*bgnbd.prepare(x, t_x, T, w))
    assert data.w.size > bgnbd.BLOCK
    for point in (np.log([0.3, 5.0, 0.6, 2.0]), np.log([2.0, 0.5, 3.0, 0.8])):
        value, grad = bgnbd._neg_loglik_and_grad(point, data)
        reference = _bgnbd_reference(point, x, t_x, T, w)
        assert -value == pytest.approx(reference, rel=1e-12)
        numeric = _central_gradient(lambda p: -_bgnbd_reference(p, x, t_x, T, w), point)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * np.abs(value))


@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_gamma_likelihood_and_gradient_match_the_per_customer_formula(weighted: bool) -> None:
    rng = np.random.default_rng(31)
    n = 3 * gamma_gamma.BLOCK + 17
    x = rng.geometric(0.3, n).astype(np.float64)
    m = rng.gamma(4.0, 10.0, n)
    w = rng.uniform(0.5, 3.0, n) if weighted else np.ones(n)
    data = gamma_gamma._Data(*gamma_gamma.prepare(x, m, w))
    for point in (np.log([6.0, 3.5, 15.0]), np.log([0.7, 9.0, 2.0])):
        value, grad = gamma_gamma._neg_loglik_and_grad(point, data)
        reference = _gamma_gamma_reference(point, x, m, w)
        assert -value == pytest.approx(reference, rel=1e-12)
        numeric = _central_gradient(lambda p: -_gamma_gamma_reference(p, x, m, w), point)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * np.abs(value))


def test_fits_land_on_the_optimum(cdnow: dict[str, np.ndarray]) -> None:
    # L-BFGS-B alone stops up to 5e-8 per customer short of it on this data; the Newton step ends
    # where the gradient vanishes to rounding, so the estimates do not depend on the path taken
    bg = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    data = bgnbd._Data(*bgnbd.prepare(cdnow["x"], cdnow["t_x"], cdnow["T"]))
    value, grad = bgnbd._neg_loglik_and_grad(np.log(list(bg.params.values())), data)
    assert np.max(np.abs(grad)) / data.n < 1e-10
    assert bg.log_likelihood == pytest.approx(-value, rel=1e-14)
    gg = gamma_gamma.fit(cdnow["x"], cdnow["zbar"])
    spend = gamma_gamma._Data(*gamma_gamma.prepare(cdnow["x"], cdnow["zbar"]))
    value, grad = gamma_gamma._neg_loglik_and_grad(np.log(list(gg.params.values())), spend)
    assert np.max(np.abs(grad)) / spend.n < 1e-10
    assert gg.log_likelihood == pytest.approx(-value, rel=1e-14)
    assert bg.converged and gg.converged


def test_quasi_newton_minimises_within_its_bounds() -> None:
    def rosenbrock(p: np.ndarray) -> tuple[float, np.ndarray]:
        x, y = p
        grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        return float((1 - x) ** 2 + 100 * (y - x * x) ** 2), grad

    free = fitting.quasi_newton(rosenbrock, np.array([-1.2, 1.0]), bound=5.0, max_iter=200, gtol=1e-9)
    assert free.success
    np.testing.assert_allclose(free.x, [1.0, 1.0], atol=1e-6)

    # f = (x − 0.5)² + (y + 2)² + xy/2 wants y < −1: y stays on the bound, where 2(x − 0.5) − 1/2 = 0
    def boxed_quadratic(p: np.ndarray) -> tuple[float, np.ndarray]:
        x, y = p
        grad = np.array([2 * (x - 0.5) + y / 2, 2 * (y + 2) + x / 2])
        return float((x - 0.5) ** 2 + (y + 2) ** 2 + x * y / 2), grad

    boxed = fitting.quasi_newton(boxed_quadratic, np.zeros(2), bound=1.0, max_iter=200, gtol=1e-9)
    assert boxed.success
    assert boxed.x[1] == -1.0
    assert boxed.x[0] == pytest.approx(0.75, abs=1e-8)
