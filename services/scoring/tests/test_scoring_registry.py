"""The score registry against everything derived from it: the migrated tables, the engine's
output, the card's parts and the event rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Date, Float, Integer, Numeric, String, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_scoring import events
from crm_scoring.db import SCHEMA
from crm_scoring.readmodel.stats_repository import Population
from crm_scoring.scores import cards, engine, registry
from crm_scoring.scores.models import SCORE_FILLFACTOR
from crm_scoring.scores.schemas import PART_MODELS, ScoreCard
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import score_row

STORED_TYPES = {
    "count": Integer,
    "integer": Integer,
    "float": Float,
    "money": Numeric,
    "date": Date,
    "label": String,
}


@pytest.mark.parametrize("table", ["customer_score", "run_score"])
async def test_the_migrated_tables_hold_every_registered_score_as_declared(database_url: str, table: str) -> None:
    engine_ = create_async_engine(database_url)
    try:
        async with engine_.connect() as conn:
            schema = None if database_url.startswith("sqlite") else SCHEMA
            found = await conn.run_sync(lambda c: inspect(c).get_columns(table, schema=schema))
    finally:
        await engine_.dispose()
    columns = {c["name"]: c for c in found}
    stamped = {"customer_score": {"customer_id", "run_id", "as_of", "scored_at", "version"}}
    stamped["run_score"] = {"run_id", "customer_id", "as_of"}
    assert set(columns) == set(registry.COLUMNS) | stamped[table]
    for score in registry.SCORES:
        column = columns[score.column]
        assert column["nullable"] == score.nullable, score.column
        if score.kind == "time":
            assert "TIME" in str(column["type"]).upper(), score.column
        else:
            assert isinstance(column["type"], STORED_TYPES[score.kind]), (score.column, column["type"])
        if score.kind == "label":
            assert column["type"].length == score.length, score.column


def test_the_engine_returns_exactly_the_registered_scores() -> None:
    pop = Population(as_of=datetime(2026, 1, 1, tzinfo=UTC), keys=np.empty(0, dtype="V16"))
    for name in ("days", "first_day", "last_day", "total", "first_amount", "profit", "window_orders"):
        pop.columns[name] = np.empty(0)
    for name in (
        "window_spend",
        "annual_profit",
        "prior_days",
        "referrals",
        "open_complaints",
        "sla_breaches",
        "key_organizations",
        "recent_contacts",
        "influence_rank",
    ):
        pop.columns[name] = np.empty(0)
    for name in ("year_cost", "total_cost"):
        pop.columns[name] = np.empty(0)
    for name in ("satisfaction", "nps", "csat", "contact_day", "follow_up", "campaign_response_day"):
        pop.columns[name] = np.empty(0)
    out = engine.score(pop, {}, ScoringSettings())
    assert tuple(out) == registry.COLUMNS
    with pytest.raises(ValueError, match="missing"):
        registry.columns({name: None for name in registry.COLUMNS[1:]})
    with pytest.raises(ValueError, match="extra"):
        registry.columns({**{name: None for name in registry.COLUMNS}, "surprise": None})


def test_every_score_shown_on_the_card_is_a_typed_field_of_its_part() -> None:
    assert set(ScoreCard.model_fields) >= set(registry.PARTS)
    for part, model in PART_MODELS.items():
        assert model.model_config.get("extra") == "forbid"
        assert ScoreCard.model_fields[part].annotation is model
        shown = {s.field for s in registry.of_part(part) if s.field is not None}
        assert shown <= set(model.model_fields), part
        assert {"as_of", "explanation"} <= set(model.model_fields)
    with pytest.raises(ValueError):
        PART_MODELS["p_alive"](as_of=datetime.now(UTC), explanation="x", value=0.5, surprise=1)


def test_the_card_reads_its_settings_from_the_scoring_settings_it_ran_with() -> None:
    changed = ScoringSettings(relationship_days=500, care_cadence_days=9, care_remind_days=50, rfm_window_days=90)
    ctx = cards.Context.of({"settings": changed.model_dump(), "time_unit": "weeks"}, ScoringSettings())
    card = cards.card(score_row(care_status="due", key_customer_kind="value"), ctx).model_dump()
    assert "× 500 days" in card["clv"]["explanation"]
    assert card["care"]["cadence_days"] == 9 and "9/50/" in card["care"]["explanation"]
    assert "last 90 days" in card["rfm"]["explanation"]
    # before any run, the current settings
    fresh = cards.card(score_row(), cards.Context.of(None, changed)).model_dump()
    assert "last 90 days" in fresh["rfm"]["explanation"]


THRESHOLDS = {"churn_warning_threshold": 0.5}


def _decide(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    return [rule.type for rule, _ in registry.decide("c", old, score_row(**new), THRESHOLDS)]


def _decided(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """The events other than the suggestions' (tested on their own below)."""
    return [t for t in _decide(old, new) if t != events.SUGGESTIONS_CHANGED]


