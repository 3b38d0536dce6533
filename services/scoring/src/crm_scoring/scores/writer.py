"""Writing scores in bulk and publishing what changed through the outbox.

Scores are first laid out as one array per stored column (`staged`): numbers as float64 with NaN
for "none" (money in whole cents), labels as object arrays. From there PostgreSQL takes them by binary COPY into a
temporary table, and one statement each publishes the change events and upserts the scores, so no
Python object is made per customer. Elsewhere (SQLite) they become rows for multi-row upserts.

`score.segment_changed` goes out when a scored customer's value segment differs from the one
stored (a first scoring is not a change). `score.churn_risk_raised` goes out when the risk crosses
the warning threshold upwards, or the lifecycle suggestion becomes `at_risk` or `lost`; a first
scoring that finds a customer at risk counts, since the warning is what the event is for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.events import claim_outbox
from crm_scoring import events, pgcopy
from crm_scoring.db import SCHEMA, infra
from crm_scoring.models import churn
from crm_scoring.readmodel.stats import Population
from crm_scoring.scores.models import CustomerScore

table = CustomerScore.__table__
OUTBOX = f"{SCHEMA}.{infra.outbox.name}"
CHUNK = 2000
WARNING_SUGGESTIONS = ("at_risk", "lost")
STAGE = "customer_score_stage"
EVENT_STAGE = "score_event_stage"

# how each stored column is kept in the staged arrays
Kind = Literal["count", "integer", "float", "money", "date", "time", "label"]
KINDS: dict[str, Kind] = {
    "purchase_days": "count",
    "first_purchase_date": "date",
    "last_purchase_date": "date",
    "total_spend": "money",
    "avg_spend": "money",
    "repeat_avg_spend": "money",
    "cycle_days": "float",
    "annual_profit": "money",
    "margin_rate": "float",
    "recency_days": "integer",
    "window_orders": "count",
    "window_spend": "money",
    "referrals": "count",
    "open_complaints": "count",
    "sla_breaches": "count",
    "satisfaction": "float",
    "nps": "float",
    "csat": "float",
    "last_contact_at": "time",
    "rfm_r": "integer",
    "rfm_f": "integer",
    "rfm_m": "integer",
    "rfm_segment": "label",
    "clv_simple": "money",
    "clv_discounted": "money",
    "clv_probabilistic": "money",
    "p_alive": "float",
    "expected_purchases": "float",
    "abc_value": "float",
    "abc_class": "label",
    "key_customer_kind": "label",
    "value_segment": "label",
    "segment_rule": "label",
    "loyalty_stage": "label",
    "relationship_level": "label",
    "churn_risk": "float",
    "churn_reasons": "count",
    "lifecycle_suggestion": "label",
    "care_status": "label",
    "care_due_date": "date",
}
REASON_NAMES = [churn.Reason(1 << bit).name for bit in range(len(churn.Reason))]
Staged = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Stamp:
    """What every row of one write shares."""

    run_id: uuid.UUID | None
    as_of: datetime
    scored_at: datetime
    warning_threshold: float


def staged(pop: Population, s: dict[str, Any]) -> Staged:
    """Every stored column of every customer, as arrays (NaN or None where the value is none)."""
    c, nan = pop.columns, np.nan
    has = s["has"]
    today = pop.as_of.date().toordinal()
    contact = np.array(
        [t.timestamp() if t is not None else nan for t in pop.last_contact_at] or np.empty(0), dtype=np.float64
    )
    with np.errstate(invalid="ignore"):
        out: Staged = {
            "purchase_days": c["days"],
            "first_purchase_date": c["first_day"],
            "last_purchase_date": c["last_day"],
            "total_spend": c["total"],
            "avg_spend": s["avg_spend"],
            "repeat_avg_spend": np.where(s["x"] > 0, s["repeat_mean"], nan),
            "cycle_days": s["cycle_days"],
            "annual_profit": c["annual_profit"],
            "margin_rate": s["margin_rate"],
            "recency_days": np.where(has, s["recency_days"], nan),
            "window_orders": c["window_orders"],
            "window_spend": c["window_spend"],
            "referrals": c["referrals"],
            "open_complaints": c["open_complaints"],
            "sla_breaches": c["sla_breaches"],
            "satisfaction": c["satisfaction"],
            "nps": c["nps"],
            "csat": c["csat"],
            "last_contact_at": contact,
            "rfm_r": np.where(s["r"] > 0, s["r"], nan),
            "rfm_f": np.where(s["f"] > 0, s["f"], nan),
            "rfm_m": np.where(s["m"] > 0, s["m"], nan),
            "rfm_segment": s["rfm_segment"],
            "clv_simple": s["clv_simple"],
            "clv_discounted": np.where(has, s["clv_discounted"], nan),
            "clv_probabilistic": s["clv"],
            "p_alive": s["p_alive"],
            "expected_purchases": s["expected"],
            "abc_value": s["abc_value"],
            "abc_class": s["abc_class"].astype(object),
            "key_customer_kind": s["key_kind"],
            "value_segment": s["segment"],
            "segment_rule": s["segment_rule"],
            "loyalty_stage": s["loyalty"],
            "relationship_level": s["relationship"],
            "churn_risk": s["churn_risk"],
            "churn_reasons": s["churn_reasons"],
            "lifecycle_suggestion": s["lifecycle"],
            "care_status": s["care_status"],
            "care_due_date": today + np.floor(s["care_due_in"]),
        }
    for name, kind in KINDS.items():
        if kind != "label":  # inf is no more a stored number than NaN
            values = np.asarray(out[name], dtype=np.float64)
            if kind == "money":  # whole cents, rounded half to even once for both write paths
                with np.errstate(invalid="ignore", over="ignore"):
                    values = np.round(values * 100.0)
            out[name] = np.where(np.isfinite(values), values, nan)
    return out


def _python(kind: Kind, value: Any) -> Any:
    if kind == "label":
        return None if value is None else str(value)
    v = float(value)
    if not np.isfinite(v):
        return None if kind != "count" else 0
    if kind in ("count", "integer"):
        return int(v)
    if kind == "money":
        return Decimal(int(v)).scaleb(-2)
    if kind == "date":
        return date.fromordinal(int(v))
    if kind == "time":
        return datetime.fromtimestamp(v, UTC)
    return v


def rows(ids: Sequence[uuid.UUID], columns: Staged, stamp: Stamp) -> list[dict[str, Any]]:
    """The staged columns as row dicts of stored values (for multi-row upserts)."""
    out = []
    for i, cid in enumerate(ids):
        row: dict[str, Any] = {
            "customer_id": cid,
            "run_id": stamp.run_id,
            "as_of": stamp.as_of,
            "scored_at": stamp.scored_at,
            "version": 1,
        }
        for name, kind in KINDS.items():
            row[name] = _python(kind, columns[name][i])
        out.append(row)
    return out


async def write(
    session: AsyncSession, pop: Population, columns: Staged, stamp: Stamp, *, start: int = 0, stop: int | None = None
) -> dict[str, int]:
    """Upsert customers [start, stop) of the population and publish the change events, in the
    caller's transaction. Returns how many events of each kind went out."""
    stop = len(pop) if stop is None else stop
    part = {name: values[start:stop] for name, values in columns.items()}
    if session.get_bind().dialect.name == "postgresql":
        return await _copy_and_upsert(session, pop.keys[start:stop], part, stamp)
    return await _upsert_rows(session, rows(pop.ids[start:stop], part, stamp), stamp)


