"""RFM quintile scores and the 11-segment map.

Scores. Over the scored population (customers with a purchase in the window), a value's score is
1 + ⌊5 · (number of population values strictly below it) / n⌋. Equal values always get the same
score (ties are never split by row order), and the rule is the same as comparing with four
breakpoints b_k = the ⌈k·n/5⌉-th smallest value: score = 1 + #{k : value > b_k}. Kept breakpoints
let a single customer be scored later against the population of the last run. Recency is scored
on −days, so a more recent purchase scores higher.

Segments come from R and FM = ⌈(F + M) / 2⌉ (halves round up) on this grid (rows R, columns FM):

    R\\FM  1               2                   3                   4            5
    5     new             potential_loyalist  potential_loyalist  champions    champions
    4     promising       potential_loyalist  loyal               champions    champions
    3     about_to_sleep  about_to_sleep      needs_attention     loyal        loyal
    2     hibernating     hibernating         at_risk             at_risk      at_risk
    1     lost            hibernating         at_risk             cannot_lose  cannot_lose
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import FloatArray, as_float_array

RfmSegment = Literal[
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "needs_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
]
SEGMENTS: tuple[str, ...] = get_args(RfmSegment)
GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "loyal", "champions", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "needs_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "at_risk"),
    1: ("lost", "hibernating", "at_risk", "cannot_lose", "cannot_lose"),
}
_GRID_ARRAY = np.array([GRID[r] for r in (1, 2, 3, 4, 5)], dtype=object)


def breakpoints(values: object, *, reverse: bool = False) -> list[float]:
    """The four quintile breakpoints of a population (on −values when `reverse`)."""
    v = np.sort(as_float_array(values) * (-1.0 if reverse else 1.0))
    n = v.size
    if n == 0:
        return []
    return [float(v[math.ceil(k * n / 5) - 1]) for k in (1, 2, 3, 4)]


def score(values: object, points: list[float], *, reverse: bool = False) -> NDArray[np.int64]:
    """1–5 against the breakpoints; 0 where a value is missing (NaN) or there is no population."""
    v = as_float_array(values) * (-1.0 if reverse else 1.0)
    if not points:
        return np.zeros(v.shape, dtype=np.int64)
    out = 1 + (v[:, None] > np.asarray(points)[None, :]).sum(axis=1)
    return np.where(np.isnan(v), 0, out).astype(np.int64)


def fm_score(f: NDArray[np.int64], m: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.asarray((f + m + 1) // 2, dtype=np.int64)


def segment(r: NDArray[np.int64], f: NDArray[np.int64], m: NDArray[np.int64]) -> NDArray[np.object_]:
    """Segment names; None where a score is missing."""
    fm = fm_score(f, m)
    valid = (r > 0) & (fm > 0)
    names = _GRID_ARRAY[np.clip(r, 1, 5) - 1, np.clip(fm, 1, 5) - 1]
    out = np.asarray(names, dtype=object)
    out[~valid] = None
    return out


def code(r: int, f: int, m: int) -> str:
    return f"{r}-{f}-{m}"


def population_scores(values: FloatArray, *, reverse: bool = False) -> tuple[NDArray[np.int64], list[float]]:
    """Scores of a whole population against its own breakpoints (NaN values are not in it)."""
    present = values[~np.isnan(values)]
    points = breakpoints(present, reverse=reverse)
    return score(values, points, reverse=reverse), points
