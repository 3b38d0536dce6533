"""`GET /campaigns/{id}/report`: what the campaign's members did and what it brought.

Attribution is decided when the report is asked for, so a changed window setting or a late
response applies to every report from then on. A purchase is the campaign's when it names the
campaign (`campaign_id`), or when it names no campaign, is a member's, and falls within
`campaign_attribution_days` after that member's latest response before it (`unsubscribed` is no
response for this). Only purchases in the campaign's currency count; their refunds are netted.
Segments are scoring's value segments as the customer record holds them now.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crm_customer.campaigns import repository as campaign_repo
from crm_customer.campaigns.models import Campaign
from crm_customer.campaigns.schemas import (
    CENT,
    CampaignOutcome,
    CampaignReport,
    CampaignResponseRate,
    CampaignResponseType,
    CampaignSegmentOutcome,
    CampaignStatus,
)
from crm_customer.db import Session

ENGAGED = frozenset(t.value for t in CampaignResponseType) - {CampaignResponseType.unsubscribed.value}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _roi(gain: Decimal, cost: Decimal) -> float | None:
    return round(float((gain - cost) / cost), 4) if cost > 0 else None


def _attributed(
    purchase: Any, campaign_id: uuid.UUID, engaged_at: dict[uuid.UUID, list[datetime]], window: timedelta
) -> bool:
    if purchase.campaign_id == campaign_id:
        return True
    times = engaged_at.get(purchase.customer_id, [])
    before = bisect_right(times, purchase.occurred_at)
    return before > 0 and purchase.occurred_at - times[before - 1] <= window


def _outcome(
    members: set[uuid.UUID],
    responders: set[uuid.UUID],
    purchases: list[Any],
    refunds: dict[uuid.UUID | None, Any],
) -> dict[str, Any]:
    converted = {p.customer_id for p in purchases} & members
    revenue = sum((p.amount + (refunds.get(p.id) or 0) for p in purchases), Decimal(0))
    margin = sum((p.margin for p in purchases if p.margin is not None), Decimal(0))
    return {
        "members": len(members),
        "responded": len(responders & members),
        "response_rate": _rate(len(responders & members), len(members)),
        "converted": len(converted),
        "conversion_rate": _rate(len(converted), len(members)),
        "revenue": revenue.quantize(CENT),
        "margin": margin.quantize(CENT),
        "orders": len(purchases),
    }


async def build(session: Session, campaign: Campaign, attribution_days: int) -> CampaignReport:
    window = timedelta(days=attribution_days)
    segment_of = await campaign_repo.member_segments(session, campaign.id)
    members = set(segment_of)
    responses = await campaign_repo.responses(session, campaign.id)
    engaged_at: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    by_type: dict[str, set[uuid.UUID]] = defaultdict(set)
    for r in responses:
        by_type[r.type].add(r.customer_id)
        if r.type in ENGAGED:
            engaged_at[r.customer_id].append(r.occurred_at)
    for times in engaged_at.values():
        times.sort()
    first = min((times[0] for times in engaged_at.values()), default=None)
    candidates = await campaign_repo.candidate_purchases(
        session, campaign.id, campaign.currency, set(engaged_at) & members, first
    )
    purchases = [p for p in candidates if _attributed(p, campaign.id, engaged_at, window)]
    refunds = await campaign_repo.refunded(session, [p.id for p in purchases])
    responders = set(engaged_at)
    buyers = {p.customer_id for p in purchases} - members
    segment_of |= await campaign_repo.segments_of(session, buyers)
    total = CampaignOutcome(**_outcome(members, responders, purchases, refunds))
    segments = []
    for segment in sorted({*segment_of.values()}, key=lambda s: (s is None, s or "")):
        ids = {c for c, s in segment_of.items() if s == segment}
        bought = [p for p in purchases if p.customer_id in ids]
        segments.append(
            CampaignSegmentOutcome(value_segment=segment, **_outcome(ids & members, responders, bought, refunds))
        )
    cost = (campaign.actual_cost or Decimal(0)).quantize(CENT)
    return CampaignReport(
        campaign_id=campaign.id,
        name=campaign.name,
        status=CampaignStatus(campaign.status),
        currency=campaign.currency,
        attribution_window_days=attribution_days,
        excluded_without_consent=campaign.excluded_without_consent,
        total=total,
        responses=[
            CampaignResponseRate(
                type=t,
                members=len(by_type[t.value] & members),
                rate=_rate(len(by_type[t.value] & members), len(members)),
            )
            for t in CampaignResponseType
        ],
        cost=cost,
        roi=_roi(total.revenue, cost),
        margin_roi=_roi(total.margin, cost),
        segments=segments,
    )
