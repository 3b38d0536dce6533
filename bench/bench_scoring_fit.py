"""BG/NBD + Gamma-Gamma fit on synthetic customers: median of several runs.

    .venv/bin/python bench/bench_scoring_fit.py [--customers 1000000] [--rounds 3]

Customers are drawn from the published CDNOW parameters (r=0.243, α=4.414, a=0.793, b=2.426;
p=6.25, q=3.74, γ=15.44) with ages up to two years, times rounded to whole days as the service's
SQL aggregation delivers them. The timed work is what a scoring run's `fit` stage does: both fits,
including grouping into distinct rows and the standard errors.

With `--lifetimes-python PATH` (the Python of a separate environment holding the archived
`lifetimes` package, which this project does not depend on) the same data is fitted there too, in
the same run: per customer, and with its weighted trick (identical rows grouped by pandas and
passed as weights), both of which are timed with their grouping.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from crm_scoring.models import bgnbd, gamma_gamma
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.models.simulate import Summary, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lifetimes-python", metavar="PATH", help="a Python with lifetimes installed")
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

    if args.lifetimes_python:
        baseline = lifetimes_times(args.lifetimes_python, data, args.rounds)
        ours = statistics.median(total)
        print("| lifetimes 0.11 | median s | runs (s) | ours faster by |")
        print("| --- | ---: | --- | ---: |")
        for name, values in baseline.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.3f} | {', '.join(f'{v:.3f}' for v in values)} | {median / ours:.1f}× |")


LIFETIMES = """
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1]); rounds = int(sys.argv[2])
df = pd.DataFrame({k: data[k] for k in ("frequency", "recency", "T", "monetary")})
times = {"per customer, both fits": [], "weighted trick, both fits": []}
for _ in range(rounds):
    started = time.perf_counter()
    BetaGeoFitter().fit(df["frequency"], df["recency"], df["T"])
    rep = df[df["frequency"] > 0]
    GammaGammaFitter().fit(rep["frequency"], rep["monetary"])
    times["per customer, both fits"].append(time.perf_counter() - started)
    started = time.perf_counter()
    g = df.groupby(["frequency", "recency", "T"]).size().rename("w").reset_index()
    BetaGeoFitter().fit(g["frequency"], g["recency"], g["T"], weights=g["w"])
    m = rep.groupby(["frequency", "monetary"]).size().rename("w").reset_index()
    GammaGammaFitter().fit(m["frequency"], m["monetary"], weights=m["w"])
    times["weighted trick, both fits"].append(time.perf_counter() - started)
print(json.dumps(times))
"""


def lifetimes_times(python: str, data: Summary, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.npz"
        np.savez(path, frequency=data.frequency, recency=data.recency, T=data.T, monetary=data.monetary)
        out = subprocess.run(
            [python, "-c", LIFETIMES, str(path), str(rounds)], check=True, capture_output=True, text=True
        )
    times: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return times


if __name__ == "__main__":
    main()
