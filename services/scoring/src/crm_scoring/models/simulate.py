"""Draw customer summaries from known BG/NBD and Gamma-Gamma parameters (tests and benchmarks).

Exact and vectorised: a customer leaves after a Geometric(p) number of repeat purchases; in
(0, T] the Poisson(λ) process makes N purchases, so x = min(N, J), and the x-th of N uniform
event times scaled to T is T · Beta(x, N − x + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FloatArray
from crm_scoring.models.gamma_gamma import GammaGammaParams


@dataclass(frozen=True)
class Summary:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray


def simulate(
    n: int,
    bgnbd: BgNbdParams,
    spend: GammaGammaParams,
    *,
    max_age: float = 52.0,
    min_age: float = 1.0,
    resolution: float | None = None,
    seed: int = 0,
) -> Summary:
    """`n` customers with ages uniform in [min_age, max_age]; `resolution` rounds times down to it.

    Rounding to a day (1/7 week) gives the distinct-row structure of real data aggregated by day.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(min_age, max_age, n)
    lam = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n)
    p = rng.beta(bgnbd.a, bgnbd.b, n)
    drops_after = rng.geometric(np.clip(p, 1e-12, 1.0))
    n_events = rng.poisson(lam * T)
    x = np.minimum(n_events, drops_after)
    repeat = x > 0
    recency = np.zeros(n)
    recency[repeat] = T[repeat] * rng.beta(x[repeat], n_events[repeat] - x[repeat] + 1)
    if resolution:
        T = np.floor(T / resolution) * resolution
        recency = np.minimum(np.floor(recency / resolution) * resolution, T)
        # two purchases on the same day count once
        x = np.where(recency == 0, 0, x)
    nu = rng.gamma(spend.q, 1.0 / spend.gamma, n)
    monetary = np.zeros(n)
    monetary[x > 0] = rng.gamma(spend.p * x[x > 0], 1.0 / (x[x > 0] * nu[x > 0]))
    return Summary(frequency=x.astype(np.float64), recency=recency, T=T, monetary=monetary)
