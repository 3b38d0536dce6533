"""Scoring a population, vectorised: fit the models, then every score for every customer at once.

`fit` learns from a full population (parameters and the population's breakpoints) and returns a
JSON-able model; `score` applies a model to any population, a whole one or a single customer, so
a customer re-scored between runs is measured against the last run's population.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from crm_scoring.models import abc, bgnbd, bgnbd_predict, care, churn, gamma_gamma, rfm, segments, value
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FitResult, FloatArray
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.readmodel.stats import Population
from crm_scoring.settings.schemas import ScoringSettings

Arrays = dict[str, Any]


def derive(pop: Population, settings: ScoringSettings) -> Arrays:
    """The models' inputs in their units (time in `settings.time_unit`, spend per purchase day)."""
    c, unit = pop.columns, settings.days_per_unit
    today = float(pop.as_of.date().toordinal())
    has = c["days"] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(has, c["days"] - 1, 0.0)
        return {
            "has": has,
            "x": x,
            "t_x": np.where(has, (c["last_day"] - c["first_day"]) / unit, 0.0),
            "T": np.where(has, (today - c["first_day"]) / unit, 0.0),
            "repeat_mean": np.where(x > 0, (c["total"] - c["first_amount"]) / np.maximum(x, 1), 0.0),
            "avg_spend": np.where(has, c["total"] / np.maximum(c["days"], 1), np.nan),
            "cycle_days": np.where(c["days"] >= 2, (c["last_day"] - c["first_day"]) / np.maximum(x, 1), np.nan),
            "recency_days": np.where(has, today - c["last_day"], np.nan),
            "tenure_days": np.where(has, today - c["first_day"], 0.0),
            "margin_rate": np.where(c["total"] > 0, c["profit"] / np.where(c["total"] > 0, c["total"], 1), np.nan),
            "in_window": c["window_orders"] > 0,
            "days_since_contact": today - c["contact_day"],
        }


def _fit_dict(result: FitResult | None) -> dict[str, Any] | None:
    return None if result is None else asdict(result)


def predict(d: Arrays, model: dict[str, Any], settings: ScoringSettings) -> Arrays:
    n = d["x"].shape[0]
    out: Arrays = {"p_alive": np.full(n, np.nan), "expected": np.full(n, np.nan), "clv": np.full(n, np.nan)}
    if model.get("bgnbd") is None:
        return out
    p = BgNbdParams(**model["bgnbd"]["params"])
    horizon = settings.clv_horizon_months * value.DAYS_PER_MONTH / settings.days_per_unit
    spend = d["avg_spend"]
    if model.get("gamma_gamma") is not None:
        expected_spend = gamma_gamma.expected_average_spend(
            GammaGammaParams(**model["gamma_gamma"]["params"]), d["x"], d["repeat_mean"]
        )
        spend = np.where(np.isfinite(expected_spend), expected_spend, spend)
    has = d["has"]
    out["p_alive"] = np.where(has, bgnbd_predict.p_alive(p, d["x"], d["t_x"], d["T"]), np.nan)
    out["expected"] = np.where(has, bgnbd_predict.expected_purchases(p, horizon, d["x"], d["t_x"], d["T"]), np.nan)
    clv = value.probabilistic_clv(
        p,
        np.nan_to_num(spend, nan=0.0),
        d["x"],
        d["t_x"],
        d["T"],
        months=settings.clv_horizon_months,
        annual_discount_rate=settings.discount_rate,
        days_per_unit=settings.days_per_unit,
    )
    out["clv"] = np.where(has, clv, np.nan)
    return out


