"""Campaign responses, recorded through the campaign's own service (a mailing tool's report, say).

Each row names its campaign by `campaign_id` and the customer by `customer_id` or
`customer_external_ref`. The rules are those of `POST /campaigns/{id}/responses`: the customer must
be a member (`not_a_member`), `unsubscribed` withdraws marketing consent. The same response
(campaign, customer, type, time) imported twice is skipped, so a file can be sent again.
"""

from __future__ import annotations

import uuid
from typing import Any

from crm_customer.campaigns import repository as campaign_repo
from crm_customer.campaigns import service as campaign_service
from crm_customer.campaigns.schemas import CampaignResponseCreate, CampaignResponseRead
from crm_customer.db import Session
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import ChunkOutcome, Row
from crm_customer.imports.rows import add_new, validated


class CampaignResponseRow(CampaignResponseCreate):
    """A row of a responses file: a response, and the campaign it answers."""

    campaign_id: uuid.UUID


SPEC = KindSpec(
    model=CampaignResponseRow,
    read_model=CampaignResponseRead,
    natural_key="(campaign_id, customer_id, type, occurred_at): a response already recorded is skipped",
    references={"customer_external_ref": "customer_id"},
)


def _key(item: Any) -> tuple[Any, ...]:
    return (item.campaign_id, item.customer_id, str(item.type), item.occurred_at)


async def process(session: Session, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    parsed = await validated(session, SPEC, CampaignResponseRow, columns, rows, ctx.principal, out)
    recorded: set[tuple[Any, ...]] = set()
    if parsed:
        campaign_ids = {d.campaign_id for _, d in parsed}
        customer_ids = {d.customer_id for _, d in parsed}
        recorded = set(await campaign_repo.recorded_responses(session, campaign_ids, customer_ids))

    async def record(data: CampaignResponseRow) -> None:
        campaign = await campaign_service.get(session, campaign_id=data.campaign_id, principal=ctx.principal)
        await campaign_service.record_response(
            session,
            campaign=campaign,
            data=CampaignResponseCreate.model_validate(data.model_dump(exclude={"campaign_id"})),
            principal=ctx.principal,
            phone_region=ctx.phone_region,
        )

    columns_of = {"campaign_not_found": "campaign_id", "not_a_member": "customer_id"}
    await add_new(session, parsed, _key, recorded, record, out, columns_of)
    return out