def test_the_event_rules() -> None:
    assert {rule.type for rule in registry.EVENTS} == {
        events.SEGMENT_CHANGED,
        events.CHURN_RISK_RAISED,
        events.SUGGESTIONS_CHANGED,
    }
    assert all(rule.triggers for rule in registry.EVENTS)
    # a first scoring is no segment change, but a first scoring at risk warns
    assert _decided(None, {"value_segment": "low_value"}) == []
    assert _decided(None, {"churn_risk": 0.7}) == [events.CHURN_RISK_RAISED]
    old = {"value_segment": "low_value", "churn_risk": 0.6, "lifecycle_suggestion": None}
    assert _decided(old, {"value_segment": "low_value", "churn_risk": 0.9}) == []  # already above
    assert _decided(old, {"value_segment": "growth_potential", "churn_risk": 0.6}) == [events.SEGMENT_CHANGED]
    assert _decided({**old, "churn_risk": 0.2}, {"value_segment": "low_value", "churn_risk": 0.5}) == [
        events.CHURN_RISK_RAISED
    ]
    became = _decided(old, {"value_segment": "x", "churn_risk": 0.6, "lifecycle_suggestion": "lost"})
    assert became == [events.SEGMENT_CHANGED, events.CHURN_RISK_RAISED]


def test_the_suggestions_event_fires_on_a_first_scoring_and_on_any_suggestion_changing() -> None:
    first = registry.decide("c", None, score_row(abc_class="B", loyalty_stage="new"), THRESHOLDS)
    (data,) = [d for rule, d in first if rule.type == events.SUGGESTIONS_CHANGED]
    assert set(data) == {
        "customer_id",
        "value_segment",
        "abc_class",
        "churn_risk",
        "lifecycle_suggestion",
        "loyalty_stage",
        "relationship_level",
    }
    assert (data["abc_class"], data["loyalty_stage"]) == ("B", "new")
    stored = dict(score_row(abc_class="B", loyalty_stage="new"))
    assert events.SUGGESTIONS_CHANGED not in _decide(stored, {**stored, "churn_risk": 0.05})  # risk alone: no
    for column, value in (
        ("abc_class", "A"),
        ("value_segment", "high_value"),
        ("loyalty_stage", "repeat"),
        ("relationship_level", "proactive"),
        ("lifecycle_suggestion", "at_risk"),
    ):
        assert events.SUGGESTIONS_CHANGED in _decide(stored, {**stored, column: value}), column
    (_, data), *_ = registry.decide("c", None, score_row(churn_risk=0.8, churn_reasons=128 | 1), THRESHOLDS)
    assert data == {
        "customer_id": "c",
        "churn_risk": 0.8,
        "reasons": ["overdue_purchase", "inactive"],
        "lifecycle_suggestion": None,
    }


async def test_score_cards_leave_room_on_their_pages_for_in_place_updates(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a fill factor is PostgreSQL's")
    engine_ = create_async_engine(database_url)
    try:
        async with engine_.connect() as conn:
            options = await conn.scalar(
                text("SELECT reloptions FROM pg_class WHERE oid = CAST('scoring.customer_score' AS regclass)")
            )
    finally:
        await engine_.dispose()
    assert f"fillfactor={SCORE_FILLFACTOR}" in (options or [])
