"""Contact log entries, written through the contact log's own service.

The customer is named by `customer_id` or `customer_external_ref`. The same contact (customer,
time, channel, direction, summary) imported twice is skipped, so a file can be sent again after a
failure without doubling the log.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from crm_chassis.errors import AppError
from crm_customer.db import IntegrityError, Session
from crm_customer.imports import references
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import (
    CONFLICTED,
    ChunkOutcome,
    Row,
    from_app_error,
    from_validation,
    savepoint,
)
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
    parsed: list[tuple[int, InteractionCreate]] = []
    read = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
        else:
            read.append((number, values))
    resolved, unknown = await references.resolve(session, SPEC, read, ctx.principal)
    for number, problems in unknown:
        out.fail(number, problems)
    for number, values in resolved:
        try:
            parsed.append((number, InteractionCreate.model_validate(values)))
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
    logged: set[tuple[Any, ...]] = set()
    if parsed:
        customer_ids = {d.customer_id for _, d in parsed}
        occurred_ats = {d.occurred_at for _, d in parsed}
        logged = {_key(item) for item in await interaction_repo.logged(session, customer_ids, occurred_ats)}
    for number, data in parsed:
        if _key(data) in logged:
            out.skipped += 1
            continue
        try:
            async with savepoint(session):
                await interaction_service.log(session, data=data, principal=ctx.principal)
        except AppError as exc:
            out.fail(number, from_app_error(exc))
            continue
        except IntegrityError:
            out.fail(number, [CONFLICTED])
            continue
        logged.add(_key(data))
        out.created += 1
    return out