# --- PostgreSQL: binary COPY into a temporary table, then set-based statements -----------------


def _stage_type(kind: Kind) -> str:
    """Labels are staged as codes (int2 on the wire), everything else as float8."""
    return "smallint" if kind == "label" else "double precision"


def _stored(name: str, kind: Kind) -> str:
    """SQL turning staged column `s.name` into the stored value."""
    if kind == "label":
        return f"(CAST(:v_{name} AS text[]))[s.{name}]"  # code 0 is outside the array: NULL
    if kind == "count":
        return f"CAST(s.{name} AS integer)"
    value = f"NULLIF(s.{name}, 'NaN')"
    return {
        "integer": f"CAST({value} AS integer)",
        "float": value,
        "money": f"CAST(CAST({value} AS bigint) AS numeric) * 0.01",
        "date": f"DATE '0001-01-01' + (CAST({value} AS integer) - 1)",
        "time": f"to_timestamp({value})",
    }[kind]


def _codes(values: NDArray[Any]) -> tuple[NDArray[np.int16], list[str]]:
    """Labels as 1-based codes into a vocabulary; 0 for none."""
    vocabulary = [v for v in dict.fromkeys(values.tolist()) if v is not None]
    codes = np.zeros(len(values), dtype=np.int16)
    for code, label in enumerate(vocabulary, start=1):
        codes[values == label] = code
    return codes, [str(v) for v in vocabulary]


