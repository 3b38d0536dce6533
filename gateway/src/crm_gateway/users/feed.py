"""`GET /internal/events`: the gateway's outbox (user events) as the services' long-polled feed.

The same feed as every service's (crm_chassis.feed). It is not under the public prefix and it
answers only calls signed as a service with the internal secret.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from crm_chassis.errors import Forbidden, Unauthorized
from crm_chassis.feed import feed_router
from crm_chassis.identity import INTERNAL_HEADER, verify_internal_token
from crm_gateway.config import Settings
from crm_gateway.db import infra


def _require_service(request: Request) -> None:
    settings: Settings = request.app.state.settings
    token = request.headers.get(INTERNAL_HEADER)
    if not token:
        raise Unauthorized("the event feed needs an internal identity token", code="missing_internal_token")
    principal = verify_internal_token(token, settings.internal_secret.get_secret_value())
    if principal.kind != "service":
        raise Forbidden("only services read the event feed", code="forbidden")


def router(settings: Settings) -> APIRouter:
    feed = APIRouter(dependencies=[Depends(_require_service)])
    feed.include_router(feed_router(infra.outbox, settings.feed_max_wait_seconds))
    return feed
