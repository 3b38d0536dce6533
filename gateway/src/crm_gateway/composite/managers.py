"""Manager performance: the scoring service's figures per account manager, the feedback service's
complaints per manager, and the managers' names from the gateway's own users, fetched in parallel.

Each service applies the caller's visibility itself (a manager gets their own and their team's
figures). Scoring's part is the view's core: when it fails the read fails (502/503/504, or its own
problem passed on); when the feedback service fails, the complaint figures are null and
`complaints_available` is false. Analysts and partner keys see no names: managers are labelled
`manager 1`, `manager 2`… in the order of the answer (net revenue, largest first)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.identity import Principal
from crm_gateway.composite.schemas import CurrencyAmount, ManagerPerformance, ManagerRetention, ManagersPerformance
from crm_gateway.proxy.errors import BadGateway, upstream_failure
from crm_gateway.users import repository as user_repository

# Aggregates scan a tenant's books: slower than a single customer's parts.
TIMEOUT = httpx.Timeout(15.0, connect=1.0)
NAMED_ROLES = frozenset({"admin", "manager"})
NO_RETENTION = ManagerRetention(
    start_count=0, end_count=0, new_count=0, lost_count=0, retention_rate=None, churn_rate=None
)


class UpstreamProblem(Exception):
    """The scoring service refused or rejected the read: its problem, to answer as it is."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def performance(
    clients: Mapping[str, httpx.AsyncClient],
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    headers: dict[str, str],
    principal: Principal,
) -> ManagersPerformance:
    params = {"from": start.isoformat(), "to": end.isoformat()}
    scoring, feedback = await asyncio.gather(
        clients["scoring"].get("/internal/analytics/managers", params=params, headers=headers, timeout=TIMEOUT),
        clients["feedback"].get(
            "/internal/analytics/complaints/by-owner", params=params, headers=headers, timeout=TIMEOUT
        ),
        return_exceptions=True,
    )
    if isinstance(scoring, BaseException):
        if isinstance(scoring, httpx.TransportError):
            raise upstream_failure("scoring", scoring) from scoring
        raise scoring
    if scoring.status_code in (403, 422):
        raise UpstreamProblem(scoring.status_code, scoring.json())
    if scoring.status_code != 200:
        raise BadGateway(f"the scoring service answered {scoring.status_code}", upstream="scoring")
    figures = {uuid.UUID(item["owner_id"]): item for item in scoring.json()["items"]}
    complaints: dict[uuid.UUID, tuple[int, int]] | None = None
    if isinstance(feedback, httpx.Response) and feedback.status_code == 200:
        complaints = {
            uuid.UUID(item["owner_id"]): (item["resolved"], item["resolved_within_sla"])
            for item in feedback.json()["items"]
        }
    owners = sorted({*figures, *(complaints or {})}, key=str)
    named = principal.kind == "user" and principal.role in NAMED_ROLES
    names = dict(await user_repository.names_of(session, owners)) if named and owners else {}
    rows = [_row(owner, figures.get(owner), complaints) for owner in owners]
    rows.sort(key=lambda row: Decimal(row.revenue), reverse=True)  # stable: ties stay in id order
    for rank, row in enumerate(rows, start=1):
        if named:
            assert row.manager_id is not None
            row.name = names.get(row.manager_id)
            row.label = row.name or str(row.manager_id)
        else:
            row.manager_id, row.label = None, f"manager {rank}"
    return ManagersPerformance(
        from_=start, to=end, anonymous=not named, complaints_available=complaints is not None, items=rows
    )


def _row(
    owner: uuid.UUID, figures: dict[str, Any] | None, complaints: dict[uuid.UUID, tuple[int, int]] | None
) -> ManagerPerformance:
    found = figures or {}
    resolved, within = (None, None) if complaints is None else complaints.get(owner, (0, 0))
    return ManagerPerformance(
        manager_id=owner,
        label="",
        name=None,
        book_size=found.get("book_size", 0),
        revenue=found.get("revenue", "0.00"),
        revenue_by_currency=[CurrencyAmount.model_validate(part) for part in found.get("revenue_by_currency", [])],
        key_customers=found.get("key_customers", 0),
        care_on_track=found.get("care_on_track", 0),
        care_on_track_share=found.get("care_on_track_share"),
        retention=ManagerRetention.model_validate(found["retention"]) if figures else NO_RETENTION,
        actions_opened=found.get("actions_opened", 0),
        actions_closed=found.get("actions_closed", 0),
        actions_won_back=found.get("actions_won_back", 0),
        win_back_rate=found.get("win_back_rate"),
        complaints_resolved=resolved,
        complaints_resolved_within_sla=within,
        complaints_within_sla_share=None if resolved is None or within is None else _share(within, resolved),
    )
