"""Reading and replacing the settings; a change applies from the next run on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_chassis.db import utcnow
from crm_scoring.settings.models import ScoringSettingsRow
from crm_scoring.settings.schemas import ScoringSettings, SettingsRead

ROW_ID = 1


async def read(session: AsyncSession) -> SettingsRead:
    row = await session.scalar(select(ScoringSettingsRow).where(ScoringSettingsRow.id == ROW_ID))
    if row is None:
        return SettingsRead(**ScoringSettings().model_dump(), version=0)
    values = ScoringSettings.model_validate(row.values)
    return SettingsRead(
        **values.model_dump(), version=row.version, updated_at=row.updated_at, updated_by=row.updated_by
    )


async def current(session: AsyncSession) -> ScoringSettings:
    current = await read(session)
    return ScoringSettings.model_validate(current.model_dump(exclude={"version", "updated_at", "updated_by"}))


async def replace(session: AsyncSession, *, values: ScoringSettings, by: str) -> SettingsRead:
    row = await session.get(ScoringSettingsRow, ROW_ID, with_for_update=True)
    now = utcnow()
    if row is None:
        row = ScoringSettingsRow(id=ROW_ID, values=values.model_dump(), version=1, updated_at=now, updated_by=by)
        session.add(row)
    else:
        row.values = values.model_dump()
        row.version += 1
        row.updated_at = now
        row.updated_by = by
    await session.flush()
    return await read(session)
