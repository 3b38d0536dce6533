"""The stored scores, their columns derived from the registry (`scores/registry.py`).

`customer_score` holds one live card per customer; `run_score` a backtest's per-customer results
under its run. Explanations are written when a card is read, from these inputs and the run's
model, so a run stores numbers only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, Float, Integer, Numeric, String, Table, Uuid
from sqlalchemy.types import TypeEngine

from crm_chassis.db import UTCDateTime
from crm_scoring.db import metadata
from crm_scoring.scores.registry import SCORES, Score

Money = Numeric(18, 2)


def column_type(score: Score) -> TypeEngine[Any]:
    if score.kind == "label":
        return String(score.length)
    types: dict[str, TypeEngine[Any]] = {
        "count": Integer(),
        "integer": Integer(),
        "float": Float(),
        "money": Money,
        "date": Date(),
        "time": UTCDateTime(),
    }
    return types[score.kind]


def _score_columns() -> list[Column[Any]]:
    return [Column(s.column, column_type(s), nullable=s.nullable) for s in SCORES]


SCORE_FILLFACTOR = 50

customer_score = Table(
    "customer_score",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("run_id", Uuid, nullable=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
    *_score_columns(),
    Column("version", Integer, nullable=False),
    # every live run rewrites every card: half of each page is left free, so that the new version
    # of a row fits beside the old one and PostgreSQL updates it in place (HOT, no index entry)
    postgresql_with={"fillfactor": SCORE_FILLFACTOR},
)

run_score = Table(
    "run_score",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, primary_key=True),
    Column("as_of", UTCDateTime, nullable=False),
    *_score_columns(),
)
