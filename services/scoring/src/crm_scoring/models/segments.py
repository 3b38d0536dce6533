"""Value segments with strategy (DOMAIN.md §2 table), key-customer kind, Kotler relationship level
and loyalty-ladder stage. Each function returns, per customer, the label and the rule that fired.

Value segment rules, first match wins:
1. strategic_customer — key-customer kind `influence` or `both` (referrals made);
2. loyal_at_risk      — what would be loyal_long_term, with churn risk at or above the warning threshold;
3. big_at_risk        — what would be profitable_big, with churn risk at or above the warning threshold;
4. loyal_long_term    — class A or B and loyalty stage `long_term` or `loyal`;
5. profitable_big     — class A;
6. growth_potential   — class B, or probabilistic CLV at or above the top-20% CLV cut-off of the run;
7. low_value          — everyone else who has bought. Prospects (no purchase) get no segment.

A customer at risk is never loyal_long_term or profitable_big: those segments' strategy is to keep
what works, while an at-risk customer needs the cause of the risk found and removed first.

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

from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from crm_scoring.models.fitting import FloatArray, labels

ValueSegment = Literal[
    "profitable_big",
    "loyal_long_term",
    "growth_potential",
    "strategic_customer",
    "low_value",
    "loyal_at_risk",
    "big_at_risk",
]
SEGMENT_TABLE: dict[str, tuple[str, str, str]] = {
    # segment: (relationship type, strategy, focus)
    "profitable_big": ("ordinary", "keep", "convenience and efficiency"),
    "loyal_long_term": ("partnership", "keep", "participation and communication"),
    "growth_potential": ("close_or_loose", "develop", "by behaviour pattern"),
    "strategic_customer": ("close_or_partnership", "develop", "by development potential"),
    "low_value": ("loose_or_none", "maintain_or_let_go", "by the business's needs and market changes"),
    "loyal_at_risk": ("partnership", "retain", "find and remove the cause of the risk, in person"),
    "big_at_risk": ("ordinary", "retain", "service recovery and a reason to come back"),
}
assert tuple(SEGMENT_TABLE) == get_args(ValueSegment)  # one list of names, in the table's order
# Churn countermeasures (DOMAIN.md §2, step 4 of churned-customer management), one per value segment
# (`countermeasures` in the settings: win_back, retain, maintain, let_go). Those that give the
# account manager a retention action when a customer turns at risk or lost:
ACTING_COUNTERMEASURES = ("win_back", "retain")
# The default countermeasure of each strategy of the table above: keep and retain → retain (keep the
# customer, remove the cause); develop → win_back (their value is still ahead of them, worth
# winning back); maintain_or_let_go → maintain (serve at low cost, no dedicated effort).
STRATEGY_COUNTERMEASURE = {
    "keep": "retain",
    "retain": "retain",
    "develop": "win_back",
    "maintain_or_let_go": "maintain",
}


def default_countermeasures() -> dict[str, str]:
    return {segment: STRATEGY_COUNTERMEASURE[strategy] for segment, (_, strategy, _) in SEGMENT_TABLE.items()}


KOTLER = {
    "A": ("partnership", "proactive", "accountable"),
    "B": ("proactive", "accountable", "reactive"),
    "C": ("accountable", "reactive", "basic"),
}
Labels = NDArray[np.object_]


def key_customer_kind(
    abc_class: NDArray[np.str_],
    referrals: FloatArray,
    influence_referrals: int,
    via_organization: NDArray[np.bool_] | None = None,
    influential: NDArray[np.bool_] | None = None,
) -> Labels:
    """`both`, `value` (class A), `influence` (referrals made, or an influence level judged high
    enough: `influential`), else `via_organization` for a senior leader of a key organisation (a
    key customer for care, not by their own value), else none."""
    value = abc_class == "A"
    influence = referrals >= influence_referrals
    if influential is not None:
        influence = influence | influential
    via = np.zeros(value.shape, dtype=bool) if via_organization is None else via_organization
    return labels([value & influence, value, influence, via], ["both", "value", "influence", "via_organization"])


def value_segment(
    has_purchase: NDArray[np.bool_],
    abc_class: NDArray[np.str_],
    key_kind: Labels,
    loyalty: Labels,
    clv: FloatArray,
    growth_cutoff: float | None,
    *,
    at_risk: NDArray[np.bool_] | None = None,
) -> tuple[Labels, Labels]:
    """(segment, rule code) per customer; `at_risk`: churn risk at or above the warning threshold."""
    risky = np.zeros(has_purchase.shape, dtype=bool) if at_risk is None else at_risk
    cutoff = np.inf if growth_cutoff is None else growth_cutoff
    long_term = (loyalty == "long_term") | (loyalty == "loyal")
    ab = (abc_class == "A") | (abc_class == "B")
    with np.errstate(invalid="ignore"):
        growing = clv >= cutoff
    conditions = [
        ~has_purchase,
        (key_kind == "influence") | (key_kind == "both"),
        ab & long_term & risky,
        (abc_class == "A") & risky,
        ab & long_term,
        abc_class == "A",
        abc_class == "B",
        growing,
    ]
    segment = labels(
        conditions,
        [
            None,
            "strategic_customer",
            "loyal_at_risk",
            "big_at_risk",
            "loyal_long_term",
            "profitable_big",
            "growth_potential",
            "growth_potential",
        ],
        "low_value",
    )
    rule = labels(
        conditions,
        [
            None,
            "influence",
            "long_term_ab_at_risk",
            "class_a_at_risk",
            "long_term_ab",
            "class_a",
            "class_b",
            "clv_growth",
        ],
        "otherwise",
    )
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
