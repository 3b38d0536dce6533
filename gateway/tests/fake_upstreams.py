"""Small real FastAPI apps standing in for the three services.

Each records what reached it in `app.state.seen` and echoes it back as JSON.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, create_model

from crm_chassis.openapi import install_contract, operation_id


class Page(BaseModel):
    items: list[str]
    next_cursor: str | None = None


class Card(BaseModel):
    id: str
    page: Page


# Named like the customer service's `Page` but shaped differently: the merged document must keep both.
ScoringPage = create_model("Page", items=(list[float], ...), total=(int, ...))
ScoreList = create_model("ScoreList", page=(ScoringPage, ...))


def _add_typed_routes(app: FastAPI, name: str) -> None:
    if name == "customer":

        @app.get("/customers", response_model=Page)
        async def list_customers() -> Any:
            return Page(items=[])

        @app.get("/customers/{customer_id}/card", response_model=Card)
        async def customer_card(customer_id: str) -> Any:
            return Card(id=customer_id, page=Page(items=[]))

        # Hand-overs as the customer service runs them, on a dict of owner id -> customers owned.
        app.state.owned = {}
        app.state.invalid_owners = set()
        app.state.failing_handovers = False
        app.state.handovers = []

        @app.get("/internal/owners/{owner_id}/customers", include_in_schema=False)
        async def owned_customers(owner_id: str) -> dict[str, Any]:
            return {"owner_id": owner_id, "customers": app.state.owned.get(owner_id, 0)}

        @app.post("/customers/reassign", status_code=202, include_in_schema=False)
        async def reassign(request: Request) -> Response:
            app.state.seen.append({"service": name, "method": "POST", "path": request.url.path})
            try:
                body = await request.json()
                body["to_owner_id"], body["from_owner_id"]
            except (ValueError, KeyError, TypeError):
                problem = {"status": 422, "code": "validation_failed", "detail": "not a hand-over"}
                return Response(json.dumps(problem), status_code=422, media_type="application/problem+json")
            app.state.handovers.append({"body": body, "headers": dict(request.headers)})
            if body["to_owner_id"] in app.state.invalid_owners:
                problem = {"status": 422, "code": "invalid_owner", "detail": "is a disabled user"}
                return Response(json.dumps(problem), status_code=422, media_type="application/problem+json")
            job_id = f"job-{len(app.state.handovers)}"
            status = "failed" if app.state.failing_handovers else "succeeded"
            if status == "succeeded":
                moved = app.state.owned.pop(body["from_owner_id"], 0)
                app.state.owned[body["to_owner_id"]] = app.state.owned.get(body["to_owner_id"], 0) + moved
            app.state.jobs = {**getattr(app.state, "jobs", {}), job_id: status}
            running = {"id": job_id, "status": "running", "error_summary": None}
            return Response(json.dumps(running), status_code=202, media_type="application/json")

        @app.get("/customers/reassign/{job_id}", include_in_schema=False)
        async def reassign_job(job_id: str, request: Request) -> dict[str, Any]:
            app.state.seen.append({"service": name, "method": "GET", "path": request.url.path})
            status = getattr(app.state, "jobs", {}).get(job_id, "failed")
            return {"id": job_id, "status": status, "error_summary": "boom" if status == "failed" else None}

    if name == "scoring":

        @app.get("/customers/{customer_id}/scores", response_model=dict[str, float])
        async def customer_scores(customer_id: str) -> Any:
            return {}

        @app.get("/scores", response_model=ScoreList)
        async def list_scores() -> Any:
            return {"page": {"items": [], "total": 0}}

        # Owned by the customer service: the gateway must not advertise it as scoring's.
        @app.get("/customers/{customer_id}/orders")
        async def stray_route(customer_id: str) -> dict[str, str]:
            return {}

    if name == "feedback":

        @app.get("/complaints", response_model=Page)
        async def list_complaints() -> Any:
            return Page(items=[])

    @app.get("/internal/events")
    async def internal_events() -> dict[str, list[str]]:
        return {"items": []}


def fake_service(name: str) -> FastAPI:
    app = FastAPI(title=f"fake {name}", docs_url=None, redoc_url=None, generate_unique_id_function=operation_id)
    install_contract(app)
    app.state.seen = []
    app.state.ready = True

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(status_code=200 if app.state.ready else 503)

    _add_typed_routes(app, name)

    @app.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def echo(path: str, request: Request) -> Response:
        body = await request.body()
        seen: dict[str, Any] = {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
            "query": request.url.query,
            "headers": dict(request.headers),
            "body_length": len(body),
            "body": body[:1000].decode("utf-8", "replace"),
        }
        app.state.seen.append(seen)
        return _answer(path, request.method, seen)

    return app


def _answer(path: str, method: str, seen: dict[str, Any]) -> Response:
    echoed = json.dumps(seen)
    if method == "POST":
        headers = {"Location": f"/{path}/new-id", "Content-Location": f"http://ignored.test/{path}"}
        return Response(echoed, status_code=201, media_type="application/json", headers=headers)
    if path.endswith("/gzipped"):
        body = gzip.compress(echoed.encode())
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})
    if path.endswith("/missing"):
        problem = {"type": "/problems/not-found", "status": 404, "code": "not_found"}
        return Response(json.dumps(problem), status_code=404, media_type="application/problem+json")
    response = Response(echoed, media_type="application/json", headers={"X-Upstream": seen["service"]})
    response.set_cookie("first", "1")
    response.set_cookie("second", "2")
    return response
