"""The score card: every number with its as_of and an explanation naming the inputs behind it."""

from __future__ import annotations

from typing import Any

from crm_scoring.models import churn, rfm, segments
from crm_scoring.scores.models import CustomerScore

RULES = {
    "influence": "key-customer kind {kind}: {referrals} referrals made (influence from {min} on)",
    "long_term_ab": "class {abc} and loyalty stage {loyalty}",
    "class_a": "class A: among the customers making the top {a:.0%} of value",
    "class_b": "class B: between the top {a:.0%} and {b:.0%} of value",
    "clv_growth": "probabilistic CLV {clv} at or above the top-{g:.0%} cut-off {cutoff}",
    "otherwise": "class {abc}, no rule for a higher segment applied",
}


def _f(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def card(s: CustomerScore, model: dict[str, Any] | None) -> dict[str, Any]:
    m = model or {}
    cfg = m.get("settings") or {}
    as_of = s.as_of
    unit = m.get("time_unit", "weeks")
    bg = (m.get("bgnbd") or {}).get("params")
    no_model = "no scoring run has fitted the models yet"
    r_points = [-p for p in (m.get("rfm_points") or {}).get("r", [])]
    window = cfg.get("rfm_window_days", 365)
    reasons = [{"code": name, "detail": _reason(name, s, cfg)} for name in churn.reason_names(s.churn_reasons)]
    segment_table = segments.SEGMENT_TABLE.get(s.value_segment or "")
    return {
        "customer_id": s.customer_id,
        "as_of": as_of,
        "scored_at": s.scored_at,
        "run_id": s.run_id,
        "rfm": {
            "r": s.rfm_r,
            "f": s.rfm_f,
            "m": s.rfm_m,
            "code": rfm.code(s.rfm_r, s.rfm_f, s.rfm_m) if s.rfm_r and s.rfm_f and s.rfm_m else None,
            "segment": s.rfm_segment,
            "as_of": as_of,
            "explanation": (
                f"last purchase {s.recency_days} days ago, {s.window_orders} orders and {s.window_spend} spent in "
                f"the last {window} days; quintile breakpoints of the run: recency days {r_points}, orders "
                f"{(m.get('rfm_points') or {}).get('f')}, spend {(m.get('rfm_points') or {}).get('m')}"
                if s.rfm_r
                else f"no purchase in the last {window} days" + ("" if m else f" or {no_model}")
            ),
        },
        "clv": {
            "simple": s.clv_simple,
            "discounted": s.clv_discounted,
            "probabilistic": s.clv_probabilistic,
            "as_of": as_of,
            "explanation": (
                f"simple Cv = S/t×T = {s.avg_spend} / {_f(s.cycle_days, 1)} days × "
                f"{cfg.get('relationship_days', 1095)} days; discounted CLTV = Σ P/(1+i)^t with P = "
                f"{s.annual_profit} (profit of the last 365 days), i = {cfg.get('discount_rate', 0.1)}, "
                f"n = {cfg.get('cltv_years', 3)} years; probabilistic CLV over "
                f"{cfg.get('clv_horizon_months', 12)} months from BG/NBD and Gamma-Gamma with "
                f"{s.purchase_days - 1 if s.purchase_days else 0} repeat purchase days, average repeat "
                f"spend {s.repeat_avg_spend}"
            ),
        },
        "p_alive": {
            "value": s.p_alive,
            "as_of": as_of,
            "explanation": (
                f"BG/NBD {_params(bg)} ({unit}); {s.purchase_days} purchase days, first "
                f"{s.first_purchase_date}, last {s.last_purchase_date}"
                + (" (one-time buyer: dropout-at-first-purchase allowance)" if s.purchase_days == 1 else "")
                if bg
                else no_model
            ),
        },
        "expected_purchases": {
            "value": s.expected_purchases,
            "horizon_months": cfg.get("clv_horizon_months", 12),
            "as_of": as_of,
            "explanation": f"BG/NBD conditional expectation with {_params(bg)}" if bg else no_model,
        },
        "abc_class": {
            "value": s.abc_class,
            "key_customer_kind": s.key_customer_kind,
            "as_of": as_of,
            "explanation": (
                f"value {s.abc_value:.2f} ({cfg.get('abc_value_basis', 'monetary')}) against the run's class "
                f"floors {m.get('abc_floors')}; {s.referrals} referrals made"
            ),
        },
        "value_segment": {
            "name": s.value_segment,
            "relationship_type": segment_table[0] if segment_table else None,
            "strategy": segment_table[1] if segment_table else None,
            "focus": segment_table[2] if segment_table else None,
            "rule": s.segment_rule,
            "as_of": as_of,
            "explanation": _segment_explanation(s, cfg, m) if s.value_segment else "no purchase yet",
        },
        "churn_risk": {
            "score": s.churn_risk,
            "reasons": reasons,
            "as_of": as_of,
            "explanation": (
                f"1 − P(alive) = {_f(None if s.p_alive is None else 1 - s.p_alive, 3)}, raised by each warning "
                f"point that fired ({', '.join(r['code'] for r in reasons) or 'none'})"
                if s.churn_risk is not None
                else "no purchase yet: nothing to lose"
            ),
        },
        "lifecycle_suggestion": s.lifecycle_suggestion,
        "care": {
            "status": s.care_status,
            "due_date": s.care_due_date,
            "cadence_days": cfg.get("care_cadence_days", 15) if s.care_status else None,
            "last_contact_at": s.last_contact_at,
            "as_of": as_of,
            "explanation": (
                f"key customer ({s.key_customer_kind}); last contact {s.last_contact_at or 'never'}; cadence "
                f"{cfg.get('care_cadence_days', 15)}/{cfg.get('care_remind_days', 60)}/"
                f"{cfg.get('care_lapse_days', 120)} days"
                if s.care_status
                else "care cadence applies to key customers only"
            ),
        },
        "satisfaction": {
            "nps": s.nps,
            "csat": s.csat,
            "satisfaction_index": s.satisfaction,
            "open_complaints": s.open_complaints,
            "sla_breaches": s.sla_breaches,
            "as_of": as_of,
            "explanation": f"latest survey answers within the look-back: NPS {s.nps}, CSAT {s.csat}, satisfaction "
            f"index {s.satisfaction}; {s.open_complaints} unresolved complaints, {s.sla_breaches} SLA breaches",
        },
        "loyalty_stage": {
            "value": s.loyalty_stage,
            "as_of": as_of,
            "explanation": f"{s.purchase_days} purchase days since {s.first_purchase_date}; {s.referrals} referrals; "
            f"last NPS {s.nps}; {s.open_complaints} open complaints",
        },
        "relationship_level": {
            "value": s.relationship_level,
            "as_of": as_of,
            "explanation": f"Kotler: class {s.abc_class}, margin rate {_f(s.margin_rate, 3)}",
        },
    }


def _params(p: dict[str, float] | None) -> str:
    return "" if not p else ", ".join(f"{k}={v:.4g}" for k, v in p.items())


def _segment_explanation(s: CustomerScore, cfg: dict[str, Any], m: dict[str, Any]) -> str:
    template = RULES.get(s.segment_rule or "otherwise", RULES["otherwise"])
    return template.format(
        kind=s.key_customer_kind,
        referrals=s.referrals,
        min=cfg.get("influence_referrals", 3),
        abc=s.abc_class,
        loyalty=s.loyalty_stage,
        a=cfg.get("abc_a_share", 0.8),
        b=cfg.get("abc_b_share", 0.95),
        clv=s.clv_probabilistic,
        g=cfg.get("growth_top_share", 0.2),
        cutoff=_f(m.get("growth_cutoff")),
    )


def _reason(name: str, s: CustomerScore, cfg: dict[str, Any]) -> str:
    details = {
        "overdue_purchase": f"no purchase for {s.recency_days} days, more than {cfg.get('cycle_multiple', 2)} × "
        f"the own purchase cycle of {_f(s.cycle_days, 1)} days",
        "low_p_alive": f"P(alive) {_f(s.p_alive, 3)} below {cfg.get('p_alive_threshold', 0.3)}",
        "open_complaint": f"{s.open_complaints} unresolved complaints",
        "sla_breached": f"{s.sla_breaches} complaints breached their deadline",
        "dissatisfied": f"satisfaction index {s.satisfaction} (below 1 is dissatisfied), CSAT {s.csat} (below 3 is)",
        "detractor": f"NPS answer {s.nps} (detractor, 0–6)",
        "missed_care": f"key customer, last contact {s.last_contact_at or 'never'}, over "
        f"{cfg.get('care_remind_days', 60)} days ago",
        "inactive": f"no purchase for {s.recency_days} days (lost after {cfg.get('lost_after_days', 365)})",
    }
    return details[name]
