from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request, Response
from sqlalchemy import select

from crm_chassis.db import SessionDep
from crm_chassis.errors import NotFound
from crm_chassis.pagination import Page, PageDep, after_keyset, decode_cursor, encode_cursor
from crm_scoring.access import AnalystDep, ManagerDep
from crm_scoring.runs import service as run_service
from crm_scoring.runs.models import ScoringRun
from crm_scoring.runs.schemas import RunCreate, RunRead
from crm_scoring.scores import service as score_service

router = APIRouter(prefix="/scoring", tags=["scoring runs"])


@router.post(
    "/runs",
    status_code=202,
    response_model=RunRead,
    summary="Start a full rescoring (one at a time; 409 names the running one)",
)
async def start_run(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: ManagerDep,
    background: BackgroundTasks,
    body: Annotated[RunCreate | None, Body()] = None,
) -> RunRead:
    run = await run_service.start(session, principal=principal, as_of=body.as_of if body else None)
    # runs after the response, hence after the session dependency committed the queued run
    background.add_task(
        run_service.execute,
        request.app.state.sessionmaker,
        run.id,
        writers=request.app.state.settings.run_write_connections,
    )
    response.headers["Location"] = f"/scoring/runs/{run.id}"
    return RunRead.of(run)


@router.get("/runs", response_model=Page[RunRead], summary="Run history, newest first")
async def list_runs(session: SessionDep, page: PageDep, principal: AnalystDep) -> Page[RunRead]:
    order: list[tuple[Any, bool]] = [(ScoringRun.created_at, True), (ScoringRun.id, True)]
    stmt = select(ScoringRun)
    if page.cursor:
        stmt = stmt.where(after_keyset(order, decode_cursor(page.cursor, "runs", 2)))
    stmt = stmt.order_by(ScoringRun.created_at.desc(), ScoringRun.id.desc()).limit(page.limit + 1)
    runs = list((await session.scalars(stmt)).all())
    next_cursor = None
    if len(runs) > page.limit:
        runs = runs[: page.limit]
        next_cursor = encode_cursor("runs", [runs[-1].created_at, runs[-1].id])
    return Page(items=[RunRead.of(r) for r in runs], next_cursor=next_cursor)


@router.get("/runs/{run_id}", response_model=RunRead, summary="A run's status, progress, counts and timings")
async def read_run(run_id: uuid.UUID, session: SessionDep, principal: AnalystDep) -> RunRead:
    return RunRead.of(await run_service.get(session, run_id))


@router.get("/model", summary="The fitted BG/NBD and Gamma-Gamma models of the last succeeded run")
async def read_model(session: SessionDep, principal: AnalystDep) -> dict[str, object]:
    row = await score_service.latest_model(session)
    if row is None:
        raise NotFound("no scoring run has succeeded yet", code="no_model")
    m = row.model
    fits = {"bgnbd": m.get("bgnbd"), "gamma_gamma": m.get("gamma_gamma")}
    return {
        "run_id": str(row.run_id),
        "as_of": row.as_of.isoformat(),
        "time_unit": m["time_unit"],
        "data": {"customers": m["customers"], "buyers": m["buyers"], "repeat_buyers": m["repeat_buyers"]},
        **{
            name: None
            if fit is None
            else {
                "parameters": fit["params"],
                "standard_errors": fit["standard_errors"],
                "log_likelihood": fit["log_likelihood"],
                "converged": fit["converged"],
                "iterations": fit["iterations"],
                "observations": fit["n_observations"],
                "distinct_rows": fit["n_unique_rows"],
                "fit_seconds": round(fit["seconds"], 4),
            }
            for name, fit in fits.items()
        },
        "rfm_breakpoints": m.get("rfm_points"),
        "abc_floors": m.get("abc_floors"),
        "growth_cutoff": m.get("growth_cutoff"),
        "one_time_buyers_rule": "dropout-at-first-purchase allowance (MBG/NBD form with the BG/NBD parameters)",
    }
