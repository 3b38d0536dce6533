"""Scoring a population, vectorised: fit the models, then every score for every customer at once.

`fit` learns from a full population (parameters and the population's breakpoints) and returns a
JSON-able model; `score` applies a model to any population, a whole one or a single customer, so
a customer re-scored between runs is measured against the last run's population.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from crm_chassis.dates import business_date
from crm_scoring.models import abc, bgnbd, bgnbd_predict, care, churn, fitting, gamma_gamma, rfm, segments, value
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.fitting import FitResult, FloatArray
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.readmodel.stats_repository import Population
from crm_scoring.scores import registry
from crm_scoring.settings.schemas import ScoringSettings

Arrays = dict[str, Any]


def derive(pop: Population, settings: ScoringSettings) -> Arrays:
    """The models' inputs in their units (time in `settings.time_unit`, spend per purchase day)."""
    c, unit = pop.columns, settings.days_per_unit
    today = float(business_date(pop.as_of).toordinal())
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
            "days_since_campaign_response": today - c["campaign_response_day"],
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


def fit(pop: Population, settings: ScoringSettings, *, start_from: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma on the population, then keep its breakpoints."""
    return fit_and_predict(pop, settings, start_from=start_from)[0]


def _params(model: dict[str, Any] | None, name: str) -> dict[str, float] | None:
    fitted = (model or {}).get(name)
    return fitted.get("params") if isinstance(fitted, dict) else None


def fit_and_predict(
    pop: Population, settings: ScoringSettings, *, start_from: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Arrays]:
    """`fit`, with the population's predictions from the fitted model, which `score` takes
    instead of computing them again. `start_from` (the last live model) starts each fit at its
    parameters: the same optimum, found in fewer steps."""
    d = derive(pop, settings)
    has = d["has"]
    bg: FitResult | None = None
    gg: FitResult | None = None
    if has.sum() >= 2:
        bg = bgnbd.fit(d["x"][has], d["t_x"][has], d["T"][has], start_from=_params(start_from, "bgnbd"))
    repeat = d["x"] > 0
    if repeat.sum() >= 2:
        gg = gamma_gamma.fit(d["x"][repeat], d["repeat_mean"][repeat], start_from=_params(start_from, "gamma_gamma"))
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
    model["population_retention"] = population_retention(pop)
    model["quality"] = {name: fitting.quality(model[name]) for name in ("bgnbd", "gamma_gamma")}
    return model, preds


def population_retention(pop: Population) -> dict[str, Any]:
    """Of the customers who bought in the year before last, the share who bought in the last year."""
    c = pop.columns
    today = float(business_date(pop.as_of).toordinal())
    prior = c["prior_days"] > 0
    with np.errstate(invalid="ignore"):
        kept = prior & (c["last_day"] > today - 365)
    base = int(prior.sum())
    return {"rate": float(kept.sum()) / base if base else None, "base": base}


def retention(d: Arrays, model: dict[str, Any], settings: ScoringSettings) -> tuple[FloatArray, Any]:
    """Each customer's yearly retention probability and where it comes from: the BG/NBD model for
    buyers when it was fitted, else the population's rate, else none (the profit is held flat)."""
    n, has = d["x"].shape[0], d["has"]
    population = (model.get("population_retention") or {}).get("rate")
    rate = np.full(n, np.nan if population is None else float(population))
    basis = np.full(n, None if population is None else "population", dtype=object)
    if model.get("bgnbd") is not None:
        p = BgNbdParams(**model["bgnbd"]["params"])
        own = value.yearly_retention(p, d["x"], d["T"], value.DAYS_PER_YEAR / settings.days_per_unit)
        rate = np.where(has, own, rate)
        basis[has] = "model"
    return rate, basis


def abc_basis(pop: Population, preds: Arrays, settings: ScoringSettings) -> FloatArray:
    if settings.abc_value_basis == "clv_probabilistic" and np.isfinite(preds["clv"]).any():
        return np.asarray(np.nan_to_num(preds["clv"], nan=0.0), dtype=np.float64)
    return pop.columns["window_spend"]


def score(
    pop: Population, model: dict[str, Any], settings: ScoringSettings, *, predicted: Arrays | None = None
) -> Arrays:
    """Every stored score of every customer in `pop` (the registry's columns, in its units: days as
    ordinals, instants as POSIX seconds, NaN or None for none), against the model's parameters and
    breakpoints; `predicted` are the model's predictions for `pop` if `fit_and_predict` made them."""
    c, d = pop.columns, derive(pop, settings)
    preds = predict(d, model, settings) if predicted is None else predicted
    has, window = d["has"], d["in_window"]
    points = model.get("rfm_points") or {"r": [], "f": [], "m": []}
    nan = np.nan
    r = rfm.score(np.where(window, d["recency_days"], nan), points["r"], reverse=True)
    f = rfm.score(np.where(window, c["window_orders"], nan), points["f"])
    m = rfm.score(np.where(window, c["window_spend"], nan), points["m"])
    basis = abc_basis(pop, preds, settings)
    abc_class = abc.classify_with_floors(basis, model.get("abc_floors") or {})
    kind = segments.key_customer_kind(
        abc_class,
        c["referrals"],
        settings.influence_referrals,
        via_organization=c["key_organizations"] > 0,
        influential=c["influence_rank"] >= stats_repo.INFLUENCE_RANKS[settings.influence_level_min],
    )
    loyalty = segments.loyalty_stage(
        c["days"],
        d["tenure_days"],
        settings.long_term_days,
        c["referrals"],
        c["nps"],
        c["open_complaints"],
        preds["p_alive"],
    )
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
            days_since_campaign_response=d["days_since_campaign_response"],
        ),
        churn.ChurnRules(
            cycle_multiple=settings.cycle_multiple,
            p_alive_threshold=settings.p_alive_threshold,
            lost_after_days=settings.lost_after_days,
            lost_p_alive=settings.lost_p_alive,
            warning_threshold=settings.churn_warning_threshold,
            care_limit_days=settings.care_remind_days,
            campaign_response_days=settings.campaign_response_days,
            weights=settings.churn_weights,
        ),
    )
    with np.errstate(invalid="ignore"):
        at_risk = risk >= settings.churn_warning_threshold
    segment, rule = segments.value_segment(
        has, abc_class, kind, loyalty, preds["clv"], model.get("growth_cutoff"), at_risk=at_risk
    )
    keep_rate, keep_basis = retention(d, model, settings)
    profit = c["annual_profit"] - c["year_cost"]  # revenue × margin − cost to serve, last 365 days
    tenure_years = np.maximum(d["tenure_days"] / value.DAYS_PER_YEAR, 1.0)
    status, due_in = care.assess(
        is_key,
        d["days_since_contact"],
        c["follow_up"],
        care.Cadence(settings.care_cadence_days, settings.care_remind_days, settings.care_lapse_days),
    )
    today = business_date(pop.as_of).toordinal()
    contact = np.array([t.timestamp() if t is not None else nan for t in pop.last_contact_at], dtype=np.float64)
    responded = np.array(
        [t.timestamp() if t is not None else nan for t in pop.last_campaign_response_at], dtype=np.float64
    )
    with np.errstate(invalid="ignore"):
        return registry.columns(
            {
                "purchase_days": c["days"],
                "first_purchase_date": c["first_day"],
                "last_purchase_date": c["last_day"],
                "total_spend": c["total"],
                "avg_spend": d["avg_spend"],
                "repeat_avg_spend": np.where(d["x"] > 0, d["repeat_mean"], nan),
                "cycle_days": d["cycle_days"],
                "annual_profit": profit,
                "cost_to_serve": c["year_cost"],
                "yearly_profit": np.where(has, (c["profit"] - c["total_cost"]) / tenure_years, nan),
                "retention_rate": np.where(has, keep_rate, nan),
                "retention_basis": np.where(has, keep_basis, None),
                "margin_rate": d["margin_rate"],
                "recency_days": np.where(has, d["recency_days"], nan),
                "window_orders": c["window_orders"],
                "window_spend": c["window_spend"],
                "referrals": c["referrals"],
                "open_complaints": c["open_complaints"],
                "sla_breaches": c["sla_breaches"],
                "satisfaction": c["satisfaction"],
                "nps": c["nps"],
                "csat": c["csat"],
                "last_contact_at": contact.reshape(len(pop)),
                "recent_contacts": c["recent_contacts"],
                "rfm_r": np.where(r > 0, r, nan),
                "rfm_f": np.where(f > 0, f, nan),
                "rfm_m": np.where(m > 0, m, nan),
                "rfm_segment": rfm.segment(r, f, m),
                "clv_simple": value.simple_value(d["avg_spend"], d["cycle_days"], settings.relationship_days),
                "clv_discounted": np.where(
                    has, value.discounted_cltv(profit, keep_rate, settings.cltv_years, settings.discount_rate), nan
                ),
                "clv_probabilistic": preds["clv"],
                "p_alive": preds["p_alive"],
                "expected_purchases": preds["expected"],
                "abc_value": basis,
                "abc_class": abc_class.astype(object),
                "key_customer_kind": kind,
                "value_segment": segment,
                "segment_rule": rule,
                "loyalty_stage": loyalty,
                "relationship_level": segments.relationship_level(
                    has,
                    abc_class,
                    np.nan_to_num(d["margin_rate"], nan=settings.default_margin),
                    settings.high_margin,
                    settings.low_margin,
                ),
                "churn_risk": risk,
                "churn_reasons": reasons,
                "last_campaign_response_at": responded.reshape(len(pop)),
                "last_campaign_response_type": np.array(pop.last_campaign_response_type, dtype=object).reshape(
                    len(pop)
                ),
                "lifecycle_suggestion": suggestion,
                # the value expected of a customer not (yet) lost; a lost one keeps the stored one
                "clv_before_loss": np.where(suggestion == "lost", nan, preds["clv"]),
                "care_status": status,
                "care_due_date": today + np.floor(due_in),
            }
        )
