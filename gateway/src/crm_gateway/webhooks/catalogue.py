"""The public event types partners may subscribe to, by producing service (docs/events.md).

A constant rather than a lookup at run time: a subscription is validated when it is created, and a
service may be down then. A test keeps this list and the catalogue page in step.
"""

from __future__ import annotations

from typing import Any

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "customer.owner_changed",
        "customer.merged",
        "customer.unmerged",
        "customer.erased",
        "interaction.logged",
        "interaction.updated",
        "interaction.deleted",
        "order.recorded",
        "order.refunded",
        "order.updated",
        "order.deleted",
        "contact.added",
        "contact.updated",
        "contact.removed",
        "points.changed",
        "concession.granted",
        "customer.tier_changed",
        "import.finished",
        "export.finished",
        "campaign.started",
        "campaign.response_recorded",
        "campaign.finished",
    ),
    "scoring": (
        "score.segment_changed",
        "score.churn_risk_raised",
        "score.suggestions_changed",
        "scoring_run.finished",
    ),
    "feedback": (
        "complaint.created",
        "complaint.status_changed",
        "complaint.resolved",
        "complaint.sla_warning",
        "complaint.sla_breached",
        "complaint.followed_up",
        "service_record.recorded",
        "survey.responded",
    ),
}
# Fields of a payload for the CRM's own services only: the personal data an account manager needs
# to make contact. Webhook deliveries never carry them (a partner reads them through the API, where
# the `customers:pii` scope decides).
INTERNAL_FIELDS: dict[str, frozenset[str]] = {
    "customer": frozenset({"phone", "preferred_channel", "best_contact_time"}),
    "interaction": frozenset({"summary"}),
}
ALL_TYPES = frozenset(t for types in EVENT_TYPES.values() for t in types)
AGGREGATES = frozenset(t.split(".", 1)[0] for t in ALL_TYPES)


def is_valid_pattern(pattern: str) -> bool:
    """A known type (`order.recorded`) or every type of a known aggregate (`order.*`)."""
    if pattern in ALL_TYPES:
        return True
    aggregate, _, rest = pattern.partition(".")
    return rest == "*" and aggregate in AGGREGATES


def matches(patterns: list[str], event_type: str) -> bool:
    aggregate = event_type.split(".", 1)[0]
    return any(p == event_type or p == f"{aggregate}.*" for p in patterns)


def public_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's payload as webhooks deliver it: without the internal fields of its aggregate."""
    hidden = INTERNAL_FIELDS.get(event_type.split(".", 1)[0], frozenset())
    return {name: value for name, value in data.items() if name not in hidden}
