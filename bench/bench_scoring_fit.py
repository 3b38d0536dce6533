"""BG/NBD + Gamma-Gamma fit on synthetic customers: median of several runs.

    .venv/bin/python bench/bench_scoring_fit.py [--customers 1000000] [--rounds 3]

Customers are drawn from the published CDNOW parameters (r=0.243, α=4.414, a=0.793, b=2.426;
p=6.25, q=3.74, γ=15.44) with ages up to two years, times rounded to whole days as the service's
SQL aggregation delivers them. The timed work is what a scoring run's `fit` stage does: both fits,
including grouping into distinct rows and the standard errors.
"""

from __future__ import annotations

import argparse
import statistics
import time

from crm_scoring.models import bgnbd, gamma_gamma
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.models.simulate import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = simulate(
        args.customers,
        BgNbdParams(0.243, 4.414, 0.793, 2.426),
        GammaGammaParams(6.25, 3.74, 15.44),
        max_age=104.0,
        resolution=1 / 7,
        seed=1,
    )
    rows = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        bg = bgnbd.fit(data.frequency, data.recency, data.T)
        middle = time.perf_counter()
        gg = gamma_gamma.fit(data.frequency, data.monetary)
        rows.append((middle - started, time.perf_counter() - middle))
    total = [a + b for a, b in rows]
    print(f"customers: {args.customers:,}; repeat buyers: {gg.n_observations:,}")
    print(f"BG/NBD distinct rows: {bg.n_unique_rows:,}; iterations {bg.iterations}; converged {bg.converged}")
    print(
        "BG/NBD: "
        + ", ".join(f"{k}={v:.4f} ± {bg.standard_errors[k] or float('nan'):.4f}" for k, v in bg.params.items())
    )
    print("Gamma-Gamma: " + ", ".join(f"{k}={v:.3f}" for k, v in gg.params.items()))
    print("| stage | median s | runs (s) |")
    print("| --- | ---: | --- |")
    for name, values in (("BG/NBD", [r[0] for r in rows]), ("Gamma-Gamma", [r[1] for r in rows]), ("both", total)):
        print(f"| {name} | {statistics.median(values):.3f} | {', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
