"""The score registry: one declaration per stored score, and the events a change of one raises.

Everything that lists the scores is derived from `SCORES`: the columns the engine returns
(`columns`), the stored tables (`scores/models.py`), the staged layout, COPY and SQL of the bulk
writer and the rows of the per-customer writer (`scores/bulk_repository.py`), and the typed score
card, one model per part (`scores/schemas.py`). `test_scoring_registry.py` checks the registry
against the tables the migrations build.

Adding a score: compute it in the engine (`engine.score` returns it under its column name), add
one `Score` line here, add one migration adding the column to `customer_score` and `run_score`.

Event rules (`EVENTS`) are declared once as data: the triggers on the scores that raise them and
the payload's fields. The bulk writer renders them into SQL; the per-customer writer evaluates them
in Python (`fires`, `payload`); a test checks both paths publish the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crm_scoring import events
from crm_scoring.models import churn

# how a score is kept: counts are never none; money is stored with two decimals
Kind = Literal["count", "integer", "float", "money", "date", "time", "label"]
Part = Literal[
    "purchases",
    "rfm",
    "clv",
    "p_alive",
    "expected_purchases",
    "abc_class",
    "value_segment",
    "churn_risk",
    "care",
    "satisfaction",
    "loyalty_stage",
    "relationship_level",
]
PARTS: tuple[Part, ...] = Part.__args__  # type: ignore[attr-defined]


# --- what makes a stored change an event ---------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """The value differs from the stored one; a first scoring is no change."""


@dataclass(frozen=True)
class RoseTo:
    """The value reaches the threshold named by the setting, from below it or from none (a first
    scoring that finds it above counts: the warning is what the event is for)."""

    setting: str


@dataclass(frozen=True)
class BecameOneOf:
    """The value becomes one of these labels (first scorings included)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Differs:
    """The value differs from the stored one, a first scoring included (the first value is news)."""


Trigger = Changed | RoseTo | BecameOneOf | Differs


@dataclass(frozen=True)
class Score:
    column: str
    kind: Kind
    part: Part
    field: str | None = None  # its name on the card part; None: the part shows it in another form
    required: bool = False  # never none (counts always are)
    length: int = 16  # labels' maximum length
    raises: str | None = None  # the event type a change of it raises
    trigger: Trigger | None = None
    # (column, label): while the new score's column holds the label, the stored value stays
    kept_while: tuple[str, str] | None = None

    @property
    def nullable(self) -> bool:
        return not (self.required or self.kind == "count")


def _s(column: str, kind: Kind, part: Part, field: str | None = "", **kw: Any) -> Score:
    return Score(column, kind, part, column if field == "" else field, **kw)


WARNING_SUGGESTIONS = ("at_risk", "lost")
# The lifecycle suggestion turning at_risk or lost: it raises `score.churn_risk_raised` and opens a
# retention action where the value segment's countermeasure asks for one (`opens_action`).
TURNED_WARNING = BecameOneOf(WARNING_SUGGESTIONS)