# The statements below are assembled from this module's constant identifiers only; every value
# travels as a bind parameter.
_TARGET = f"{SCHEMA}.{CustomerScore.__tablename__}"
_STORED = {name: _stored(name, kind) for name, kind in KINDS.items()}
_CREATE_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (customer_id uuid NOT NULL, "
    + ", ".join(f"{name} {_stage_type(kind)} NOT NULL" for name, kind in KINDS.items())
    + ") ON COMMIT DELETE ROWS"
)
_CREATE_EVENT_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {EVENT_STAGE} "
    "(customer_id uuid NOT NULL, ord smallint NOT NULL, type text NOT NULL, version integer NOT NULL, "
    "data jsonb NOT NULL) ON COMMIT DELETE ROWS"
)
# old and new values side by side; the range bound lets the join read only this chunk's part
_PAIRS = (
    "SELECT s.customer_id, c.version AS old_version, c.value_segment AS old_segment, c.churn_risk AS old_risk, "  # noqa: S608
    f"c.lifecycle_suggestion AS old_suggestion, {_STORED['value_segment']} AS segment, "
    f"{_STORED['segment_rule']} AS rule, {_STORED['churn_risk']} AS risk, "
    f"{_STORED['lifecycle_suggestion']} AS suggestion, CAST(s.churn_reasons AS integer) AS reasons "
    f"FROM {STAGE} AS s LEFT JOIN {_TARGET} AS c "
    "ON c.customer_id = s.customer_id AND c.customer_id BETWEEN :lo AND :hi"
)
_STAGE_EVENTS = (
    f"WITH pair AS MATERIALIZED ({_PAIRS}) "  # noqa: S608
    f"INSERT INTO {EVENT_STAGE} (customer_id, ord, type, version, data) "
    f"SELECT customer_id, 1, '{events.SEGMENT_CHANGED}', old_version + 1, jsonb_build_object("
    "'customer_id', CAST(customer_id AS text), 'from_segment', old_segment, 'to_segment', segment, 'rule', rule) "
    "FROM pair WHERE old_version IS NOT NULL AND old_segment IS DISTINCT FROM segment "
    f"UNION ALL SELECT customer_id, 2, '{events.CHURN_RISK_RAISED}', coalesce(old_version, 0) + 1, "
    "jsonb_build_object('customer_id', CAST(customer_id AS text), 'churn_risk', risk, 'reasons', "
    "to_jsonb(ARRAY(SELECT r.name FROM unnest(CAST(:reason_names AS text[])) WITH ORDINALITY AS r(name, bit) "
    "WHERE (reasons & (1 << CAST(r.bit - 1 AS integer))) <> 0 ORDER BY r.bit)), 'lifecycle_suggestion', suggestion) "
    "FROM pair WHERE (risk >= :threshold AND (old_risk IS NULL OR old_risk < :threshold)) "
    f"OR (suggestion IN ({', '.join(repr(s) for s in WARNING_SUGGESTIONS)}) "
    "AND suggestion IS DISTINCT FROM old_suggestion)"
)
_STAMPED = ("run_id", "as_of", "scored_at")
_UPDATE = (
    f"UPDATE {_TARGET} AS c SET {', '.join(f'{name} = :{name}' for name in _STAMPED)}, "  # noqa: S608
    f"{', '.join(f'{name} = {value}' for name, value in _STORED.items())}, version = c.version + 1 "
    f"FROM {STAGE} AS s WHERE c.customer_id = s.customer_id AND c.customer_id BETWEEN :lo AND :hi"
)
_INSERT = (
    f"INSERT INTO {_TARGET} AS c (customer_id, {', '.join(_STAMPED)}, {', '.join(KINDS)}, version) "  # noqa: S608
    f"SELECT s.customer_id, {', '.join(f':{name}' for name in _STAMPED)}, {', '.join(_STORED.values())}, 1 "
    f"FROM {STAGE} AS s WHERE NOT EXISTS (SELECT FROM {_TARGET} AS t WHERE t.customer_id = s.customer_id) "
    # a customer first scored by a concurrent re-scoring since the UPDATE
    f"ON CONFLICT (customer_id) DO UPDATE SET "
    f"{', '.join(f'{name} = EXCLUDED.{name}' for name in (*_STAMPED, *KINDS))}, version = c.version + 1"
)
_PUBLISH = (
    f"INSERT INTO {OUTBOX} (id, type, aggregate_id, version, occurred_at, data) "  # noqa: S608
    f"SELECT gen_random_uuid(), type, CAST(customer_id AS text), version, :scored_at, data FROM {EVENT_STAGE} "
    "ORDER BY customer_id, ord"
)


