"""Contact log entries, written through the contact log's own service.

The customer is named by `customer_id` or `customer_external_ref`. The same contact (customer,
time, channel, direction, summary) imported twice is skipped, so a file can be sent again after a
failure without doubling the log.
"""

from __future__ import annotations

from typing import Any

from crm_customer.db import Session
from crm_customer.imports.columns import KindSpec
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import ChunkOutcome, Row
from crm_customer.imports.rows import add_new, validated
from crm_customer.interactions import repository as interaction_repo
from crm_customer.interactions import service as interaction_service
from crm_customer.interactions.schemas import InteractionCreate, InteractionRead

SPEC = KindSpec(
    model=InteractionCreate,
    read_model=InteractionRead,
    natural_key="(customer_id, occurred_at, channel, direction, summary): a contact already logged is skipped",
    references={"customer_external_ref": "customer_id"},
)


def _key(item: Any) -> tuple[Any, ...]:
    return (item.customer_id, item.occurred_at, str(item.channel), str(item.direction), item.summary)


async def process(session: Session, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    parsed = await validated(session, SPEC, InteractionCreate, columns, rows, ctx.principal, out)
    logged: set[tuple[Any, ...]] = set()
    if parsed:
        customer_ids = {d.customer_id for _, d in parsed}
        occurred_ats = {d.occurred_at for _, d in parsed}
        logged = {_key(item) for item in await interaction_repo.logged(session, customer_ids, occurred_ats)}

    async def log(data: InteractionCreate) -> None:
        await interaction_service.log(session, data=data, principal=ctx.principal)

    await add_new(session, parsed, _key, logged, log, out)
    return out
