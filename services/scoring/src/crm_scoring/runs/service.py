"""Full rescoring runs: one at a time, in the background, stage by stage with timings.

Stages: `load` (per-customer statistics aggregated in SQL), `fit` (BG/NBD and Gamma-Gamma),
`score` (every score, vectorised), `write` (bulk upserts and events, in chunks that each commit
with their progress). CPU-bound stages run in a worker thread so the service keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from crm_chassis.dates import business_date
from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_chassis.metrics import JOBS
from crm_chassis.pagination import Page
from crm_scoring import events
from crm_scoring.db import Session, Sessionmaker
from crm_scoring.models import validation
from crm_scoring.models.bgnbd import BgNbdParams
from crm_scoring.models.gamma_gamma import GammaGammaParams
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.readmodel.stats_repository import Population
from crm_scoring.runs import repository as run_repo
from crm_scoring.runs.models import ScoringModel, ScoringRun
from crm_scoring.scores import bulk_repository as bulk_repo
from crm_scoring.scores import engine, registry
from crm_scoring.scores import repository as score_repo
from crm_scoring.settings import service as settings_service
from crm_scoring.settings.schemas import ScoringSettings

logger = logging.getLogger("crm.scoring.runs")
WRITE_CHUNK = 100_000  # customers per committed step of the write stage


def _refuse(field: str, code: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", code=code, errors=[{"field": field, "code": code, "message": message}])


async def start(
    session: Session,
    *,
    principal: Principal,
    as_of: datetime | None,
    holdout_until: datetime | None = None,
    rebuild_statistics: bool = False,
    now: datetime | None = None,
) -> ScoringRun:
    """Queue a run: live without `as_of` (as of `now`), a backtest with a past `as_of`, validated
    against what happened up to `holdout_until` when it names one. A live run reads the purchase
    statistics kept per customer, or computes them all again with `rebuild_statistics`."""
    now = now or utcnow()
    if as_of is not None and as_of > now:
        raise _refuse("as_of", "as_of_in_future", "must not be later than now: a run can look back, not ahead")
    if holdout_until is not None:
        if as_of is None:
            raise _refuse("holdout_until", "holdout_needs_as_of", "a holdout needs a backtest: name its as_of")
        if holdout_until <= as_of:
            raise _refuse("holdout_until", "holdout_before_as_of", "must be later than as_of")
        if holdout_until > now:
            raise _refuse("holdout_until", "holdout_in_future", "must not be later than now")
    if rebuild_statistics and as_of is not None:
        message = "a backtest always computes the statistics from the orders; rebuild them with a live run"
        raise _refuse("rebuild_statistics", "rebuild_needs_live", message)
    running = await run_repo.active(session)
    if running is not None:
        raise _busy(running)
    run = ScoringRun(
        id=uuid.uuid4(),
        status="queued",
        mode=run_repo.LIVE if as_of is None else run_repo.BACKTEST,
        active=1,
        as_of=as_of or now,
        holdout_until=holdout_until,
        rebuild_statistics=rebuild_statistics,
        requested_by=principal.subject,
        created_at=now,
        progress_done=0,
        progress_total=0,
        counts={},
        timings={},
    )
    if not await run_repo.add_if_idle(session, run):
        raise _busy(await run_repo.active(session))
    return run


def _busy(running: ScoringRun | None) -> Conflict:
    run_id = str(running.id) if running else None
    return Conflict(
        f"scoring run {run_id} is {running.status if running else 'running'}; one run at a time",
        code="run_in_progress",
        running_run_id=run_id,
    )


async def get(session: Session, run_id: uuid.UUID) -> ScoringRun:
    run = await run_repo.get(session, run_id)
    if run is None:
        raise NotFound(f"scoring run {run_id} does not exist", code="run_not_found")
    return run


async def list_page(session: Session, *, limit: int, cursor: str | None) -> Page[ScoringRun]:
    return await run_repo.list_page(session, limit, cursor)


async def _update(sessionmaker: Sessionmaker, run_id: uuid.UUID, **values: Any) -> None:
    async with sessionmaker.begin() as session:
        await run_repo.update_run(session, run_id, **values)


async def execute(sessionmaker: Sessionmaker, run_id: uuid.UUID, *, writers: int = 1) -> None:
    """Carry a queued run to `succeeded` or `failed`; never raises.

    The write stage commits chunk by chunk (each with its progress), through up to `writers`
    connections at once on PostgreSQL. A live run upserts the cards and publishes their changes; a
    backtest stores its results under the run only (`run_score`), so no card changes, no event goes
    out, and nothing that follows the events (exit surveys, webhooks, care lists) stirs.
    """
    async with JOBS.track("scoring_run") as outcome:
        await _execute(sessionmaker, run_id, writers, outcome)


async def _execute(sessionmaker: Sessionmaker, run_id: uuid.UUID, writers: int, outcome: Callable[[str], None]) -> None:
    timings: dict[str, float] = {}
    try:
        async with sessionmaker() as session:
            run = await get(session, run_id)
            as_of, live, holdout_until = run.as_of, run.mode == run_repo.LIVE, run.holdout_until
            rebuild = run.rebuild_statistics
            settings = await settings_service.current(session)
            # a live run starts its fits where the last live run's ended: the same optimum, sooner
            last = (await run_repo.latest_model(session)) if live else None
        await _update(sessionmaker, run_id, status="running", started_at=utcnow())
        clock = time.perf_counter()
        loaded_at = utcnow()
        refreshed: dict[str, int | None] = {"statistics_refreshed": None}
        if live:  # the requests queued now are this run's: their facts were committed with them
            async with sessionmaker.begin() as session:
                await fact_repo.claim_rescores(session, run_id)
            # the kept statistics of those customers, and of any whose purchase crossed a window's
            # edge since, are computed again; the others are read as they are
            async with sessionmaker.begin() as session:
                refreshed["statistics_refreshed"] = await stats_repo.refresh_stale(
                    session, as_of=as_of, settings=settings, read_at=loaded_at, rebuild=rebuild
                )
            timings["refresh"] = round(time.perf_counter() - clock, 3)
        async with sessionmaker() as session:  # a backtest aggregates the orders up to its as_of
            pop = await stats_repo.load(session, as_of=as_of, settings=settings, stored=live)
        timings["load"] = round(time.perf_counter() - clock, 3)
        await _update(sessionmaker, run_id, progress_total=len(pop), timings=dict(timings))

        clock = time.perf_counter()
        start_from = last.model if last else None
        model, predicted = await asyncio.to_thread(engine.fit_and_predict, pop, settings, start_from=start_from)
        timings["fit"] = round(time.perf_counter() - clock, 3)
        await _update(sessionmaker, run_id, timings=dict(timings))  # a follower sees the stage change
        clock = time.perf_counter()
        arrays = await asyncio.to_thread(engine.score, pop, model, settings, predicted=predicted)
        del predicted
        columns = await asyncio.to_thread(bulk_repo.staged, arrays)
        del arrays
        timings["score"] = round(time.perf_counter() - clock, 3)
        await _update(sessionmaker, run_id, timings=dict(timings))

        clock = time.perf_counter()
        # a card is stamped with the instant its facts were read: a re-scoring from later facts wins
        stamp = bulk_repo.Stamp.of(settings, run_id=run_id, as_of=as_of, scored_at=loaded_at)
        if live:
            counts = await _write(sessionmaker, run_id, pop, columns, stamp, writers=writers)
        else:
            counts = await _write_backtest(sessionmaker, run_id, pop, columns, as_of)
            if holdout_until is not None:
                clock = time.perf_counter()
                model["validation"] = await _validate(sessionmaker, pop, model, settings, holdout_until)
                timings["validate"] = round(time.perf_counter() - clock, 3)
        timings["write"] = round(time.perf_counter() - clock, 3)
        lifecycle, key_kind = columns["lifecycle_suggestion"], columns["key_customer_kind"]
        summary = {
            "customers": len(pop),
            "buyers": model["buyers"],
            "repeat_buyers": model["repeat_buyers"],
            "at_risk": int((lifecycle == "at_risk").sum()),
            "lost": int((lifecycle == "lost").sum()),
            "key_customers": int(sum(1 for kind in key_kind.tolist() if kind is not None)),
            **counts,
            **refreshed,
        }
        async with sessionmaker.begin() as session:
            now = utcnow()
            session.add(ScoringModel(run_id=run_id, as_of=as_of, created_at=now, model=model))
            if live:  # requests renewed since the claim stay queued, and so do the cards the run left
                await fact_repo.release_rescores(session, run_id)
                for customer_id in await score_repo.rescored_since(session, run_id=run_id, since=loaded_at):
                    await fact_repo.request_rescore(session, customer_id, at=now)
                # leaders scored before their organisation's new card: scored again against it
                for customer_id in await fact_repo.leaders_out_of_step(session):
                    await fact_repo.request_rescore(session, customer_id, at=now)
            await run_repo.update_run(
                session, run_id, status="succeeded", active=None, finished_at=now, counts=summary, timings=timings
            )
            await _announce_finished(session, run_id)
    except Exception as exc:
        outcome("failed")
        logger.exception("scoring run failed", extra={"run_id": str(run_id)})
        async with sessionmaker.begin() as session:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            values = {"status": "failed", "active": None, "finished_at": utcnow(), "timings": timings, "error": error}
            await run_repo.update_run(session, run_id, **values)
            await _announce_finished(session, run_id)


async def _announce_finished(session: Session, run_id: uuid.UUID) -> None:
    """`scoring_run.finished`, in the transaction that ends a live run: its outcome and counts."""
    run = await run_repo.get(session, run_id)
    if run is None or run.mode != "live":
        return  # a backtest publishes nothing: it changes nothing anyone follows
    data = {
        "id": str(run.id),
        "status": run.status,
        "as_of": run.as_of.isoformat(),
        "counts": run.counts or {},
        "error": run.error,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    await events.publish(session, events.RUN_FINISHED, run.id, data, version=1)


async def _write(
    sessionmaker: Sessionmaker,
    run_id: uuid.UUID,
    pop: Population,
    columns: bulk_repo.Staged,
    stamp: bulk_repo.Stamp,
    *,
    writers: int,
) -> dict[str, int]:
    counts = registry.no_events()
    chunks = [(start, min(start + WRITE_CHUNK, len(pop))) for start in range(0, len(pop), WRITE_CHUNK)]
    chunks.reverse()  # popped from the end: written in id order

    async def worker() -> None:
        while chunks:
            start, stop = chunks.pop()
            async with sessionmaker.begin() as session:
                changed = await bulk_repo.write(session, pop, columns, stamp, start=start, stop=stop)
                await run_repo.add_progress(session, run_id, stop - start)
            for key, value in changed.items():
                counts[key] += value

    if sessionmaker.kw["bind"].dialect.name != "postgresql":
        writers = 1
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, writers)):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return counts


async def _write_backtest(
    sessionmaker: Sessionmaker, run_id: uuid.UUID, pop: Population, columns: bulk_repo.Staged, as_of: datetime
) -> dict[str, int]:
    for start in range(0, len(pop), WRITE_CHUNK):
        stop = min(start + WRITE_CHUNK, len(pop))
        async with sessionmaker.begin() as session:
            await bulk_repo.write_run(session, pop, columns, run_id=run_id, as_of=as_of, start=start, stop=stop)
            await run_repo.add_progress(session, run_id, stop - start)
    return registry.no_events()


async def _validate(
    sessionmaker: Sessionmaker, pop: Population, model: dict[str, Any], settings: ScoringSettings, until: datetime
) -> dict[str, Any] | None:
    """The backtest's predictions against the holdout (None without a fitted BG/NBD)."""
    if model.get("bgnbd") is None:
        return None
    async with sessionmaker() as session:
        days, spend = await stats_repo.holdout(session, pop, until=until)
        repeats = await stats_repo.repeat_days_by_day(session, cohort_until=pop.as_of, until=until)
    d = engine.derive(pop, settings)
    has = d["has"]
    gg = model.get("gamma_gamma")
    return await asyncio.to_thread(
        validation.validate,
        bgnbd=BgNbdParams(**model["bgnbd"]["params"]),
        gg=None if gg is None else GammaGammaParams(**gg["params"]),
        x=d["x"][has],
        t_x=d["t_x"][has],
        T=d["T"][has],
        repeat_mean=d["repeat_mean"][has],
        holdout_length=(until - pop.as_of).total_seconds() / 86400.0 / settings.days_per_unit,
        holdout_days=days[has],
        holdout_spend=spend[has],
        timeline=validation.Timeline(
            first_day=pop.columns["first_day"][has],
            repeat_days_by_day=repeats,
            as_of_day=business_date(pop.as_of).toordinal(),
            until_day=business_date(until).toordinal(),
            days_per_unit=settings.days_per_unit,
        ),
    )


async def validation_of(session: Session, run_id: uuid.UUID) -> dict[str, Any]:
    run = await get(session, run_id)
    if run.holdout_until is None:
        raise NotFound(f"scoring run {run_id} names no holdout_until: nothing to validate", code="no_validation")
    found = (await model_of(session, run_id)).model.get("validation")
    if found is None:
        raise NotFound(f"scoring run {run_id} fitted no BG/NBD to validate", code="no_validation")
    result: dict[str, Any] = found
    return {"run_id": str(run_id), "as_of": run.as_of, "holdout_until": run.holdout_until, **result}


async def model_of(session: Session, run_id: uuid.UUID) -> ScoringModel:
    await get(session, run_id)
    model = await run_repo.model_of(session, run_id)
    if model is None:
        raise NotFound(f"scoring run {run_id} has no model: it has not succeeded", code="no_model")
    return model


async def fail_interrupted(sessionmaker: Sessionmaker) -> None:
    """A run left queued or running by a stopped process will never finish: free the slot."""
    async with sessionmaker.begin() as session:
        await run_repo.fail_active(session, at=utcnow(), error="interrupted: the service restarted")
