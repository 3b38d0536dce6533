"""The queries on the single settings row."""

from __future__ import annotations

from sqlalchemy import select

from crm_scoring.db import Session
from crm_scoring.settings.models import ROW_ID, ScoringSettingsRow


async def get(session: Session) -> ScoringSettingsRow | None:
    return await session.scalar(select(ScoringSettingsRow).where(ScoringSettingsRow.id == ROW_ID))


async def get_for_update(session: Session) -> ScoringSettingsRow | None:
    return await session.get(ScoringSettingsRow, ROW_ID, with_for_update=True)