SCORES: tuple[Score, ...] = (
    _s("purchase_days", "count", "purchases"),
    _s("first_purchase_date", "date", "purchases"),
    _s("last_purchase_date", "date", "purchases"),
    _s("total_spend", "money", "purchases", required=True),
    _s("avg_spend", "money", "purchases", "average_spend"),
    _s("repeat_avg_spend", "money", "purchases", "repeat_average_spend"),
    _s("cycle_days", "float", "purchases"),
    _s("annual_profit", "money", "clv", required=True),  # revenue × margin − cost to serve, last 365 days
    _s("cost_to_serve", "money", "clv", required=True),  # of the last 365 days
    _s("yearly_profit", "money", "clv"),  # average per year of the relationship (at least one), net of cost
    _s("retention_rate", "float", "clv"),  # r in P_t = P₁ · r^(t−1)
    _s("retention_basis", "label", "clv"),  # model | population
    _s("margin_rate", "float", "relationship_level"),
    _s("recency_days", "integer", "purchases"),
    _s("window_orders", "count", "rfm"),
    _s("window_spend", "money", "rfm", required=True),
    _s("referrals", "count", "abc_class"),
    _s("open_complaints", "count", "satisfaction"),
    _s("sla_breaches", "count", "satisfaction"),
    _s("satisfaction", "float", "satisfaction", "satisfaction_index"),
    _s("nps", "float", "satisfaction"),
    _s("csat", "float", "satisfaction"),
    _s("last_contact_at", "time", "care"),
    _s("recent_contacts", "count", "care"),  # contacts within care_too_frequent_days
    _s("rfm_r", "integer", "rfm", "r"),
    _s("rfm_f", "integer", "rfm", "f"),
    _s("rfm_m", "integer", "rfm", "m"),
    _s("rfm_segment", "label", "rfm", "segment", length=32),
    _s("clv_simple", "money", "clv", "simple"),
    _s("clv_discounted", "money", "clv", "discounted"),
    _s("clv_probabilistic", "money", "clv", "probabilistic"),
    _s("p_alive", "float", "p_alive", "value"),
    _s("expected_purchases", "float", "expected_purchases", "value"),
    _s("abc_value", "float", "abc_class", "basis_value", required=True),
    _s("abc_class", "label", "abc_class", "value", required=True, length=1),
    _s("key_customer_kind", "label", "abc_class"),
    _s(
        "value_segment",
        "label",
        "value_segment",
        "name",
        length=32,
        raises=events.SEGMENT_CHANGED,
        trigger=Changed(),
    ),
    _s("segment_rule", "label", "value_segment", "rule", length=32),
    _s("loyalty_stage", "label", "loyalty_stage", "value", required=True),
    _s("relationship_level", "label", "relationship_level", "value"),
    _s(
        "churn_risk",
        "float",
        "churn_risk",
        "score",
        raises=events.CHURN_RISK_RAISED,
        trigger=RoseTo("churn_warning_threshold"),
    ),
    _s("churn_reasons", "count", "churn_risk", None),  # shown as the named reasons
    # the latest engaging campaign response up to as_of (not a delivery, not an unsubscribe)
    _s("last_campaign_response_at", "time", "churn_risk"),
    _s("last_campaign_response_type", "label", "churn_risk"),
    _s(
        "lifecycle_suggestion",
        "label",
        "churn_risk",
        raises=events.CHURN_RISK_RAISED,
        trigger=TURNED_WARNING,
    ),
    # the probabilistic CLV of the last scoring that did not find the customer lost
    _s("clv_before_loss", "money", "churn_risk", kept_while=("lifecycle_suggestion", "lost")),
    _s("care_status", "label", "care", "status"),
    _s("care_due_date", "date", "care", "due_date"),
)
BY_COLUMN: dict[str, Score] = {s.column: s for s in SCORES}
KEPT: tuple[Score, ...] = tuple(s for s in SCORES if s.kept_while is not None)
COLUMNS: tuple[str, ...] = tuple(BY_COLUMN)


def of_part(part: Part) -> tuple[Score, ...]:
    return tuple(s for s in SCORES if s.part == part)


def columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's output in registry order; refuses a missing or an undeclared score."""
    missing, extra = set(COLUMNS) - set(values), set(values) - set(COLUMNS)
    if missing or extra:
        raise ValueError(f"engine output differs from the registry: missing {sorted(missing)}, extra {sorted(extra)}")
    return {name: values[name] for name in COLUMNS}


# --- the events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class New:
    column: str


@dataclass(frozen=True)
class Old:
    column: str


@dataclass(frozen=True)
class ReasonNames:
    """The names of the churn reasons set in a bit mask column."""

    column: str


@dataclass(frozen=True)
class CustomerId:
    """The scored customer's id, as text."""


CUSTOMER_ID = CustomerId()
Value = New | Old | ReasonNames | CustomerId


@dataclass(frozen=True)
class EventRule:
    type: str
    key: str  # its name in a run's counts
    payload: tuple[tuple[str, Value], ...]
    # triggers of its own on scores that raise another event already: (column, trigger)
    on: tuple[tuple[str, Trigger], ...] = ()

    @property
    def triggers(self) -> tuple[Score, ...]:
        """The scores whose change raises it (any one suffices)."""
        return tuple(score for score, _ in self.conditions)

    @property
    def conditions(self) -> tuple[tuple[Score, Trigger], ...]:
        """Each triggering score with the trigger it fires by for this event."""
        own = tuple((s, s.trigger) for s in SCORES if s.raises == self.type and s.trigger is not None)
        return own + tuple((BY_COLUMN[column], trigger) for column, trigger in self.on)


