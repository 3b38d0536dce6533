"""The scores' bulk data access: writing scores in bulk and publishing what changed through the outbox.

Services lay scores out with `staged` and hand them to `write`; the statements stay here, written
for the database rather than through the ORM, because a full run writes every customer at once.
Scores are first laid out as one array per stored column (`staged`): numbers as float64 with NaN
for "none" (money in whole cents), labels as object arrays. From there PostgreSQL takes them by binary COPY into a
temporary table, and one statement each publishes the change events and upserts the scores, so no
Python object is made per customer. Elsewhere (SQLite) they become rows for multi-row upserts.

The stored columns, their kinds and the event rules come from the registry (`scores/registry.py`):
the staged layout, the COPY columns, every statement and the row dicts are derived from it, and the
event rules are rendered into SQL here (`_condition`, `_json`) and evaluated in Python by the
registry itself for the row path. A backtest's results go to `run_score` the same way, with no
events (`write_run`).

Where a customer's suggestion turns at_risk or lost (`registry.opens_action`) in a value segment
whose countermeasure acts (`win_back`, `retain`), the same write opens a retention action for them,
at most one open per customer (a unique index on the open ones, inserted with ON CONFLICT DO NOTHING):
in SQL from the old and new values side by side on PostgreSQL, row by row elsewhere.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import upsert
from crm_chassis.events import claim_outbox
from crm_scoring import events, pgcopy
from crm_scoring.db import SCHEMA, infra
from crm_scoring.models import churn, segments
from crm_scoring.readmodel.stats_repository import Population
from crm_scoring.retention import repository as action_repo
from crm_scoring.retention.models import RetentionAction
from crm_scoring.scores import registry
from crm_scoring.scores.models import customer_score, run_score
from crm_scoring.scores.registry import COMPARED, EVENTS, SCORES, Kind
from crm_scoring.settings.schemas import ScoringSettings

table = customer_score
OUTBOX = f"{SCHEMA}.{infra.outbox.name}"
CHUNK = 2000
STAGE = "customer_score_stage"
EVENT_STAGE = "score_event_stage"
KINDS: dict[str, Kind] = {score.column: score.kind for score in SCORES}
REASON_NAMES = [churn.Reason(1 << bit).name for bit in range(len(churn.Reason))]
Staged = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class Stamp:
    """What every row of one write shares; `thresholds` are the settings the event rules name."""

    run_id: uuid.UUID | None
    as_of: datetime
    scored_at: datetime
    thresholds: Mapping[str, float]
    # the value segments whose countermeasure opens a retention action, with it
    countermeasures: Mapping[str, str] = dataclasses.field(default_factory=dict)
    action_due_days: int = 14

    @classmethod
    def of(cls, settings: ScoringSettings, *, run_id: uuid.UUID | None, as_of: datetime, scored_at: datetime) -> Stamp:
        names = {s.trigger.setting for s in SCORES if isinstance(s.trigger, registry.RoseTo)}
        acting = {
            segment: measure
            for segment, measure in settings.countermeasures.items()
            if measure in segments.ACTING_COUNTERMEASURES
        }
        thresholds = {name: float(getattr(settings, name)) for name in names}
        return cls(run_id, as_of, scored_at, thresholds, acting, settings.retention_due_days)

    @property
    def action_due_date(self) -> date:
        return (self.scored_at + timedelta(days=self.action_due_days)).date()


def staged(scores: Mapping[str, NDArray[Any]]) -> Staged:
    """The engine's scores as stored-column arrays: numbers as float64 with NaN for none (inf is
    no more a stored number than NaN), money in whole cents, labels as object arrays."""
    out: Staged = {}
    for name, kind in KINDS.items():
        if kind == "label":
            out[name] = np.asarray(scores[name], dtype=object)
            continue
        values = np.asarray(scores[name], dtype=np.float64)
        if kind == "money":  # whole cents, rounded half to even once for both write paths
            with np.errstate(invalid="ignore", over="ignore"):
                values = np.round(values * 100.0)
        out[name] = np.where(np.isfinite(values), values, np.nan)
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


def _values(columns: Staged, i: int) -> dict[str, Any]:
    return {name: _python(kind, columns[name][i]) for name, kind in KINDS.items()}


def rows(ids: Sequence[uuid.UUID], columns: Staged, stamp: Stamp) -> list[dict[str, Any]]:
    """The staged columns as row dicts of stored values (for multi-row upserts)."""
    stamped = {"run_id": stamp.run_id, "as_of": stamp.as_of, "scored_at": stamp.scored_at, "version": 1}
    return [{"customer_id": cid, **stamped, **_values(columns, i)} for i, cid in enumerate(ids)]


async def write(
    session: AsyncSession, pop: Population, columns: Staged, stamp: Stamp, *, start: int = 0, stop: int | None = None
) -> dict[str, int]:
    """Upsert customers [start, stop) of the population into the live cards and publish the change
    events, in the caller's transaction. Returns how many events of each kind went out."""
    stop = len(pop) if stop is None else stop
    part = {name: values[start:stop] for name, values in columns.items()}
    if _is_postgres(session):
        return await _copy_and_upsert(session, pop.keys[start:stop], part, stamp)
    return await _upsert_rows(session, rows(pop.ids[start:stop], part, stamp), stamp)


