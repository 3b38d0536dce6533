from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crm_chassis.db import SessionDep
from crm_chassis.etag import etag_for, not_modified, require_if_match
from crm_scoring.access import AdminDep, AnalystDep
from crm_scoring.settings import service as settings_service
from crm_scoring.settings.schemas import ScoringSettings, SettingsRead

router = APIRouter(prefix="/scoring/settings", tags=["scoring settings"])


@router.get("", response_model=SettingsRead, summary="Thresholds, windows, rates, cadence, warning points")
async def read_settings(
    request: Request, response: Response, session: SessionDep, principal: AnalystDep
) -> SettingsRead | Response:
    current = await settings_service.read(session)
    etag = etag_for(current.version)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return current


@router.put("", response_model=SettingsRead, summary="Replace the settings (If-Match); applies from the next run")
async def replace_settings(
    body: ScoringSettings, request: Request, response: Response, session: SessionDep, principal: AdminDep
) -> SettingsRead:
    current = await settings_service.read(session)
    require_if_match(request, etag_for(current.version))
    updated = await settings_service.replace(session, values=body, by=principal.subject)
    response.headers["ETag"] = etag_for(updated.version)
    return updated
