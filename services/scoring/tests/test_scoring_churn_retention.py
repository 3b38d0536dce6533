"""Churn risk, care cadence, value formulas and retention on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from crm_scoring.models import care, churn, retention, segments, value

NAN = np.nan


def inputs(**overrides: object) -> churn.ChurnInputs:
    base: dict[str, object] = {
        "has_purchase": np.array([True]),
        "days_since_purchase": np.array([10.0]),
        "cycle_days": np.array([30.0]),
        "p_alive": np.array([0.9]),
        "open_complaints": np.array([0.0]),
        "sla_breaches": np.array([0.0]),
        "satisfaction": np.array([NAN]),
        "nps": np.array([NAN]),
        "csat": np.array([NAN]),
        "is_key": np.array([False]),
        "days_since_contact": np.array([NAN]),
    }
    base.update({k: np.array([v]) for k, v in overrides.items()})
    return churn.ChurnInputs(**base)  # type: ignore[arg-type]


def test_healthy_customer_risk_is_one_minus_p_alive() -> None:
    risk, mask, suggestion = churn.assess(inputs(), churn.ChurnRules())
    assert risk[0] == pytest.approx(0.1) and mask[0] == 0 and suggestion[0] is None


def test_warning_points_compound_and_are_named() -> None:
    rules = churn.ChurnRules(cycle_multiple=2.0, warning_threshold=0.5)
    risk, mask, suggestion = churn.assess(
        inputs(days_since_purchase=61.0, open_complaints=1.0, nps=4.0, p_alive=0.8), rules
    )
    # 1 − 0.8 · (1 − 0.4) · (1 − 0.25) · (1 − 0.3) = 0.748
    assert risk[0] == pytest.approx(1 - 0.8 * 0.6 * 0.75 * 0.7)
    assert churn.reason_names(int(mask[0])) == ["overdue_purchase", "open_complaint", "detractor"]
    assert suggestion[0] == "at_risk"


def test_lost_and_prospects() -> None:
    risk, mask, suggestion = churn.assess(inputs(days_since_purchase=400.0, cycle_days=NAN), churn.ChurnRules())
    assert suggestion[0] == "lost" and "inactive" in churn.reason_names(int(mask[0]))
    risk, mask, suggestion = churn.assess(inputs(has_purchase=False), churn.ChurnRules())
    assert np.isnan(risk[0]) and mask[0] == 0 and suggestion[0] is None


def test_key_customer_without_contact_misses_care() -> None:
    _, mask, _ = churn.assess(inputs(is_key=True, days_since_contact=NAN), churn.ChurnRules())
    assert churn.reason_names(int(mask[0])) == ["missed_care"]


def test_care_status_and_due_date() -> None:
    is_key = np.array([True, True, True, True, True, False])
    since = np.array([3.0, 20.0, 70.0, 130.0, NAN, 1.0])
    follow_up = np.array([5.0, NAN, NAN, NAN, NAN, NAN])
    status, due_in = care.assess(is_key, since, follow_up, care.Cadence(15, 60, 120))
    assert status.tolist() == ["on_track", "due", "overdue", "lapsed", "lapsed", None]
    assert due_in[:5].tolist() == [5.0, -5.0, -55.0, -115.0, 0.0]
    assert np.isnan(due_in[5])


def test_value_formulas() -> None:
    # S = 200 per purchase, every 30 days, over 3 years: 200 / 30 × 1095 = 7300
    assert value.simple_value([200.0, 200.0], [30.0, NAN], 1095)[0] == pytest.approx(7300)
    assert np.isnan(value.simple_value([200.0], [NAN], 1095)[0])
    # 1000 a year for 3 years at 10% with no retention rate known: 1000/1.1 + 1000/1.21 + 1000/1.331
    assert value.discounted_cltv([1000.0], [NAN], 3, 0.10)[0] == pytest.approx(2486.85, abs=0.01)
    # P_t = P1 · r^(t−1) with r = 0.5: 1000/1.1 + 500/1.21 + 250/1.331
    assert value.discounted_cltv([1000.0], [0.5], 3, 0.10)[0] == pytest.approx(1510.14, abs=0.01)
    terms = value.cltv_terms(1000.0, 0.5, 3, 0.10)
    assert [t for t, _, _ in terms] == [1, 2, 3] and [p for _, p, _ in terms] == [1000.0, 500.0, 250.0]
    assert sum(d for _, _, d in terms) == pytest.approx(1510.14, abs=0.01)
    assert value.retention_years(0.5, 3) == pytest.approx(1.75) and value.retention_years(None, 3) == 3
    # lost: the CLV before the loss, else the yearly profit × the years within the horizon
    assert value.estimated_loss(True, 800.0, 100.0, 0.5, 3) == (800.0, "clv_before_loss")
    assert value.estimated_loss(True, None, 100.0, 0.5, 3) == (175.0, "yearly_profit_x_remaining_years")
    assert value.estimated_loss(False, 800.0, 100.0, 0.5, 3) == (None, None)


def test_retention_counts_and_rates() -> None:
    # days; window 100; period (100, 200]
    by_start = np.array([90.0, 50.0, 10.0, NAN, NAN, 95.0])
    by_end = np.array([150.0, 50.0, 180.0, 160.0, NAN, 95.0])
    result = retention.retention(by_start, by_end, start=100, end=200, window=100)
    # at start: customers 0, 1, 2, 5 (purchase in (0, 100]); at end: 0, 2, 3 (in (100, 200]);
    # new: 3; lost: 1 and 5; retention (3 − 1) / 4
    assert (result.start_count, result.end_count, result.new_count, result.lost_count) == (4, 3, 1, 2)
    assert result.retention_rate == pytest.approx(0.5)
    assert result.churn_rate == pytest.approx(0.5)
    assert result.retention_rate + result.churn_rate == pytest.approx(1.0)
    empty = retention.retention(np.array([NAN]), np.array([150.0]), start=100, end=200, window=100)
    assert empty.retention_rate is None and empty.new_count == 1


def test_value_segments_loyalty_and_kotler() -> None:
    has = np.array([True, True, True, True, True, False])
    abc_class = np.array(["A", "A", "B", "C", "C", "C"])
    referrals = np.array([0.0, 4.0, 0.0, 0.0, 0.0, 0.0])
    kind = segments.key_customer_kind(abc_class, referrals, influence_referrals=3)
    assert kind.tolist() == ["value", "both", None, None, None, None]
    loyalty = segments.loyalty_stage(
        np.array([5.0, 2.0, 4.0, 1.0, 3.0, 0.0]),
        np.array([400.0, 100.0, 500.0, 10.0, 30.0, 0.0]),
        365,
        referrals,
        np.array([NAN, NAN, 10.0, NAN, NAN, NAN]),
        np.zeros(6),
        np.full(6, 0.9),
    )
    assert loyalty.tolist() == ["long_term", "repeat", "loyal", "new", "repeat", "potential"]
    clv = np.array([10.0, 10.0, 10.0, 500.0, 1.0, 0.0])
    segment, rule = segments.value_segment(has, abc_class, kind, loyalty, clv, growth_cutoff=100.0)
    assert segment.tolist() == [
        "loyal_long_term",
        "strategic_customer",
        "loyal_long_term",
        "growth_potential",
        "low_value",
        None,
    ]
    assert rule.tolist()[3] == "clv_growth"
    level = segments.relationship_level(has, abc_class, np.array([0.4, 0.2, 0.1, 0.4, 0.1, 0.5]), 0.3, 0.15)
    assert level.tolist() == ["partnership", "proactive", "reactive", "accountable", "basic", None]


def test_a_low_csat_rating_counts_as_dissatisfied() -> None:
    _, low_mask, _ = churn.assess(inputs(csat=2.0), churn.ChurnRules())
    _, neutral_mask, _ = churn.assess(inputs(csat=3.0), churn.ChurnRules())
    assert churn.reason_names(int(low_mask[0])) == ["dissatisfied"]
    assert churn.reason_names(int(neutral_mask[0])) == []