def fit(pop: Population, settings: ScoringSettings) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma on the population, then keep its breakpoints."""
    d = derive(pop, settings)
    has = d["has"]
    bg: FitResult | None = None
    gg: FitResult | None = None
    if has.sum() >= 2:
        bg = bgnbd.fit(d["x"][has], d["t_x"][has], d["T"][has])
    repeat = d["x"] > 0
    if repeat.sum() >= 2:
        gg = gamma_gamma.fit(d["x"][repeat], d["repeat_mean"][repeat])
    model: dict[str, Any] = {
        "as_of": pop.as_of.isoformat(),
        "time_unit": settings.time_unit,
        "bgnbd": _fit_dict(bg),
        "gamma_gamma": _fit_dict(gg),
        "customers": len(pop),
        "buyers": int(has.sum()),
        "repeat_buyers": int(repeat.sum()),
        "settings": settings.model_dump(),
    }
    preds = predict(d, model, settings)
    c, window = pop.columns, d["in_window"]
    model["rfm_points"] = {
        "r": rfm.breakpoints(d["recency_days"][window], reverse=True),
        "f": rfm.breakpoints(c["window_orders"][window]),
        "m": rfm.breakpoints(c["window_spend"][window]),
    }
    basis = abc_basis(pop, preds, settings)
    model["abc_floors"] = abc.class_floors(basis, abc.classify(basis, settings.abc_a_share, settings.abc_b_share))
    clv = preds["clv"][np.isfinite(preds["clv"])]
    model["growth_cutoff"] = float(np.quantile(clv, 1 - settings.growth_top_share)) if clv.size else None
    return model


def abc_basis(pop: Population, preds: Arrays, settings: ScoringSettings) -> FloatArray:
    if settings.abc_value_basis == "clv_probabilistic" and np.isfinite(preds["clv"]).any():
        return np.asarray(np.nan_to_num(preds["clv"], nan=0.0), dtype=np.float64)
    return pop.columns["window_spend"]


def score(pop: Population, model: dict[str, Any], settings: ScoringSettings) -> Arrays:
    """Every score of every customer in `pop`, against the model's parameters and breakpoints."""
    c, d = pop.columns, derive(pop, settings)
    preds = predict(d, model, settings)
    has, window = d["has"], d["in_window"]
    points = model.get("rfm_points") or {"r": [], "f": [], "m": []}
    nan = np.nan
    r = rfm.score(np.where(window, d["recency_days"], nan), points["r"], reverse=True)
    f = rfm.score(np.where(window, c["window_orders"], nan), points["f"])
    m = rfm.score(np.where(window, c["window_spend"], nan), points["m"])
    basis = abc_basis(pop, preds, settings)
    abc_class = abc.classify_with_floors(basis, model.get("abc_floors") or {})
    kind = segments.key_customer_kind(abc_class, c["referrals"], settings.influence_referrals)
    loyalty = segments.loyalty_stage(
        c["days"],
        d["tenure_days"],
        settings.long_term_days,
        c["referrals"],
        c["nps"],
        c["open_complaints"],
        preds["p_alive"],
    )
    segment, rule = segments.value_segment(has, abc_class, kind, loyalty, preds["clv"], model.get("growth_cutoff"))
    is_key = kind != None  # noqa: E711 - elementwise comparison on an object array
    risk, reasons, suggestion = churn.assess(
        churn.ChurnInputs(
            has_purchase=has,
            days_since_purchase=d["recency_days"],
            cycle_days=d["cycle_days"],
            p_alive=preds["p_alive"],
            open_complaints=c["open_complaints"],
            sla_breaches=c["sla_breaches"],
            satisfaction=c["satisfaction"],
            nps=c["nps"],
            csat=c["csat"],
            is_key=is_key,
            days_since_contact=d["days_since_contact"],
        ),
        churn.ChurnRules(
            cycle_multiple=settings.cycle_multiple,
            p_alive_threshold=settings.p_alive_threshold,
            lost_after_days=settings.lost_after_days,
            lost_p_alive=settings.lost_p_alive,
            warning_threshold=settings.churn_warning_threshold,
            care_limit_days=settings.care_remind_days,
            weights=settings.churn_weights,
        ),
    )
    status, due_in = care.assess(
        is_key,
        d["days_since_contact"],
        c["follow_up"],
        care.Cadence(settings.care_cadence_days, settings.care_remind_days, settings.care_lapse_days),
    )
    return {
        **d,
        **preds,
        "r": r,
        "f": f,
        "m": m,
        "rfm_segment": rfm.segment(r, f, m),
        "clv_simple": value.simple_value(d["avg_spend"], d["cycle_days"], settings.relationship_days),
        "clv_discounted": value.discounted_cltv(c["annual_profit"], settings.cltv_years, settings.discount_rate),
        "abc_value": basis,
        "abc_class": abc_class,
        "key_kind": kind,
        "loyalty": loyalty,
        "segment": segment,
        "segment_rule": rule,
        "relationship": segments.relationship_level(
            has,
            abc_class,
            np.nan_to_num(d["margin_rate"], nan=settings.default_margin),
            settings.high_margin,
            settings.low_margin,
        ),
        "churn_risk": risk,
        "churn_reasons": reasons,
        "lifecycle": suggestion,
        "care_status": status,
        "care_due_in": due_in,
    }
