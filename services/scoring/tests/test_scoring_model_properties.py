"""Edge cases of the models, generated: no NaN, no infinity, no exception, sane ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_scoring.models import bgnbd, bgnbd_predict, gamma_gamma, value
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.gamma_gamma import GammaGammaParams

positive = st.floats(min_value=1e-3, max_value=1e3)
params = st.builds(BgNbdParams, r=positive, alpha=positive, a=positive, b=positive)


@st.composite
def customers(draw: st.DrawFn) -> tuple[float, float, float]:
    T = draw(st.floats(min_value=0.0, max_value=1e4))
    x = draw(st.integers(min_value=0, max_value=10**6))
    t_x = 0.0 if x == 0 else draw(st.floats(min_value=0.0, max_value=T))
    return float(x), t_x, T


@settings(max_examples=300, deadline=None)
@given(params, customers(), st.floats(min_value=0.0, max_value=520.0))
def test_predictions_are_finite_and_in_range(p: BgNbdParams, c: tuple[float, float, float], horizon: float) -> None:
    x, t_x, T = c
    alive = bgnbd_predict.p_alive(p, x, t_x, T)[0]
    expected = bgnbd_predict.expected_purchases(p, horizon, x, t_x, T)[0]
    assert 0.0 <= alive <= 1.0
    assert np.isfinite(expected) and expected >= 0.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(customers(), min_size=1, max_size=60))
def test_fit_never_fails_or_returns_nan(rows: list[tuple[float, float, float]]) -> None:
    x, t_x, T = (np.array(col) for col in zip(*rows, strict=True))
    result = bgnbd.fit(x, t_x, T)
    assert all(np.isfinite(v) and v > 0 for v in result.params.values())
    assert np.isfinite(result.log_likelihood)
    p = bgnbd.params_of(result)
    assert np.all(np.isfinite(bgnbd_predict.expected_purchases(p, 52, x, t_x, T)))


def test_named_edge_cases() -> None:
    cases = {
        "no repeat buyers": ([0, 0, 0], [0, 0, 0], [10, 20, 30]),
        "all purchases on the first day": ([0] * 5, [0] * 5, [0, 0, 0, 0, 0]),
        "recency equals T": ([3, 5, 1], [10, 20, 30], [10, 20, 30]),
        "huge frequencies": ([1e6, 5e5, 0], [100, 90, 0], [100, 100, 100]),
    }
    for name, (x, t_x, T) in cases.items():
        result = bgnbd.fit(x, t_x, T)
        p = bgnbd.params_of(result)
        alive = bgnbd_predict.p_alive(p, x, t_x, T)
        expected = bgnbd_predict.expected_purchases(p, 52, x, t_x, T)
        assert np.all(np.isfinite(alive)) and np.all(np.isfinite(expected)), name
        clv = value.probabilistic_clv(
            p, np.full(3 if len(x) == 3 else 5, 10.0), x, t_x, T, months=12, annual_discount_rate=0.1
        )
        assert np.all(np.isfinite(clv)) and np.all(clv >= 0), name


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=10**5), st.floats(min_value=0.01, max_value=1e6)),
        min_size=1,
        max_size=50,
    )
)
def test_spend_fit_is_finite(rows: list[tuple[int, float]]) -> None:
    x, m = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    result = gamma_gamma.fit(x, m)
    assert all(np.isfinite(v) and v > 0 for v in result.params.values())
    spend = gamma_gamma.expected_average_spend(gamma_gamma.params_of(result), x, m)
    assert np.all(np.isfinite(spend)) and np.all(spend > 0)


def test_spend_with_undefined_population_mean_uses_own_mean() -> None:
    spend = gamma_gamma.expected_average_spend(GammaGammaParams(2.0, 0.5, 3.0), [0, 2], [0, 40.0])
    assert np.isnan(spend[0]) and spend[1] == 40.0
