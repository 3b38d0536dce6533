"""Reading and replacing the settings; a change applies from the next run on."""

from __future__ import annotations

from crm_chassis.db import utcnow
from crm_scoring.db import Session
from crm_scoring.settings import repository as settings_repo
from crm_scoring.settings.models import ROW_ID, ScoringSettingsRow
from crm_scoring.settings.schemas import ScoringSettings, SettingsRead


async def read(session: Session) -> SettingsRead:
    row = await settings_repo.get(session)
    if row is None:
        return SettingsRead(**ScoringSettings().model_dump(), version=0)
    values = ScoringSettings.model_validate(row.values)
    return SettingsRead(
        **values.model_dump(), version=row.version, updated_at=row.updated_at, updated_by=row.updated_by
    )


async def current(session: Session) -> ScoringSettings:
    current = await read(session)
    return ScoringSettings.model_validate(current.model_dump(exclude={"version", "updated_at", "updated_by"}))


async def replace(session: Session, *, values: ScoringSettings, by: str) -> SettingsRead:
    row = await settings_repo.get_for_update(session)
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
