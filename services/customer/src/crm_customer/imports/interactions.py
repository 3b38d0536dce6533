"""Contact log entries, written through the contact log's own service.

The same contact (customer, time, channel, direction, summary) imported twice is skipped, so a
file can be sent again after a failure without doubling the log.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.errors import AppError
from crm_customer.imports.columns import KindSpec, row_values
from crm_customer.imports.context import ImportContext
from crm_customer.imports.outcome import (
    CONFLICTED,
    ChunkOutcome,
    Row,
    from_app_error,
    from_validation,
    one_of,
    savepoint,
)
from crm_customer.interactions import service as interaction_service
from crm_customer.interactions.models import Interaction
from crm_customer.interactions.schemas import InteractionCreate, InteractionRead

SPEC = KindSpec(
    model=InteractionCreate,
    read_model=InteractionRead,
    natural_key="(customer_id, occurred_at, channel, direction, summary): a contact already logged is skipped",
)


def _key(item: Any) -> tuple[Any, ...]:
    return (item.customer_id, item.occurred_at, str(item.channel), str(item.direction), item.summary)


async def process(session: AsyncSession, columns: list[str], rows: list[Row], ctx: ImportContext) -> ChunkOutcome:
    out = ChunkOutcome()
    parsed: list[tuple[int, InteractionCreate]] = []
    for number, cells in rows:
        values, problems = row_values(SPEC, columns, cells)
        if problems:
            out.fail(number, problems)
            continue
        try:
            parsed.append((number, InteractionCreate.model_validate(values)))
        except ValidationError as exc:
            out.fail(number, from_validation(exc))
    logged: set[tuple[Any, ...]] = set()
    if parsed:
        stmt = select(Interaction).where(
            one_of(Interaction.customer_id, {d.customer_id for _, d in parsed}),
            one_of(Interaction.occurred_at, {d.occurred_at for _, d in parsed}),
            Interaction.deleted_at.is_(None),
        )
        logged = {_key(item) for item in (await session.scalars(stmt)).all()}
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
