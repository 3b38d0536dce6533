"""The complaint workflow as an explicit table: (status, action) → next status.

open → acknowledged → in_progress ⇄ waiting_on_customer → resolved → closed; `reopen` takes a
resolved or closed complaint back to in_progress (it was already acknowledged); `escalate` is
allowed in every open status and leaves the status as it is.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    waiting_on_customer = "waiting_on_customer"
    resolved = "resolved"
    closed = "closed"


class Action(StrEnum):
    acknowledge = "acknowledge"
    start = "start"
    wait_on_customer = "wait_on_customer"
    resolve = "resolve"
    close = "close"
    reopen = "reopen"
    escalate = "escalate"


OPEN_STATUSES = frozenset({Status.open, Status.acknowledged, Status.in_progress, Status.waiting_on_customer})
# The SLA clock runs in these and the watch looks at them; it does not run in the paused ones.
RUNNING_STATUSES = (Status.open, Status.acknowledged, Status.in_progress)
PAUSED_STATUSES = frozenset({Status.waiting_on_customer, Status.resolved, Status.closed})

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.open, Action.acknowledge): Status.acknowledged,
    (Status.acknowledged, Action.start): Status.in_progress,
    (Status.in_progress, Action.wait_on_customer): Status.waiting_on_customer,
    (Status.waiting_on_customer, Action.start): Status.in_progress,
    (Status.in_progress, Action.resolve): Status.resolved,
    (Status.waiting_on_customer, Action.resolve): Status.resolved,
    (Status.resolved, Action.close): Status.closed,
    (Status.resolved, Action.reopen): Status.in_progress,
    (Status.closed, Action.reopen): Status.in_progress,
    **{(status, Action.escalate): status for status in OPEN_STATUSES},
}


def allowed_actions(status: Status) -> list[Action]:
    return [action for action in Action if (status, action) in TRANSITIONS]


def next_status(status: Status, action: Action) -> Status | None:
    return TRANSITIONS.get((status, action))