async def write_run(
    session: AsyncSession,
    pop: Population,
    columns: Staged,
    *,
    run_id: uuid.UUID,
    as_of: datetime,
    start: int = 0,
    stop: int | None = None,
) -> None:
    """Store customers [start, stop) as a backtest's results under its run: no card, no event."""
    stop = len(pop) if stop is None else stop
    part = {name: values[start:stop] for name, values in columns.items()}
    if _is_postgres(session):
        if stop > start:
            params = await _stage(session, pop.keys[start:stop], part)
            await _run(session, _INSERT_RUN, {**params, "run_id": run_id, "as_of": as_of})
        return
    ids = pop.ids[start:stop]
    new_rows = [{"run_id": run_id, "customer_id": cid, "as_of": as_of, **_values(part, i)} for i, cid in enumerate(ids)]
    for first in range(0, len(new_rows), CHUNK):
        await session.execute(run_score.insert(), new_rows[first : first + CHUNK])


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


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
    listed = values.tolist()
    vocabulary = [v for v in dict.fromkeys(listed) if v is not None]
    code_of = {label: code for code, label in enumerate(vocabulary, start=1)}
    codes = np.fromiter((code_of.get(v, 0) for v in listed), dtype=np.int16, count=len(listed))
    return codes, [str(v) for v in vocabulary]


def key_range(keys: NDArray[np.void]) -> tuple[uuid.UUID, uuid.UUID]:
    """The least and the greatest of 16-byte keys, in PostgreSQL's uuid order (bytewise)."""
    halves = keys.view(">u8").reshape(-1, 2)
    order = np.lexsort((halves[:, 1], halves[:, 0]))
    return uuid.UUID(bytes=keys[order[0]].tobytes()), uuid.UUID(bytes=keys[order[-1]].tobytes())


def _literal(label: str) -> str:
    return "'" + label.replace("'", "''") + "'"


def _condition(score: registry.Score, trigger: registry.Trigger) -> str:
    """A registry trigger as SQL over the pair's `old_*` and `new_*` values."""
    old, new = f"old_{score.column}", f"new_{score.column}"
    if isinstance(trigger, registry.Changed):
        return f"(old_version IS NOT NULL AND {old} IS DISTINCT FROM {new})"
    if isinstance(trigger, registry.Differs):
        return f"(old_version IS NULL OR {old} IS DISTINCT FROM {new})"
    if isinstance(trigger, registry.RoseTo):
        limit = f":t_{trigger.setting}"
        return f"({new} >= {limit} AND ({old} IS NULL OR {old} < {limit}))"
    if isinstance(trigger, registry.BecameOneOf):
        return f"({new} IN ({', '.join(_literal(v) for v in trigger.values)}) AND {new} IS DISTINCT FROM {old})"
    raise TypeError(f"no SQL for trigger {trigger!r}")


