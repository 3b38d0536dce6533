"""ABC importance classes (80/20) by cumulative value share, and the Pareto curve.

Customers are ranked by value; customers with equal values always share a class. A customer is
in class A while the value of everyone ranked above them is below
`a_share` of the total: A is the smallest head of the ranking that makes `a_share` of the value.
B extends the head to `b_share`; the rest, and anyone with no positive value, is C.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import as_float_array


def classify(values: object, a_share: float = 0.8, b_share: float = 0.95) -> NDArray[np.str_]:
    v = np.nan_to_num(as_float_array(values), nan=0.0)
    positive = np.where(v > 0, v, 0.0)
    total = positive.sum()
    out = np.full(v.shape, "C")
    if total <= 0:
        return out
    order = np.argsort(-positive, kind="stable")
    before = (np.cumsum(positive[order]) - positive[order]) / total
    ranked = np.where(before < a_share, "A", np.where(before < b_share, "B", "C"))
    ranked = np.where(positive[order] > 0, ranked, "C")
    out[order] = ranked
    # equal values share a class: the ranking's tie order must not split them at a boundary
    return classify_with_floors(v, class_floors(v, out))


def class_floors(values: object, classes: NDArray[np.str_]) -> dict[str, float | None]:
    """The lowest value in A and in B: a later single customer is classed against these."""
    v = as_float_array(values)
    floors: dict[str, float | None] = {}
    for name in ("A", "B"):
        member = v[classes == name]
        floors[name] = float(member.min()) if member.size else None
    return floors


def classify_with_floors(values: object, floors: dict[str, float | None]) -> NDArray[np.str_]:
    v = np.nan_to_num(as_float_array(values), nan=0.0)
    a, b = floors.get("A"), floors.get("B")
    out = np.full(v.shape, "C")
    if b is not None:
        out = np.where((v >= b) & (v > 0), "B", out)
    if a is not None:
        out = np.where((v >= a) & (v > 0), "A", out)
    return out


def pareto_points(values: object, steps: int = 100) -> list[tuple[float, float]]:
    """(share of customers, share of value) at each 1/steps of the ranked customers."""
    v = np.sort(np.clip(np.nan_to_num(as_float_array(values), nan=0.0), 0.0, None))[::-1]
    n, total = v.size, float(v.sum())
    if n == 0 or total <= 0:
        return [(0.0, 0.0)]
    cumulative = np.concatenate([[0.0], np.cumsum(v)]) / total
    shares = np.linspace(0.0, 1.0, steps + 1)
    heads = np.ceil(shares * n).astype(np.int64)
    return [(float(s), float(cumulative[h])) for s, h in zip(shares, heads, strict=True)]