async def _copy_and_upsert(
    session: AsyncSession, keys: NDArray[np.void], columns: Staged, stamp: Stamp
) -> dict[str, int]:
    """Stage by COPY; decide the events from old and new values; update, insert; then publish.

    Score rows are locked before the outbox (as in the row-by-row path), and the outbox lock is
    held only for the short final insert, so concurrent chunk writers overlap their updates.
    """
    if not len(keys):
        return {"segment_changed": 0, "churn_risk_raised": 0}
    for ddl in (_CREATE_STAGE, _CREATE_EVENT_STAGE):
        await session.execute(text(ddl))
    for stage in (STAGE, EVENT_STAGE):  # emptied at commit; emptied here for a second write in one transaction
        await session.execute(text(f"DELETE FROM {stage}"))  # noqa: S608
    payload: dict[str, tuple[pgcopy.Kind, NDArray[Any]]] = {"customer_id": ("uuid", keys)}
    params: dict[str, Any] = {
        "run_id": stamp.run_id,
        "as_of": stamp.as_of,
        "scored_at": stamp.scored_at,
        "threshold": stamp.warning_threshold,
        "reason_names": REASON_NAMES,
        "lo": uuid.UUID(bytes=min(key.tobytes() for key in keys)),
        "hi": uuid.UUID(bytes=max(key.tobytes() for key in keys)),
    }
    for name, kind in KINDS.items():
        if kind == "label":
            codes, params[f"v_{name}"] = _codes(columns[name])
            payload[name] = ("int2", codes)
        else:
            payload[name] = ("float8", columns[name])
    await pgcopy.write(session, STAGE, payload)

    async def run(sql: str) -> Any:
        used: list[Any] = [bindparam(k, v) for k, v in params.items() if f":{k}" in sql]
        return await session.execute(text(sql).bindparams(*used))

    await run(_STAGE_EVENTS)
    counting = text(f"SELECT ord, count(*) FROM {EVENT_STAGE} GROUP BY ord")  # noqa: S608
    counted: dict[int, int] = dict((await session.execute(counting)).all())
    await run(_UPDATE)
    await run(_INSERT)
    if counted:
        await claim_outbox(session)
        await run(_PUBLISH)
    return {"segment_changed": counted.get(1, 0), "churn_risk_raised": counted.get(2, 0)}


# --- elsewhere: multi-row upserts, events decided row by row ---------------------------------


def _upsert(session: AsyncSession) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {col.name: stmt.excluded[col.name] for col in table.columns if col.name not in ("customer_id", "version")}
    updates["version"] = table.c.version + 1
    return stmt.on_conflict_do_update(index_elements=["customer_id"], set_=updates)


async def _upsert_rows(session: AsyncSession, new_rows: Sequence[dict[str, Any]], stamp: Stamp) -> dict[str, int]:
    warning_threshold = stamp.warning_threshold
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
    changes: list[tuple[str, uuid.UUID, dict[str, Any], int]] = []
    for row in new_rows:
        before = previous.get(row["customer_id"])
        version = 1 if before is None else before[3] + 1
        if before is not None and before[0] != row["value_segment"]:
            data = {
                "customer_id": str(row["customer_id"]),
                "from_segment": before[0],
                "to_segment": row["value_segment"],
                "rule": row["segment_rule"],
            }
            changes.append((events.SEGMENT_CHANGED, row["customer_id"], data, version))
        risk, suggestion = row["churn_risk"], row["lifecycle_suggestion"]
        old_risk, old_suggestion = (None, None) if before is None else (before[1], before[2])
        crossed = risk is not None and risk >= warning_threshold and (old_risk is None or old_risk < warning_threshold)
        became = suggestion in WARNING_SUGGESTIONS and suggestion != old_suggestion
        if crossed or became:
            data = {
                "customer_id": str(row["customer_id"]),
                "churn_risk": risk,
                "reasons": churn.reason_names(row["churn_reasons"]),
                "lifecycle_suggestion": suggestion,
            }
            changes.append((events.CHURN_RISK_RAISED, row["customer_id"], data, version))
    upsert = _upsert(session)
    for start in range(0, len(new_rows), CHUNK):
        await session.execute(upsert, list(new_rows[start : start + CHUNK]))
    # score rows first, the outbox after: the same lock order as the bulk path
    for type_, customer_id, data, version in changes:
        await events.publish(session, type_, customer_id, data, version)
    return {
        "segment_changed": sum(1 for c in changes if c[0] == events.SEGMENT_CHANGED),
        "churn_risk_raised": sum(1 for c in changes if c[0] == events.CHURN_RISK_RAISED),
    }
