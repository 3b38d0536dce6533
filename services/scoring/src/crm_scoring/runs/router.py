from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Body, Request, Response
from pydantic import BaseModel

from crm_chassis.db import SessionDep
from crm_chassis.errors import NotFound
from crm_chassis.pagination import Page, PageDep
from crm_scoring.access import AnalystDep, ManagerDep, ReaderDep
from crm_scoring.models import fitting
from crm_scoring.runs import charts
from crm_scoring.runs import service as run_service
from crm_scoring.runs.models import ScoringModel
from crm_scoring.runs.schemas import ModelView, RunCreate, RunRead, Validation
from crm_scoring.scores import service as score_service
from crm_scoring.scores.router import ScoreFiltersDep
from crm_scoring.scores.schemas import ScoreCard, ScoreSummary

router = APIRouter(prefix="/scoring", tags=["scoring runs"])


@router.post(
    "/runs",
    status_code=202,
    response_model=RunRead,
    summary="Start a live run (no as_of) or a backtest (a past as_of); one at a time, 409 names the running one",
)
async def start_run(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: ManagerDep,
    background: BackgroundTasks,
    body: Annotated[RunCreate | None, Body()] = None,
) -> RunRead:
    run = await run_service.start(
        session,
        principal=principal,
        as_of=body.as_of if body else None,
        holdout_until=body.holdout_until if body else None,
        rebuild_statistics=body.rebuild_statistics if body else False,
    )
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
    found = await run_service.list_page(session, limit=page.limit, cursor=page.cursor)
    return found.map(RunRead.of)


@router.get("/runs/{run_id}", response_model=RunRead, summary="A run's status, progress, counts and timings")
async def read_run(run_id: uuid.UUID, session: SessionDep, principal: AnalystDep) -> RunRead:
    return RunRead.of(await run_service.get(session, run_id))


def _model_view(row: ScoringModel, mode: str) -> dict[str, object]:
    m = row.model
    fits = {"bgnbd": m.get("bgnbd"), "gamma_gamma": m.get("gamma_gamma")}
    return {
        "run_id": str(row.run_id),
        "mode": mode,
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
                **fitting.quality(fit),
            }
            for name, fit in fits.items()
        },
        "rfm_breakpoints": m.get("rfm_points"),
        "abc_floors": m.get("abc_floors"),
        "growth_cutoff": m.get("growth_cutoff"),
        "population_retention": m.get("population_retention"),
        "one_time_buyers_rule": "dropout-at-first-purchase allowance (MBG/NBD form with the BG/NBD parameters)",
    }


@router.get(
    "/model",
    response_model=ModelView,
    summary="The live model: BG/NBD and Gamma-Gamma of the last succeeded live run",
)
async def read_scoring_model(session: SessionDep, principal: AnalystDep) -> dict[str, object]:
    row = await score_service.latest_model(session)
    if row is None:
        raise NotFound("no live scoring run has succeeded yet", code="no_model")
    return _model_view(row, "live")


@router.get(
    "/runs/{run_id}/model", response_model=ModelView, summary="The model a run fitted (a backtest's is only here)"
)
async def read_run_model(run_id: uuid.UUID, session: SessionDep, principal: AnalystDep) -> dict[str, object]:
    run = await run_service.get(session, run_id)
    return _model_view(await run_service.model_of(session, run_id), run.mode)


@router.get(
    "/runs/{run_id}/validation",
    response_model=Validation,
    summary="A backtest's predictions against its holdout: per frequency class, tracking curve, spend, errors",
    responses={
        200: {
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
            "description": "JSON, or with format=svg the charts",
        }
    },
)
async def read_validation(
    run_id: uuid.UUID,
    session: SessionDep,
    principal: AnalystDep,
    format: Literal["json", "svg"] = "json",
) -> Any:
    result = await run_service.validation_of(session, run_id)
    if format == "svg":
        return Response(charts.validation_svg(result), media_type="image/svg+xml")
    return result


@router.get(
    "/runs/{run_id}/scores",
    response_model=Page[ScoreSummary],
    summary="A run's per-customer results, listed and filtered like /scores (a backtest's results live only here)",
)
async def list_run_scores(
    run_id: uuid.UUID,
    session: SessionDep,
    page: PageDep,
    principal: ReaderDep,
    filters: ScoreFiltersDep,
) -> Page[ScoreSummary]:
    await _backtest(session, run_id)
    return await score_service.list_page(
        session, principal, filters, run_id=run_id, limit=page.limit, cursor=page.cursor
    )


@router.get(
    "/runs/{run_id}/scores/{customer_id}",
    response_model=ScoreCard,
    summary="A customer's card as a backtest scored it, explained against the backtest's model",
)
async def read_run_score_card(
    run_id: uuid.UUID, customer_id: uuid.UUID, session: SessionDep, principal: ReaderDep
) -> BaseModel:
    await _backtest(session, run_id)
    return await score_service.run_card(session, principal, run_id, customer_id)


async def _backtest(session: SessionDep, run_id: uuid.UUID) -> None:
    run = await run_service.get(session, run_id)
    if run.mode != "backtest":
        raise NotFound(
            f"scoring run {run_id} is a live run: its results are the score cards (/scores)", code="not_a_backtest"
        )
