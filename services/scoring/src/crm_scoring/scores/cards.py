"""The score card: every stored score in its part (as the registry places it), with the part's
`as_of` and an explanation naming the inputs behind it.

Each part's scores come from the registry; what a part adds (its explanation and the fields that
are no stored score) is written by one small function per part below. Settings are read from the
`ScoringSettings` the scores were computed with, never restated here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from crm_chassis.dates import business_date
from crm_scoring.models import churn, fitting, rfm, segments, value
from crm_scoring.scores import registry
from crm_scoring.scores.schemas import PART_MODELS, ScoreCard
from crm_scoring.settings.schemas import ScoringSettings

NO_MODEL = "no scoring run has fitted the models yet"
RULES = {
    "influence": "key-customer kind {kind}: {influence}",
    "long_term_ab": "class {abc} and loyalty stage {loyalty}",
    "class_a": "class A: among the customers making the top {a:.0%} of value",
    "class_b": "class B: between the top {a:.0%} and {b:.0%} of value",
    "clv_growth": "probabilistic CLV {clv} at or above the top-{g:.0%} cut-off {cutoff}",
    "otherwise": "class {abc}, no rule for a higher segment applied",
}


@dataclass(frozen=True)
class Context:
    """The model the scores were measured against, and the settings they were computed with."""

    model: Mapping[str, Any] = field(default_factory=dict)
    settings: ScoringSettings = field(default_factory=ScoringSettings)

    @classmethod
    def of(cls, model: Mapping[str, Any] | None, current: ScoringSettings) -> Context:
        if not model:
            return cls({}, current)
        return cls(model, ScoringSettings.model_validate(model["settings"]))

    def quality(self, *fits: str) -> dict[str, Any]:
        """The quality of the values computed from these fits (`models.fitting.quality`)."""
        if not self.model:
            return {"quality": "no_model", "quality_reasons": [NO_MODEL]}
        rank = {"reliable": 0, "no_model": 1, "unreliable": 2}
        worst, reasons = "reliable", []
        for name in fits:
            fit = self.model.get(name)
            if fit is None and name == "gamma_gamma":  # CLV then uses the average spend: said, not marked
                reasons.append("gamma_gamma: not fitted (too few repeat buyers): the average spend is used")
                continue
            q = fitting.quality(fit)
            reasons += [f"{name}: {reason}" for reason in q["reasons"]]
            worst = max(worst, q["quality"], key=rank.__getitem__)
        return {"quality": worst, "quality_reasons": reasons}

    @property
    def population_retention(self) -> float | None:
        rate: float | None = (self.model.get("population_retention") or {}).get("rate")
        return rate

    @property
    def bgnbd(self) -> dict[str, float] | None:
        fit = self.model.get("bgnbd") or {}
        params: dict[str, float] | None = fit.get("params")
        return params


Row = Mapping[str, Any]
Explainer = Callable[[Row, Context], dict[str, Any]]


def _f(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _params(p: Mapping[str, float] | None) -> str:
    return "" if not p else ", ".join(f"{k}={v:.4g}" for k, v in p.items())


def _purchases(s: Row, ctx: Context) -> dict[str, Any]:
    return {
        "explanation": f"{s['purchase_days']} purchase days from {s['first_purchase_date']} to "
        f"{s['last_purchase_date']}, {s['total_spend']} spent net of refunds"
    }


def _rfm(s: Row, ctx: Context) -> dict[str, Any]:
    points = ctx.model.get("rfm_points") or {}
    window = ctx.settings.rfm_window_days
    scored = s["rfm_r"] and s["rfm_f"] and s["rfm_m"]
    explanation = (
        f"last purchase {s['recency_days']} days ago, {s['window_orders']} orders and {s['window_spend']} spent in "
        f"the last {window} days; quintile breakpoints of the run: recency days "
        f"{[-p for p in points.get('r', [])]}, orders {points.get('f')}, spend {points.get('m')}"
        if s["rfm_r"]
        else f"no purchase in the last {window} days" + ("" if ctx.model else f" or {NO_MODEL}")
    )
    return {"code": rfm.code(s["rfm_r"], s["rfm_f"], s["rfm_m"]) if scored else None, "explanation": explanation}


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 2))).quantize(Decimal("0.01"))


def _clv(s: Row, ctx: Context) -> dict[str, Any]:
    cfg = ctx.settings
    repeat_days = s["purchase_days"] - 1 if s["purchase_days"] else 0
    rate, basis = s["retention_rate"], s["retention_basis"]
    terms = []
    if s["clv_discounted"] is not None:
        p1 = float(s["annual_profit"])
        terms = [
            {"year": t, "profit": _money(p), "discounted": _money(d)}
            for t, p, d in value.cltv_terms(p1, rate, cfg.cltv_years, cfg.discount_rate)
        ]
    retention = (
        f"r = {_f(rate, 3)} ({'the BG/NBD model' if basis == 'model' else 'the population retention rate'})"
        if rate is not None
        else "r = 1 (no retention rate known: the profit is held flat)"
    )
    written = " + ".join(f"{t['profit']}/(1+{cfg.discount_rate})^{t['year']}" for t in terms) or "none"
    return {
        "terms": terms,
        **ctx.quality("bgnbd", "gamma_gamma"),
        "explanation": f"simple Cv = S/t×T = {s['avg_spend']} / {_f(s['cycle_days'], 1)} days × "
        f"{cfg.relationship_days} days; discounted CLTV = Σ P_t/(1+i)^t with P_t = P₁ · r^(t−1), P₁ = "
        f"{s['annual_profit']} (revenue × margin − cost to serve {s['cost_to_serve']}, last 365 days), "
        f"{retention}, i = {cfg.discount_rate}, n = {cfg.cltv_years} years: {written}; probabilistic CLV over "
        f"{cfg.clv_horizon_months} months from BG/NBD and Gamma-Gamma with {repeat_days} repeat purchase days, "
        f"average repeat spend {s['repeat_avg_spend']}",
    }


def _p_alive(s: Row, ctx: Context) -> dict[str, Any]:
    if not ctx.bgnbd:
        return {"explanation": NO_MODEL, **ctx.quality("bgnbd")}
    one_time = " (one-time buyer: dropout-at-first-purchase allowance)" if s["purchase_days"] == 1 else ""
    return {
        **ctx.quality("bgnbd"),
        "explanation": f"BG/NBD {_params(ctx.bgnbd)} ({ctx.settings.time_unit}); {s['purchase_days']} purchase "
        f"days, first {s['first_purchase_date']}, last {s['last_purchase_date']}{one_time}",
    }


def _expected(s: Row, ctx: Context) -> dict[str, Any]:
    explanation = f"BG/NBD conditional expectation with {_params(ctx.bgnbd)}" if ctx.bgnbd else NO_MODEL
    return {"horizon_months": ctx.settings.clv_horizon_months, "explanation": explanation, **ctx.quality("bgnbd")}


def key_reason(s: Row, ctx: Context) -> str | None:
    """Why the customer is a key customer, naming the organisations a `via_organization` one leads."""
    kind, cfg = s["key_customer_kind"], ctx.settings
    if kind == "via_organization":
        names = ", ".join(f"{name} ({org_id})" for org_id, name in s.get("key_organizations") or [])
        return f"senior leader of the key organisation {names or '(no longer key)'}"
    if kind not in ("value", "influence", "both"):
        return None
    value = f"class A: among the customers making the top {cfg.abc_a_share:.0%} of value"
    if kind == "value":
        return value
    influence = influence_reason(s, cfg)
    return influence if kind == "influence" else f"{value}; {influence}"


def influence_reason(s: Row, cfg: ScoringSettings) -> str:
    """What makes the customer influential: referrals made, and the influence level judged."""
    level, standing = s.get("influence_level"), s.get("industry_standing")
    said = f"{s['referrals']} referrals made (influence from {cfg.influence_referrals} on)"
    said += f", influence level {level or 'not set'} (influence from {cfg.influence_level_min} on)"
    return said + (f", industry standing: {standing}" if standing else "")


def _abc(s: Row, ctx: Context) -> dict[str, Any]:
    return {
        "key_reason": key_reason(s, ctx),
        "explanation": f"value {s['abc_value']:.2f} ({ctx.settings.abc_value_basis}) against the run's class "
        f"floors {ctx.model.get('abc_floors')}; {s['referrals']} referrals made",
    }


def _segment(s: Row, ctx: Context) -> dict[str, Any]:
    table = segments.SEGMENT_TABLE.get(s["value_segment"] or "")
    cfg = ctx.settings
    explanation = "no purchase yet"
    if s["value_segment"]:
        template = RULES.get(s["segment_rule"] or "otherwise", RULES["otherwise"])
        explanation = template.format(
            kind=s["key_customer_kind"],
            influence=influence_reason(s, cfg),
            referrals=s["referrals"],
            min=cfg.influence_referrals,
            abc=s["abc_class"],
            loyalty=s["loyalty_stage"],
            a=cfg.abc_a_share,
            b=cfg.abc_b_share,
            clv=s["clv_probabilistic"],
            g=cfg.growth_top_share,
            cutoff=_f(ctx.model.get("growth_cutoff")),
        )
    return {
        "relationship_type": table[0] if table else None,
        "strategy": table[1] if table else None,
        "focus": table[2] if table else None,
        "explanation": explanation,
    }


def _reason(name: str, s: Row, cfg: ScoringSettings) -> str:
    details = {
        "overdue_purchase": f"no purchase for {s['recency_days']} days, more than {cfg.cycle_multiple} × "
        f"the own purchase cycle of {_f(s['cycle_days'], 1)} days",
        "low_p_alive": f"P(alive) {_f(s['p_alive'], 3)} below {cfg.p_alive_threshold}",
        "open_complaint": f"{s['open_complaints']} unresolved complaints",
        "sla_breached": f"{s['sla_breaches']} complaints breached their deadline",
        "dissatisfied": f"satisfaction index {s['satisfaction']} (below 1 is dissatisfied), CSAT {s['csat']} "
        "(below 3 is)",
        "detractor": f"NPS answer {s['nps']} (detractor, 0–6)",
        "missed_care": f"key customer, last contact {s['last_contact_at'] or 'never'}, over "
        f"{cfg.care_remind_days} days ago",
        "inactive": f"no purchase for {s['recency_days']} days (lost after {cfg.lost_after_days})",
        "responded_to_campaign": f"responded to a campaign {_days_between(s['last_campaign_response_at'], s['as_of'])} "
        f"days ago ({s['last_campaign_response_type']}; within {cfg.campaign_response_days} days, a sign of "
        "engagement)",
    }
    return details[name]


def _days_between(earlier: Any, later: Any) -> int | None:
    """Business days from one stored instant to another (as the engine counts them)."""
    if earlier is None or later is None:
        return None
    first, last = (t if isinstance(t, datetime) else datetime.fromisoformat(str(t)) for t in (earlier, later))
    return business_date(last).toordinal() - business_date(first).toordinal()


def _churn(s: Row, ctx: Context) -> dict[str, Any]:
    reasons = [
        {"code": name, "detail": _reason(name, s, ctx.settings)} for name in churn.reason_names(s["churn_reasons"])
    ]
    explanation = (
        f"1 − P(alive) = {_f(None if s['p_alive'] is None else 1 - s['p_alive'], 3)}, raised by each warning "
        f"point that fired ({', '.join(r['code'] for r in reasons) or 'none'})"
        if s["churn_risk"] is not None
        else "no purchase yet: nothing to lose"
    )
    years = ctx.settings.cltv_years
    loss, basis = value.estimated_loss(
        s["lifecycle_suggestion"] == "lost",
        s["clv_before_loss"],
        s["yearly_profit"],
        ctx.population_retention,
        years,
    )
    if basis == value.LOSS_BASES[0]:
        explanation += f"; estimated loss {_f(loss)}: the probabilistic CLV before the customer was lost"
    elif basis is not None:
        explanation += (
            f"; estimated loss {_f(loss)}: yearly profit {s['yearly_profit']} × "
            f"{value.retention_years(ctx.population_retention, years):.2f} expected years within {years} "
            f"(population retention {_f(ctx.population_retention, 3)})"
        )
    return {
        "reasons": reasons,
        "estimated_loss": None if loss is None else _money(loss),
        "loss_basis": basis,
        "explanation": explanation,
        **ctx.quality("bgnbd"),
    }


def too_frequent(s: Row, cfg: ScoringSettings) -> bool:
    """Contacted more often than the settings allow (too frequent is harassment), key or not."""
    return bool(s["recent_contacts"] and s["recent_contacts"] > cfg.care_too_frequent_contacts)


def _care(s: Row, ctx: Context) -> dict[str, Any]:
    cfg = ctx.settings
    frequent = too_frequent(s, cfg)
    return {
        "cadence_days": cfg.care_cadence_days if s["care_status"] else None,
        "too_frequent": frequent,
        "explanation": (
            f"key customer ({s['key_customer_kind']}: {key_reason(s, ctx)}); "
            f"last contact {s['last_contact_at'] or 'never'}; "
            f"cadence {cfg.care_cadence_days}/{cfg.care_remind_days}/{cfg.care_lapse_days} days"
            if s["care_status"]
            else "care cadence applies to key customers only"
        )
        + (
            f"; too frequent: {s['recent_contacts']} contacts in the last {cfg.care_too_frequent_days} days, "
            f"more than {cfg.care_too_frequent_contacts}"
            if frequent
            else ""
        ),
    }


def _satisfaction(s: Row, ctx: Context) -> dict[str, Any]:
    return {
        "explanation": f"latest survey answers within the last {ctx.settings.feedback_lookback_days} days: NPS "
        f"{s['nps']}, CSAT {s['csat']}, satisfaction index {s['satisfaction']}; {s['open_complaints']} unresolved "
        f"complaints, {s['sla_breaches']} SLA breaches"
    }


def _loyalty(s: Row, ctx: Context) -> dict[str, Any]:
    return {
        "explanation": f"{s['purchase_days']} purchase days since {s['first_purchase_date']}; {s['referrals']} "
        f"referrals; last NPS {s['nps']}; {s['open_complaints']} open complaints"
    }


def _relationship(s: Row, ctx: Context) -> dict[str, Any]:
    return {"explanation": f"Kotler: class {s['abc_class']}, margin rate {_f(s['margin_rate'], 3)}"}


EXPLAINERS: dict[registry.Part, Explainer] = {
    "purchases": _purchases,
    "rfm": _rfm,
    "clv": _clv,
    "p_alive": _p_alive,
    "expected_purchases": _expected,
    "abc_class": _abc,
    "value_segment": _segment,
    "churn_risk": _churn,
    "care": _care,
    "satisfaction": _satisfaction,
    "loyalty_stage": _loyalty,
    "relationship_level": _relationship,
}


def card(s: Row, ctx: Context) -> BaseModel:
    """The card of a stored score row (the live one or a backtest's)."""
    parts: dict[str, Any] = {}
    for part, model in PART_MODELS.items():
        values = {score.field: s[score.column] for score in registry.of_part(part) if score.field is not None}
        parts[part] = model(as_of=s["as_of"], **values, **EXPLAINERS[part](s, ctx))
    return ScoreCard(
        customer_id=s["customer_id"],
        as_of=s["as_of"],
        scored_at=s.get("scored_at"),
        run_id=s["run_id"],
        lifecycle_suggestion=s["lifecycle_suggestion"],
        **parts,
    )
