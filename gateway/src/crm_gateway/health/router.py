"""Liveness, readiness (database and every upstream) and Prometheus metrics."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from crm_chassis.errors import problem_response, public_path
from crm_chassis.metrics import exposition
from crm_gateway.config import Settings
from crm_gateway.health import repository as health_repository

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, object] | Response:
    settings: Settings = request.app.state.settings
    clients: dict[str, httpx.AsyncClient] = request.app.state.upstreams
    names = ["database", *clients]
    results = await asyncio.gather(
        health_repository.database_ready(request.app.state.engine, settings.readiness_timeout),
        *(_upstream_ready(client, settings.readiness_timeout) for client in clients.values()),
    )
    checks = {name: "ok" if ready else "unavailable" for name, ready in zip(names, results, strict=True)}
    if all(results):
        return {"status": "ready", "checks": checks}
    failing = ", ".join(name for name, state in checks.items() if state != "ok")
    return problem_response(
        503,
        "not_ready",
        f"not ready: {failing}",
        instance=public_path(request),
        headers={"Retry-After": "5"},
        checks=checks,
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)


async def _upstream_ready(client: httpx.AsyncClient, wait_seconds: float) -> bool:
    try:
        response = await client.get("/readyz", timeout=wait_seconds)
    except httpx.HTTPError:
        return False
    return response.status_code == 200
