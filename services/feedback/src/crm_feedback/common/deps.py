"""Dependencies and helpers shared by the feature packages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from crm_chassis.etag import etag_for
from crm_feedback.config import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def created(response: Response, location: str, version: int) -> None:
    response.headers["Location"] = location
    response.headers["ETag"] = etag_for(version)
