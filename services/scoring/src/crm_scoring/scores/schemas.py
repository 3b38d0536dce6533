from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, create_model

from crm_scoring.scores import registry

MoneyStr = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]


class CardPart(BaseModel):
    """What every part of a score card carries besides its scores."""

    model_config = ConfigDict(extra="forbid")

    as_of: datetime
    explanation: str = Field(description="the inputs behind the part's values, in words")


class ChurnReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    detail: str


class CltvTerm(BaseModel):
    """One year of the discounted CLTV: P_t = P₁ · r^(t−1), and P_t / (1+i)^t."""

    model_config = ConfigDict(extra="forbid")

    year: int
    profit: MoneyStr
    discounted: MoneyStr


Quality = Literal["reliable", "unreliable", "no_model"]
_QUALITY: dict[str, Any] = {
    "quality": (Quality, Field(description="unreliable: the fit behind the value did not converge or is imprecise")),
    "quality_reasons": (list[str], ...),
}
_TYPES: dict[str, Any] = {
    "count": int,
    "integer": int,
    "float": float,
    "money": MoneyStr,
    "date": date,
    "time": datetime,
    "label": str,
}
# fields a part shows that are no stored score: written from the scores and the run's model
_EXTRAS: dict[str, dict[str, Any]] = {
    "rfm": {"code": (str | None, Field(description="R-F-M, each 1–5"))},
    "clv": {"terms": (list[CltvTerm], Field(description="each year's term of the discounted CLTV")), **_QUALITY},
    "p_alive": _QUALITY,
    "expected_purchases": {"horizon_months": (int, ...), **_QUALITY},
    "value_segment": {
        "relationship_type": (str | None, ...),
        "strategy": (str | None, ...),
        "focus": (str | None, ...),
    },
    "churn_risk": {
        "reasons": (list[ChurnReason], Field(description="the warning points that fired")),
        "estimated_loss": (MoneyStr | None, Field(description="a lost customer's value to the business")),
        "loss_basis": (str | None, Field(description="clv_before_loss or yearly_profit_x_remaining_years")),
        **_QUALITY,
    },
    "abc_class": {
        "key_reason": (str | None, Field(description="why the customer is a key customer (none when not)")),
    },
    "care": {
        "cadence_days": (int | None, ...),
        "too_frequent": (
            bool,
            Field(description="contacted more than care_too_frequent_contacts times in care_too_frequent_days"),
        ),
    },
}
_DESCRIPTIONS: dict[str, str] = {
    "purchases": "The purchase statistics every score is computed from. Purchases are counted per day "
    "(same-day orders are one purchase, their amounts summed), refunds are netted into the purchase "
    "they refund, and a zero-value purchase counts as a purchase.",
    "clv": "Simple, discounted and probabilistic customer value, as decimal strings.",
    "satisfaction": "NPS, CSAT, satisfaction index and complaints, as scored.",
}


def _part_model(part: registry.Part) -> type[CardPart]:
    fields: dict[str, Any] = {}
    for score in registry.of_part(part):
        if score.field is not None:
            kind = _TYPES[score.kind]
            fields[score.field] = (kind | None if score.nullable else kind, ...)
    fields.update(_EXTRAS.get(part, {}))
    name = "".join(word.title() for word in part.split("_")) + "Part"
    return create_model(name, __base__=CardPart, __doc__=_DESCRIPTIONS.get(part), **fields)


PART_MODELS: dict[registry.Part, type[CardPart]] = {part: _part_model(part) for part in registry.PARTS}
ScoreCard: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ScoreCard",
    __config__=ConfigDict(extra="forbid"),
    __doc__="A customer's scores, part by part; each part carries `as_of` and an `explanation`.",
    customer_id=(uuid.UUID, ...),
    as_of=(datetime, ...),
    scored_at=(datetime | None, ...),
    run_id=(uuid.UUID | None, ...),
    lifecycle_suggestion=(str | None, ...),
    **{part: (model, ...) for part, model in PART_MODELS.items()},
)


class ScoreSummary(BaseModel):
    customer_id: uuid.UUID
    owner_id: uuid.UUID | None
    display_name: str
    as_of: datetime
    rfm_code: str | None
    rfm_segment: str | None
    value_segment: str | None
    abc_class: str
    key_customer_kind: str | None
    churn_risk: float | None
    lifecycle_suggestion: str | None
    p_alive: float | None
    clv_probabilistic: MoneyStr | None
    care_status: str | None
    care_due_date: date | None
    last_contact_at: datetime | None


class CareItem(ScoreSummary):
    """A key customer to contact, with what it takes to make the contact."""

    phone: str | None
    preferred_channel: str | None
    best_contact_time: str | None
    last_contact_summary: str | None = Field(description="what the last live contact was about")
    recent_contacts: int = Field(description="contacts within the settings' care_too_frequent_days")
    too_frequent: bool = Field(description="contacted more often than care_too_frequent_contacts in that window")
