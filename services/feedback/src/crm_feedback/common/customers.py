"""A customer named in a request must be known from the customer service's events, not deleted and
not merged into another.

A merged-away customer answers as the customer service answers a write on it: 409
`customer_merged` naming the survivor in `merged_into`; its records already moved there. The check
takes a shared lock on the customers' `customer_ref` rows, which `customer.merged` takes for update
before it moves records, so a record filed meanwhile is either refused or moved with the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from crm_chassis.errors import Conflict, Unprocessable
from crm_feedback.db import Session
from crm_feedback.readmodel import repository as customer_repo


class CustomerMerged(Conflict):
    """The customer was merged into another; the client should use that one."""

    code = "customer_merged"

    def __init__(
        self, customer_id: uuid.UUID, merged_into: uuid.UUID, *, errors: Sequence[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(
            f"customer {customer_id} was merged into {merged_into}", errors=errors, merged_into=str(merged_into)
        )


async def ensure_not_merged(session: Session, ids: Sequence[uuid.UUID], field: str = "customer_id") -> None:
    """409 `customer_merged` for the first of `ids` merged away (all of them listed when there are several)."""
    merged = await customer_repo.merged_customers(session, ids)
    if not merged:
        return
    hits = [(i, cid) for i, cid in enumerate(ids) if cid in merged]
    first = hits[0][1]
    errors = None
    if len(ids) > 1:
        errors = [
            {
                "field": f"{field}.{i}",
                "code": "customer_merged",
                "message": f"customer {cid} was merged into {merged[cid]}",
                "merged_into": str(merged[cid]),
            }
            for i, cid in hits
        ]
    raise CustomerMerged(first, merged[first], errors=errors)


async def unknown_customers(session: Session, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `ids` no new record may name: unknown, deleted, erased or merged away."""
    wanted = set(ids)
    return wanted - await customer_repo.active_customers(session, wanted)


def unknown_customer_error(field: str, customer_id: uuid.UUID) -> dict[str, str]:
    return {"field": field, "code": "unknown_customer", "message": f"no active customer {customer_id}"}


async def ensure_customer(session: Session, customer_id: uuid.UUID, field: str = "customer_id") -> None:
    """409 when the customer was merged away, 422 when it is unknown, deleted or erased."""
    await ensure_not_merged(session, [customer_id], field)
    if await unknown_customers(session, [customer_id]):
        raise Unprocessable(f"invalid input: {field}", errors=[unknown_customer_error(field, customer_id)])
