"""RFM and ABC on small populations computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from crm_scoring.models import abc, rfm


def test_quintile_scores_with_ties_and_reversed_recency() -> None:
    # ten customers; frequency has ties that must never be split by row order
    frequency = np.array([1, 1, 1, 1, 2, 2, 3, 5, 8, 13], dtype=float)
    scores, points = rfm.population_scores(frequency)
    # below-counts 0,0,0,0,4,4,6,7,8,9 → 1 + ⌊5·below/10⌋
    assert scores.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert points == [1.0, 1.0, 2.0, 5.0]  # the 2nd, 4th, 6th and 8th smallest
    shuffled = np.random.default_rng(3).permutation(10)
    again, _ = rfm.population_scores(frequency[shuffled])
    assert again.tolist() == scores[shuffled].tolist()
    days = np.array([1, 3, 5, 10, 20, 40, 80, 120, 200, 300], dtype=float)
    r_scores, r_points = rfm.population_scores(days, reverse=True)
    assert r_scores.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # a later customer scored alone against the kept breakpoints gets the population's answer
    # (4 days: eight of ten bought less recently → 1 + ⌊5·8/10⌋ = 5)
    assert rfm.score(np.array([4.0, 400.0]), r_points, reverse=True).tolist() == [5, 1]


def test_segment_grid_and_code() -> None:
    r = np.array([5, 5, 1, 1, 3, 2, 4])
    f = np.array([5, 1, 5, 1, 3, 2, 1])
    m = np.array([4, 1, 5, 1, 3, 1, 2])
    # FM = ⌈(F+M)/2⌉: 5, 1, 5, 1, 3, 2, 2
    assert rfm.segment(r, f, m).tolist() == [
        "champions",
        "new",
        "cannot_lose",
        "lost",
        "needs_attention",
        "hibernating",
        "potential_loyalist",
    ]
    assert {name for row in rfm.GRID.values() for name in row} == set(rfm.SEGMENTS)
    assert rfm.segment(np.array([0]), np.array([3]), np.array([3])).tolist() == [None]
    assert rfm.code(5, 4, 5) == "5-4-5"


def test_abc_by_cumulative_share() -> None:
    values = np.array([5, 50, 10, 30, 5, 0], dtype=float)
    classes = abc.classify(values, a_share=0.8, b_share=0.95)
    # ranked 50, 30, 10, 5, 5 (total 100): value above each 0, 50, 80, 90, 95 → A A B B C,
    # and the second 5 joins the first in B: equal values share a class
    assert classes.tolist() == ["B", "A", "B", "A", "B", "C"]
    floors = abc.class_floors(values, classes)
    assert floors == {"A": 30.0, "B": 5.0}
    assert abc.classify_with_floors(np.array([31.0, 29.0, 4.0, 0.0]), floors).tolist() == ["A", "B", "C", "C"]


def test_abc_thresholds_are_configurable() -> None:
    values = np.array([50, 30, 10, 5, 5], dtype=float)
    assert abc.classify(values, a_share=0.5, b_share=0.9).tolist() == ["A", "B", "B", "C", "C"]


def test_pareto_points() -> None:
    points = abc.pareto_points(np.array([50, 30, 10, 5, 5], dtype=float), steps=5)
    assert points[0] == (0.0, 0.0)
    assert points[1] == pytest.approx((0.2, 0.5))
    assert points[2] == pytest.approx((0.4, 0.8))
    assert points[-1] == pytest.approx((1.0, 1.0))