def _json(value: registry.Value) -> str:
    if isinstance(value, registry.New):
        return f"new_{value.column}"
    if isinstance(value, registry.Old):
        return f"old_{value.column}"
    if isinstance(value, registry.ReasonNames):
        return (
            "to_jsonb(ARRAY(SELECT r.name FROM unnest(CAST(:reason_names AS text[])) WITH ORDINALITY AS r(name, bit) "  # noqa: S608
            f"WHERE (new_{value.column} & (1 << CAST(r.bit - 1 AS integer))) <> 0 ORDER BY r.bit))"
        )
    return "CAST(customer_id AS text)"


# The statements below are assembled from the registry's and this module's constant identifiers
# only; every value travels as a bind parameter.
_TARGET = f"{SCHEMA}.{customer_score.name}"
_RUN_TARGET = f"{SCHEMA}.{run_score.name}"
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
_NEW = tuple(
    dict.fromkeys(
        [s.column for rule in EVENTS for s in rule.triggers]
        + [v.column for rule in EVENTS for _, v in rule.payload if isinstance(v, registry.New | registry.ReasonNames)]
    )
)
# old and new values side by side; the range bound lets the join read only this chunk's part
_PAIRS = (
    "SELECT s.customer_id, c.version AS old_version, "  # noqa: S608
    + ", ".join([f"c.{name} AS old_{name}" for name in COMPARED] + [f"{_STORED[name]} AS new_{name}" for name in _NEW])
    + f" FROM {STAGE} AS s LEFT JOIN {_TARGET} AS c "
    "ON c.customer_id = s.customer_id AND c.customer_id BETWEEN :lo AND :hi"
)
_EVENT_INSERT = (
    f"INSERT INTO {EVENT_STAGE} (customer_id, ord, type, version, data) "  # noqa: S608
    + " UNION ALL ".join(
        f"SELECT customer_id, {ord}, {_literal(rule.type)}, coalesce(old_version, 0) + 1, jsonb_build_object("  # noqa: S608
        + ", ".join(f"{_literal(name)}, {_json(value)}" for name, value in rule.payload)
        + ") FROM pair WHERE "
        + " OR ".join(_condition(s, trigger) for s, trigger in rule.conditions)
        for ord, rule in enumerate(EVENTS, start=1)
    )
)
_STAMPED = ("run_id", "as_of", "scored_at")
_ACTIONS = f"{SCHEMA}.{RetentionAction.__tablename__}"
_TURNED = _condition(registry.BY_COLUMN["lifecycle_suggestion"], registry.TURNED_WARNING)
_ACTION_INSERT = (
    f"INSERT INTO {_ACTIONS} (id, customer_id, countermeasure, suggestion, value_segment, status, created_at, "  # noqa: S608
    "due_date, version) "
    "SELECT gen_random_uuid(), pair.customer_id, m.countermeasure, pair.new_lifecycle_suggestion, "
    "pair.new_value_segment, 'open', :scored_at, :due_date, 1 FROM pair "
    "JOIN unnest(CAST(:acting_segments AS text[]), CAST(:acting_measures AS text[])) AS m(segment, countermeasure) "
    f"ON m.segment = pair.new_value_segment WHERE {_TURNED} "
    "ON CONFLICT (customer_id) WHERE status = 'open' DO NOTHING"
)
# the pairs are joined once for both: the events, and the retention actions where they act
_STAGE_EVENTS = f"WITH pair AS MATERIALIZED ({_PAIRS}) {_EVENT_INSERT}"
_STAGE_EVENTS_AND_ACTIONS = f"WITH pair AS MATERIALIZED ({_PAIRS}), opened AS ({_ACTION_INSERT}) {_EVENT_INSERT}"


def _kept(name: str, new: dict[str, str]) -> str:
    """The value an update stores: the new one, or the stored one while the score keeps it."""
    kept = registry.BY_COLUMN[name].kept_while
    if kept is None:
        return new[name]
    return f"CASE WHEN {new[kept[0]]} = {_literal(kept[1])} THEN c.{name} ELSE {new[name]} END"


