"""Writing scores in bulk (multi-row upserts) and publishing what changed through the outbox.

`score.segment_changed` goes out when a scored customer's value segment differs from the one
stored (a first scoring is not a change). `score.churn_risk_raised` goes out when the risk crosses
the warning threshold upwards, or the lifecycle suggestion becomes `at_risk` or `lost`; a first
scoring that finds a customer at risk counts, since the warning is what the event is for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_scoring import events
from crm_scoring.models import churn
from crm_scoring.readmodel.stats import Population
from crm_scoring.scores.models import CustomerScore

table = CustomerScore.__table__
CHUNK = 2000
WARNING_SUGGESTIONS = ("at_risk", "lost")


def _num(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _money(value: Any) -> Decimal | None:
    v = float(value)
    return Decimal(f"{v:.2f}") if np.isfinite(v) else None


def _date(ordinal: float) -> date | None:
    return date.fromordinal(int(ordinal)) if np.isfinite(ordinal) else None


def rows(pop: Population, s: dict[str, Any], *, run_id: uuid.UUID | None, now: datetime) -> list[dict[str, Any]]:
    c = pop.columns
    today = pop.as_of.date().toordinal()
    out = []
    for i, cid in enumerate(pop.ids):
        has = bool(s["has"][i])
        due = s["care_due_in"][i]
        out.append(
            {
                "customer_id": cid,
                "run_id": run_id,
                "as_of": pop.as_of,
                "scored_at": now,
                "purchase_days": int(c["days"][i]),
                "first_purchase_date": _date(c["first_day"][i]),
                "last_purchase_date": _date(c["last_day"][i]),
                "total_spend": _money(c["total"][i]),
                "avg_spend": _money(s["avg_spend"][i]),
                "repeat_avg_spend": _money(s["repeat_mean"][i]) if s["x"][i] > 0 else None,
                "cycle_days": _num(s["cycle_days"][i]),
                "annual_profit": _money(c["annual_profit"][i]),
                "margin_rate": _num(s["margin_rate"][i]),
                "recency_days": int(s["recency_days"][i]) if has else None,
                "window_orders": int(c["window_orders"][i]),
                "window_spend": _money(c["window_spend"][i]),
                "referrals": int(c["referrals"][i]),
                "open_complaints": int(c["open_complaints"][i]),
                "sla_breaches": int(c["sla_breaches"][i]),
                "satisfaction": _num(c["satisfaction"][i]),
                "nps": _num(c["nps"][i]),
                "csat": _num(c["csat"][i]),
                "last_contact_at": pop.last_contact_at[i],
                "rfm_r": int(s["r"][i]) or None,
                "rfm_f": int(s["f"][i]) or None,
                "rfm_m": int(s["m"][i]) or None,
                "rfm_segment": s["rfm_segment"][i],
                "clv_simple": _money(s["clv_simple"][i]),
                "clv_discounted": _money(s["clv_discounted"][i]) if has else None,
                "clv_probabilistic": _money(s["clv"][i]),
                "p_alive": _num(s["p_alive"][i]),
                "expected_purchases": _num(s["expected"][i]),
                "abc_value": float(s["abc_value"][i]),
                "abc_class": str(s["abc_class"][i]),
                "key_customer_kind": s["key_kind"][i],
                "value_segment": s["segment"][i],
                "segment_rule": s["segment_rule"][i],
                "loyalty_stage": s["loyalty"][i],
                "relationship_level": s["relationship"][i],
                "churn_risk": _num(s["churn_risk"][i]),
                "churn_reasons": int(s["churn_reasons"][i]),
                "lifecycle_suggestion": s["lifecycle"][i],
                "care_status": s["care_status"][i],
                "care_due_date": date.fromordinal(today + int(np.floor(due))) if np.isfinite(due) else None,
                "version": 1,
            }
        )
    return out


def _upsert(session: AsyncSession) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {col.name: stmt.excluded[col.name] for col in table.columns if col.name not in ("customer_id", "version")}
    updates["version"] = table.c.version + 1
    return stmt.on_conflict_do_update(index_elements=["customer_id"], set_=updates)


async def write(
    session: AsyncSession, new_rows: Sequence[dict[str, Any]], *, warning_threshold: float
) -> dict[str, int]:
    """Upsert the rows and publish the change events in the caller's transaction."""
    ids = [r["customer_id"] for r in new_rows]
    previous: dict[uuid.UUID, tuple[Any, ...]] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = select(
            table.c.customer_id,
            table.c.value_segment,
            table.c.churn_risk,
            table.c.lifecycle_suggestion,
            table.c.version,
        ).where(table.c.customer_id.in_(ids[start : start + CHUNK]))
        previous.update({row[0]: tuple(row[1:]) for row in (await session.execute(stmt))})
    upsert = _upsert(session)
    for start in range(0, len(new_rows), CHUNK):
        await session.execute(upsert, list(new_rows[start : start + CHUNK]))
    counts = {"segment_changed": 0, "churn_risk_raised": 0}
    for row in new_rows:
        before = previous.get(row["customer_id"])
        version = 1 if before is None else before[3] + 1
        if before is not None and before[0] != row["value_segment"]:
            counts["segment_changed"] += 1
            await events.publish(
                session,
                events.SEGMENT_CHANGED,
                row["customer_id"],
                {
                    "customer_id": str(row["customer_id"]),
                    "from_segment": before[0],
                    "to_segment": row["value_segment"],
                    "rule": row["segment_rule"],
                },
                version,
            )
        risk, suggestion = row["churn_risk"], row["lifecycle_suggestion"]
        old_risk, old_suggestion = (None, None) if before is None else (before[1], before[2])
        crossed = risk is not None and risk >= warning_threshold and (old_risk is None or old_risk < warning_threshold)
        became = suggestion in WARNING_SUGGESTIONS and suggestion != old_suggestion
        if crossed or became:
            counts["churn_risk_raised"] += 1
            await events.publish(
                session,
                events.CHURN_RISK_RAISED,
                row["customer_id"],
                {
                    "customer_id": str(row["customer_id"]),
                    "churn_risk": risk,
                    "reasons": churn.reason_names(row["churn_reasons"]),
                    "lifecycle_suggestion": suggestion,
                },
                version,
            )
    return counts
