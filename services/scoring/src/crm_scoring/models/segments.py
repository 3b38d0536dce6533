"""Value segments with strategy (DOMAIN.md §2 table), key-customer kind, Kotler relationship level
and loyalty-ladder stage. Each function returns, per customer, the label and the rule that fired.

Value segment rules, first match wins:
1. strategic_customer — key-customer kind `influence` or `both` (referrals made);
2. loyal_long_term    — class A or B and loyalty stage `long_term` or `loyal`;
3. profitable_big     — class A;
4. growth_potential   — class B, or probabilistic CLV at or above the top-20% CLV cut-off of the run;
5. low_value          — everyone else who has bought. Prospects (no purchase) get no segment.

Kotler's relationship level from the number of customers at that value (A few, B medium, C many)
and the margin rate (high ≥ high_margin, medium ≥ low_margin, low below):

          high          medium       low
    A     partnership   proactive    accountable
    B     proactive     accountable  reactive
    C     accountable   reactive     basic

Loyalty ladder: no purchase → potential; one purchase day → new; two or more → repeat; three or
more over at least `long_term_days` → long_term; long_term who also refers others or answered
NPS 9–10, with no open complaint and P(alive) ≥ 0.5 (or no model) → loyal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import FloatArray, labels

SEGMENT_TABLE: dict[str, tuple[str, str, str]] = {
    # segment: (relationship type, strategy, focus)
    "profitable_big": ("ordinary", "keep", "convenience and efficiency"),
    "loyal_long_term": ("partnership", "keep", "participation and communication"),
    "growth_potential": ("close_or_loose", "develop", "by behaviour pattern"),
    "strategic_customer": ("close_or_partnership", "develop", "by development potential"),
    "low_value": ("loose_or_none", "maintain_or_let_go", "by the business's needs and market changes"),
}
KOTLER = {
    "A": ("partnership", "proactive", "accountable"),
    "B": ("proactive", "accountable", "reactive"),
    "C": ("accountable", "reactive", "basic"),
}
Labels = NDArray[np.object_]


def key_customer_kind(abc_class: NDArray[np.str_], referrals: FloatArray, influence_referrals: int) -> Labels:
    value = abc_class == "A"
    influence = referrals >= influence_referrals
    return labels([value & influence, value, influence], ["both", "value", "influence"])


def value_segment(
    has_purchase: NDArray[np.bool_],
    abc_class: NDArray[np.str_],
    key_kind: Labels,
    loyalty: Labels,
    clv: FloatArray,
    growth_cutoff: float | None,
) -> tuple[Labels, Labels]:
    """(segment, rule code) per customer."""
    cutoff = np.inf if growth_cutoff is None else growth_cutoff
    long_term = (loyalty == "long_term") | (loyalty == "loyal")
    ab = (abc_class == "A") | (abc_class == "B")
    with np.errstate(invalid="ignore"):
        growing = clv >= cutoff
    conditions = [
        ~has_purchase,
        (key_kind == "influence") | (key_kind == "both"),
        ab & long_term,
        abc_class == "A",
        abc_class == "B",
        growing,
    ]
    segment = labels(
        conditions,
        [None, "strategic_customer", "loyal_long_term", "profitable_big", "growth_potential", "growth_potential"],
        "low_value",
    )
    rule = labels(conditions, [None, "influence", "long_term_ab", "class_a", "class_b", "clv_growth"], "otherwise")
    return segment, rule


def relationship_level(
    has_purchase: NDArray[np.bool_], abc_class: NDArray[np.str_], margin: FloatArray, high: float, low: float
) -> Labels:
    column = np.where(margin >= high, 0, np.where(margin >= low, 1, 2))
    table = np.array([KOTLER[c] for c in ("A", "B", "C")], dtype=object)
    row = np.select([abc_class == "A", abc_class == "B"], [0, 1], 2)
    out = np.asarray(table[row, column], dtype=object)
    out[~has_purchase] = None
    return out


def loyalty_stage(
    purchase_days: FloatArray,
    tenure_days: FloatArray,
    long_term_days: float,
    referrals: FloatArray,
    nps: FloatArray,
    open_complaints: FloatArray,
    p_alive: FloatArray,
) -> Labels:
    with np.errstate(invalid="ignore"):
        long_term = (purchase_days >= 3) & (tenure_days >= long_term_days)
        advocate = (referrals >= 1) | (nps >= 9)
        healthy = (open_complaints == 0) & ~(p_alive < 0.5)
    return labels(
        [purchase_days <= 0, purchase_days == 1, long_term & advocate & healthy, long_term],
        ["potential", "new", "loyal", "long_term"],
        "repeat",
    )
