"""BG/NBD: the published CDNOW estimates, the closed forms, and recovery of known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from crm_scoring.models import bgnbd, bgnbd_predict, fitting, gamma_gamma
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FitResult, distinct_rows, distinct_values
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.models.simulate import simulate

PUBLISHED = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="session")
def cdnow_fit(cdnow: dict[str, np.ndarray]) -> FitResult:
    return bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_reproduces_fader_hardie_lee_cdnow_estimates(cdnow_fit: FitResult, cdnow: dict[str, np.ndarray]) -> None:
    p = cdnow_fit.params
    assert len(cdnow["x"]) == 2357
    assert (round(p["r"], 3), round(p["alpha"], 3), round(p["a"], 3), round(p["b"], 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(cdnow_fit.log_likelihood, 1) == -9582.4
    assert cdnow_fit.converged
    assert cdnow_fit.n_observations == 2357 and cdnow_fit.n_unique_rows < 2357
    assert all(
        se is not None and 0 < se < v for se, v in zip(cdnow_fit.standard_errors.values(), p.values(), strict=True)
    )


def test_log_likelihood_at_the_published_parameters(cdnow: dict[str, np.ndarray]) -> None:
    assert bgnbd.log_likelihood(PUBLISHED, cdnow["x"], cdnow["t_x"], cdnow["T"]) == pytest.approx(-9582.4, abs=0.1)


def test_weighted_rows_give_the_same_fit_as_repeated_rows(cdnow: dict[str, np.ndarray]) -> None:
    x, t_x, T = cdnow["x"][:400], cdnow["t_x"][:400], cdnow["T"][:400]
    doubled = bgnbd.fit(np.r_[x, x], np.r_[t_x, t_x], np.r_[T, T])
    weighted = bgnbd.fit(x, t_x, T, weights=np.full(x.size, 2.0))
    for name in bgnbd.NAMES:
        assert weighted.params[name] == pytest.approx(doubled.params[name], rel=1e-5)


def test_analytic_gradient_matches_finite_differences(cdnow: dict[str, np.ndarray]) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    data = bgnbd._Data(*bgnbd.prepare(x, t_x, T))
    point = np.log([0.3, 5.0, 0.6, 2.0])
    _, grad = bgnbd._neg_loglik_and_grad(point, data)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        numeric = (
            bgnbd._neg_loglik_and_grad(point + step, data)[0] - bgnbd._neg_loglik_and_grad(point - step, data)[0]
        ) / 2e-6
        assert grad[j] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def _expected_direct(p: BgNbdParams, t: float, x: float, t_x: float, T: float) -> float:
    """FHL 2005 eq. (10) as printed, before the Euler transformation used in the service."""
    r, alpha, a, b = p.r, p.alpha, p.a, p.b
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return float(head * bracket / denominator)


def test_predictions_match_the_printed_formulas(cdnow_fit: FitResult) -> None:
    p = bgnbd.params_of(cdnow_fit)
    # FHL 2005 worked example: customer 1 (x=2, t_x=30.43, T=38.86) expects 1.226 purchases in 39 weeks
    customer = (2.0, 30.43, 38.86)
    assert bgnbd_predict.expected_purchases(p, 39, *customer)[0] == pytest.approx(1.226, abs=5e-4)
    for x, t_x, T in [(1, 1.71, 38.86), (7, 29.43, 38.86), (15, 38.0, 38.5), (0, 0, 30.0)]:
        direct = _expected_direct(p, 39, x, t_x, T)
        got = bgnbd_predict.expected_purchases(p, 39, x, t_x, T, one_time_rule=False)[0]
        assert got == pytest.approx(direct, rel=1e-9)
    alive = bgnbd_predict.p_alive(p, 2, 30.43, 38.86)[0]
    assert alive == pytest.approx(1 / (1 + p.a / (p.b + 1) * ((p.alpha + 38.86) / (p.alpha + 30.43)) ** (p.r + 2)))


def test_one_time_buyers_are_not_called_alive_for_ever(cdnow_fit: FitResult) -> None:
    p = bgnbd.params_of(cdnow_fit)
    ages = np.array([1.0, 10.0, 50.0, 200.0])
    plain = bgnbd_predict.p_alive(p, np.zeros(4), np.zeros(4), ages, one_time_rule=False)
    ruled = bgnbd_predict.p_alive(p, np.zeros(4), np.zeros(4), ages)
    assert np.all(plain == 1.0)
    assert np.all(np.diff(ruled) < 0) and np.all(ruled < 1)
    # slower than for repeat buyers (r is small), but never "alive for sure"
    assert ruled[-1] < 0.6
    expected = bgnbd_predict.expected_purchases(p, 52, np.zeros(4), np.zeros(4), ages)
    unruled = bgnbd_predict.expected_purchases(p, 52, np.zeros(4), np.zeros(4), ages, one_time_rule=False)
    assert np.allclose(expected, unruled * ruled)


def test_recovers_known_parameters_within_two_standard_errors() -> None:
    truth = BgNbdParams(r=0.5, alpha=6.0, a=0.7, b=3.0)
    data = simulate(20_000, truth, GammaGammaParams(6.0, 4.0, 15.0), max_age=78, seed=7)
    result = bgnbd.fit(data.frequency, data.recency, data.T)
    assert result.converged
    for name in bgnbd.NAMES:
        se = result.standard_errors[name]
        assert se is not None
        assert abs(result.params[name] - getattr(truth, name)) < 2 * se, (name, result.params, se)


def test_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError, match="recency"):
        bgnbd.fit([1, 2], [5.0, 1.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="no customers"):
        bgnbd.fit([], [], [])


def test_distinct_rows_collapse_duplicates_even_when_the_key_space_is_huge() -> None:
    # five columns of 2^16 values each make a key space of 2^80; were the key to wrap around at
    # 2^64, the first column would drop out of it and the two halves below would merge
    rng = np.random.default_rng(5)
    size = 1 << 16
    shared = [rng.permutation(size) for _ in range(4)]
    first = np.concatenate([rng.permutation(size), rng.permutation(size)])
    rows = np.column_stack([first, *(np.concatenate([c, c]) for c in shared)]).astype(np.float64)
    rows = np.concatenate([rows, rows[:100]])  # and a hundred rows twice
    weights = rng.uniform(0.5, 2.0, len(rows))
    grouped = distinct_rows(*rows.T, weights=weights)
    got = np.column_stack([grouped.column(j) for j in range(rows.shape[1])])
    expected, inverse = np.unique(rows, axis=0, return_inverse=True)
    order = np.lexsort(got.T[::-1])
    np.testing.assert_array_equal(got[order], expected)
    np.testing.assert_allclose(grouped.weights[order], np.bincount(inverse.ravel(), weights=weights))


@pytest.mark.parametrize(
    "column",
    [
        np.floor(np.random.default_rng(1).uniform(0, 104, 5000) * 7) / 7,  # days in weeks
        np.random.default_rng(2).integers(0, 60, 5000).astype(np.float64),  # counts
        np.random.default_rng(3).uniform(0, 1, 5000),  # continuous: no grid
        # two grids mixed, and a value a hair off the grid: the grid check must reject them
        np.r_[np.arange(3000) * 0.1, np.arange(3000) * 0.25, [0.1 + 1e-12]],
        np.r_[np.full(2000, 3.5), [-0.0, 0.0]],
        np.insert(np.arange(20_000.0), 1, 2.5),  # off the sampled grid, shares index 2 with 2.0
    ],
)
def test_distinct_values_match_a_sort(column: np.ndarray) -> None:
    values, codes = distinct_values(column)
    expected, inverse = np.unique(column, return_inverse=True)
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(codes, inverse)
    np.testing.assert_array_equal(values[codes], column)


def test_distinct_rows_with_unit_weights_match_a_sort() -> None:
    rng = np.random.default_rng(9)
    rows = np.column_stack(
        [rng.integers(0, 20, 20_000), rng.integers(0, 300, 20_000) / 7, rng.integers(0, 30, 20_000) / 7]
    ).astype(np.float64)
    grouped = distinct_rows(*rows.T)
    got = np.column_stack([grouped.column(j) for j in range(3)])
    expected, inverse = np.unique(rows, axis=0, return_inverse=True)
    np.testing.assert_array_equal(got, expected)  # in the same (lexicographic) order
    np.testing.assert_array_equal(grouped.weights, np.bincount(inverse.ravel()))


def test_a_fit_started_at_an_earlier_optimum_ends_on_the_same_one_in_fewer_steps(
    cdnow_fit: FitResult, cdnow: dict[str, np.ndarray]
) -> None:
    nudged = {name: value * 1.02 for name, value in cdnow_fit.params.items()}  # the population moved a little
    warm = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"], start_from=nudged)
    assert warm.converged and warm.iterations < cdnow_fit.iterations
    for name in bgnbd.NAMES:
        assert warm.params[name] == pytest.approx(cdnow_fit.params[name], rel=1e-6), name
    # a start that is no start (missing, not positive) is the usual one
    for unusable in ({}, {"r": 1.0}, {**cdnow_fit.params, "a": 0.0}, {**cdnow_fit.params, "b": float("nan")}):
        assert bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"], start_from=unusable).iterations == cdnow_fit.iterations


def test_a_spend_fit_started_at_an_earlier_optimum_ends_on_the_same_one() -> None:
    data = simulate(20_000, BgNbdParams(r=0.5, alpha=6.0, a=0.7, b=3.0), GammaGammaParams(6.0, 4.0, 15.0), seed=3)
    repeat = data.frequency > 0
    cold = gamma_gamma.fit(data.frequency[repeat], data.monetary[repeat])
    for start, steps in (({k: v * 0.97 for k, v in cold.params.items()}, 2 * cold.iterations), (cold.params, 2)):
        warm = gamma_gamma.fit(data.frequency[repeat], data.monetary[repeat], start_from=start)
        assert warm.converged and warm.iterations <= steps
        for name in gamma_gamma.NAMES:
            assert warm.params[name] == pytest.approx(cold.params[name], rel=1e-6), name


def test_a_warm_start_that_does_not_settle_soon_starts_again_from_the_usual_point(
    cdnow_fit: FitResult, cdnow: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fitting, "WARM_MAX_ITER", 1)  # as a start on a flat ridge that wanders
    far = {name: value * 3.0 for name, value in cdnow_fit.params.items()}
    again = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"], start_from=far)
    assert again.converged and again.iterations == cdnow_fit.iterations
    assert again.params == pytest.approx(cdnow_fit.params, rel=1e-9)