_EXCLUDED = {name: f"EXCLUDED.{name}" for name in KINDS}
# a card scored from newer facts (a re-scoring while a run was fitting) is left as it is
_KEEP_NEWER = (
    f"DELETE FROM {STAGE} AS s USING {_TARGET} AS c "  # noqa: S608
    "WHERE c.customer_id = s.customer_id AND c.customer_id BETWEEN :lo AND :hi AND c.scored_at > :scored_at"
)
_UPDATE = (
    f"UPDATE {_TARGET} AS c SET {', '.join(f'{name} = :{name}' for name in _STAMPED)}, "  # noqa: S608
    f"{', '.join(f'{name} = {_kept(name, _STORED)}' for name in KINDS)}, version = c.version + 1 "
    f"FROM {STAGE} AS s WHERE c.customer_id = s.customer_id AND c.customer_id BETWEEN :lo AND :hi "
    "AND c.scored_at <= :scored_at"
)
_INSERT = (
    f"INSERT INTO {_TARGET} AS c (customer_id, {', '.join(_STAMPED)}, {', '.join(KINDS)}, version) "  # noqa: S608
    f"SELECT s.customer_id, {', '.join(f':{name}' for name in _STAMPED)}, {', '.join(_STORED.values())}, 1 "
    f"FROM {STAGE} AS s WHERE NOT EXISTS (SELECT FROM {_TARGET} AS t WHERE t.customer_id = s.customer_id) "
    # a customer first scored by a concurrent re-scoring since the UPDATE
    f"ON CONFLICT (customer_id) DO UPDATE SET "
    f"{', '.join(f'{name} = EXCLUDED.{name}' for name in _STAMPED)}, "
    f"{', '.join(f'{name} = {_kept(name, _EXCLUDED)}' for name in KINDS)}, version = c.version + 1 "
    "WHERE c.scored_at <= EXCLUDED.scored_at"
)
_INSERT_RUN = (
    f"INSERT INTO {_RUN_TARGET} (run_id, customer_id, as_of, {', '.join(KINDS)}) "  # noqa: S608
    f"SELECT :run_id, s.customer_id, :as_of, {', '.join(_STORED.values())} FROM {STAGE} AS s"
)
_PUBLISH = (
    f"INSERT INTO {OUTBOX} (id, type, aggregate_id, version, occurred_at, data) "  # noqa: S608
    f"SELECT gen_random_uuid(), type, CAST(customer_id AS text), version, :scored_at, data FROM {EVENT_STAGE} "
    "ORDER BY customer_id, ord"
)


async def _run(session: AsyncSession, sql: str, params: Mapping[str, Any]) -> Any:
    used: list[Any] = [bindparam(k, v) for k, v in params.items() if f":{k}" in sql]
    return await session.execute(text(sql).bindparams(*used))


async def _stage(session: AsyncSession, keys: NDArray[np.void], columns: Staged) -> dict[str, Any]:
    """COPY the chunk into the stage; returns the label vocabularies and the chunk's id range."""
    for ddl in (_CREATE_STAGE, _CREATE_EVENT_STAGE):
        await session.execute(text(ddl))
    for stage in (STAGE, EVENT_STAGE):  # emptied at commit; emptied here for a second write in one transaction
        await session.execute(text(f"DELETE FROM {stage}"))  # noqa: S608
    payload: dict[str, tuple[pgcopy.Kind, NDArray[Any]]] = {"customer_id": ("uuid", keys)}
    lo, hi = key_range(keys)
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    for name, kind in KINDS.items():
        if kind == "label":
            codes, params[f"v_{name}"] = _codes(columns[name])
            payload[name] = ("int2", codes)
        else:
            payload[name] = ("float8", columns[name])
    await pgcopy.write(session, STAGE, payload)
    return params