EVENTS: tuple[EventRule, ...] = (
    EventRule(
        events.SEGMENT_CHANGED,
        "segment_changed",
        (
            ("customer_id", CUSTOMER_ID),
            ("from_segment", Old("value_segment")),
            ("to_segment", New("value_segment")),
            ("rule", New("segment_rule")),
        ),
    ),
    EventRule(
        events.CHURN_RISK_RAISED,
        "churn_risk_raised",
        (
            ("customer_id", CUSTOMER_ID),
            ("churn_risk", New("churn_risk")),
            ("reasons", ReasonNames("churn_reasons")),
            ("lifecycle_suggestion", New("lifecycle_suggestion")),
        ),
    ),
    # What the customer service shows beside the fields a person sets, and moves the lifecycle by.
    EventRule(
        events.SUGGESTIONS_CHANGED,
        "suggestions_changed",
        (
            ("customer_id", CUSTOMER_ID),
            ("value_segment", New("value_segment")),
            ("abc_class", New("abc_class")),
            ("churn_risk", New("churn_risk")),
            ("lifecycle_suggestion", New("lifecycle_suggestion")),
            ("loyalty_stage", New("loyalty_stage")),
            ("relationship_level", New("relationship_level")),
        ),
        on=tuple(
            (column, Differs())
            for column in ("value_segment", "abc_class", "lifecycle_suggestion", "loyalty_stage", "relationship_level")
        ),
    ),
)
# the stored values the rules compare with
COMPARED: tuple[str, ...] = tuple(
    dict.fromkeys(
        [s.column for rule in EVENTS for s in rule.triggers]
        + [v.column for rule in EVENTS for _, v in rule.payload if isinstance(v, Old)]
        + [s.column for s in KEPT]
    )
)


def keep(old: Mapping[str, Any] | None, new: dict[str, Any]) -> None:
    """Put back in `new` the stored values its scores keep (`kept_while`)."""
    if old is None:
        return
    for score in KEPT:
        column, label = score.kept_while  # type: ignore[misc]
        if new[column] == label:
            new[score.column] = old.get(score.column)


def no_events() -> dict[str, int]:
    return {rule.key: 0 for rule in EVENTS}


def fires(trigger: Trigger, old: Any, new: Any, *, first: bool, thresholds: Mapping[str, float]) -> bool:
    """Whether a stored change of a score from `old` to `new` fires `trigger` (`first`: no stored row)."""
    if isinstance(trigger, Changed):
        return not first and old != new
    if isinstance(trigger, Differs):
        return first or old != new
    if isinstance(trigger, RoseTo):
        limit = thresholds[trigger.setting]
        return new is not None and new >= limit and (old is None or old < limit)
    return new in trigger.values and new != old


def payload(rule: EventRule, customer_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in rule.payload:
        if isinstance(value, New):
            data[name] = new[value.column]
        elif isinstance(value, Old):
            data[name] = old.get(value.column)
        elif isinstance(value, ReasonNames):
            data[name] = churn.reason_names(new[value.column])
        else:
            data[name] = customer_id
    return data


def decide(
    customer_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], thresholds: Mapping[str, float]
) -> list[tuple[EventRule, dict[str, Any]]]:
    """The events a stored change raises, in `EVENTS` order, with their payloads."""
    before = old or {}
    raised = []
    for rule in EVENTS:
        if any(
            fires(trigger, before.get(s.column), new[s.column], first=old is None, thresholds=thresholds)
            for s, trigger in rule.conditions
        ):
            raised.append((rule, payload(rule, customer_id, before, new)))
    return raised


def opens_action(old: Mapping[str, Any] | None, new: Mapping[str, Any], countermeasures: Mapping[str, str]) -> bool:
    """Whether a stored change opens a retention action: the suggestion turned at_risk or lost
    (first scorings included) and the new value segment's countermeasure is one that acts
    (`countermeasures` holds those segments only). The bulk writer renders the same rule in SQL."""
    before = old or {}
    turned = fires(
        TURNED_WARNING,
        before.get("lifecycle_suggestion"),
        new["lifecycle_suggestion"],
        first=old is None,
        thresholds={},
    )
    return turned and new["value_segment"] in countermeasures