async def _copy_and_upsert(
    session: AsyncSession, keys: NDArray[np.void], columns: Staged, stamp: Stamp
) -> dict[str, int]:
    """Stage by COPY; decide the events from old and new values; update, insert; then publish.

    Score rows are locked before the outbox (as in the row-by-row path), and the outbox lock is
    held only for the short final insert, so concurrent chunk writers overlap their updates.
    """
    if not len(keys):
        return registry.no_events()
    params = await _stage(session, keys, columns)
    params |= {
        "run_id": stamp.run_id,
        "as_of": stamp.as_of,
        "scored_at": stamp.scored_at,
        "reason_names": REASON_NAMES,
        **{f"t_{name}": value for name, value in stamp.thresholds.items()},
    }
    kept_newer = (await _run(session, _KEEP_NEWER, params)).rowcount
    if stamp.countermeasures:
        acting = {
            "acting_segments": list(stamp.countermeasures),
            "acting_measures": list(stamp.countermeasures.values()),
            "due_date": stamp.action_due_date,
        }
        await _run(session, _STAGE_EVENTS_AND_ACTIONS, params | acting)
    else:
        await _run(session, _STAGE_EVENTS, params)
    counting = text(f"SELECT ord, count(*) FROM {EVENT_STAGE} GROUP BY ord")  # noqa: S608
    counted: dict[int, int] = dict((await session.execute(counting)).all())
    updated = (await _run(session, _UPDATE, params)).rowcount
    if updated < len(keys) - kept_newer:  # newcomers: the anti-join is skipped when every card existed
        await _run(session, _INSERT, params)
    if counted:
        await claim_outbox(session)
        await _run(session, _PUBLISH, params)
    return {rule.key: counted.get(ord, 0) for ord, rule in enumerate(EVENTS, start=1)}


# --- elsewhere: multi-row upserts, events decided row by row ---------------------------------


def _upsert(session: AsyncSession) -> Any:
    stmt = upsert(session, table)
    updates: dict[str, Any] = {
        col.name: stmt.excluded[col.name] for col in table.columns if col.name not in ("customer_id", "version")
    }
    updates["version"] = table.c.version + 1
    return stmt.on_conflict_do_update(
        index_elements=["customer_id"], set_=updates, where=table.c.scored_at <= stmt.excluded.scored_at
    )


async def _upsert_rows(session: AsyncSession, new_rows: Sequence[dict[str, Any]], stamp: Stamp) -> dict[str, int]:
    ids = [r["customer_id"] for r in new_rows]
    previous: dict[uuid.UUID, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = select(
            table.c.customer_id, table.c.version, table.c.scored_at, *(table.c[name] for name in COMPARED)
        ).where(table.c.customer_id.in_(ids[start : start + CHUNK]))
        previous.update({row.customer_id: dict(row._mapping) for row in await session.execute(stmt)})
    # a card scored from newer facts (a re-scoring while a run was fitting) is left as it is
    new_rows = [
        r for r in new_rows if (p := previous.get(r["customer_id"])) is None or p["scored_at"] <= stamp.scored_at
    ]
    changes: list[tuple[str, uuid.UUID, dict[str, Any], int]] = []
    counts = registry.no_events()
    actions: list[dict[str, Any]] = []
    for row in new_rows:
        before = previous.get(row["customer_id"])
        version = 1 if before is None else before["version"] + 1
        registry.keep(before, row)
        for rule, data in registry.decide(str(row["customer_id"]), before, row, stamp.thresholds):
            changes.append((rule.type, row["customer_id"], data, version))
            counts[rule.key] += 1
        if registry.opens_action(before, row, stamp.countermeasures):
            actions.append(
                {
                    "customer_id": row["customer_id"],
                    "countermeasure": stamp.countermeasures[row["value_segment"]],
                    "suggestion": row["lifecycle_suggestion"],
                    "value_segment": row["value_segment"],
                }
            )
    statement = _upsert(session)
    for start in range(0, len(new_rows), CHUNK):
        await session.execute(statement, list(new_rows[start : start + CHUNK]))
    await action_repo.open_actions(session, actions, at=stamp.scored_at, due_date=stamp.action_due_date)
    # score rows first, the outbox after: the same lock order as the bulk path
    for type_, customer_id, data, version in changes:
        await events.publish(session, type_, customer_id, data, version)
    return counts
