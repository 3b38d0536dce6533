"""A live run and the re-scoring worker overlap: neither loses what the other saw.

A live run reads the facts, then spends a while fitting. Orders that arrive meanwhile are scored
by the re-scoring worker at once; the run's later write must not put the older picture back, and
a request made after the run took the queue must stay queued when the run ends. The overlap is
made deterministic here by doing the worker's part right after the run has read its facts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_scoring.readmodel.models import RescoreRequest
from crm_scoring.runs import service as run_service
from crm_scoring.scores import service as score_service
from crm_scoring.testing import apply, customer, order

Maker = async_sessionmaker[AsyncSession]
T0 = datetime.now(UTC).replace(microsecond=0)  # a live run is as of now: facts are placed relative to it


async def start_run(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/scoring/runs", json={})
    assert response.status_code == 202, response.text
    run: dict[str, Any] = (await client.get(f"/scoring/runs/{response.json()['id']}")).json()
    assert run["status"] == "succeeded", run
    return run


async def queued(db: Maker) -> set[uuid.UUID]:
    async with db() as session:
        return set((await session.scalars(select(RescoreRequest.customer_id))).all())


async def card(client: httpx.AsyncClient, cid: uuid.UUID) -> dict[str, Any]:
    response = await client.get(f"/customers/{cid}/scores")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_run_keeps_the_fresher_cards_of_the_worker_and_the_requests_made_after_it_took_the_queue(
    client: httpx.AsyncClient, db: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    rescored, renewed = uuid.uuid4(), uuid.uuid4()
    events = [customer(cid) for cid in (rescored, renewed)]
    events += [order(cid, "40.00", T0 - timedelta(days=60 + k)) for cid in (rescored, renewed) for k in (0, 9)]
    await apply(db, *events)
    await start_run(client)  # a live model to re-score against
    assert await queued(db) == set()
    real_update = run_service._update

    async def loaded_then_overlap(sessionmaker: Maker, run_id: uuid.UUID, **values: Any) -> None:
        await real_update(sessionmaker, run_id, **values)
        if "progress_total" not in values:
            return
        # the run has read its facts; while it fits, an order the worker scores at once...
        await apply(db, order(rescored, "500.00", T0 - timedelta(days=1)))
        async with db.begin() as other:
            assert await score_service.drain(other) == 1
        worker_card.update(await card(client, rescored))
        # ...and one still waiting for the worker when the run ends
        await apply(db, order(renewed, "70.00", T0 - timedelta(days=1)))

    worker_card: dict[str, Any] = {}
    monkeypatch.setattr(run_service, "_update", loaded_then_overlap)
    run = await start_run(client)
    monkeypatch.undo()
    assert worker_card["purchases"]["purchase_days"] == 3

    kept = await card(client, rescored)
    assert kept["purchases"]["purchase_days"] == 3, "the run wrote back the card it had read before the order"
    assert kept["scored_at"] == worker_card["scored_at"]
    assert (await card(client, renewed))["run_id"] == run["id"]
    # the renewed request outlives the run; the kept card is queued to be scored with the run's model
    assert await queued(db) == {rescored, renewed}

    async with db.begin() as session:
        assert await score_service.drain(session) == 2
    assert await queued(db) == set()
    after = await card(client, rescored)
    assert after["run_id"] == run["id"] and after["purchases"]["purchase_days"] == 3
    assert (await card(client, renewed))["purchases"]["purchase_days"] == 3


async def test_a_live_run_is_done_with_the_requests_queued_before_it(client: httpx.AsyncClient, db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(db, customer(cid), order(cid, "40.00", T0 - timedelta(days=30)))
    assert await queued(db) == {cid}
    run = await start_run(client)
    assert await queued(db) == set()
    read = await card(client, cid)
    assert read["run_id"] == run["id"] and read["purchases"]["purchase_days"] == 1


async def test_a_renewal_clears_the_claim_so_the_request_outlives_whoever_took_it(db: Maker) -> None:
    from crm_scoring.readmodel import repository as fact_repo

    cid, claim = uuid.uuid4(), uuid.uuid4()
    async with db.begin() as session:
        await fact_repo.request_rescore(session, cid, at=T0)
    async with db.begin() as session:
        assert await fact_repo.claim_rescores(session, claim) == [cid]
    async with db.begin() as session:
        await fact_repo.request_rescore(session, cid, at=T0)  # the same instant: still a renewal
    async with db.begin() as session:
        await fact_repo.release_rescores(session, claim)
    assert await queued(db) == {cid}
    async with db.begin() as session:
        assert await fact_repo.claim_rescores(session, claim) == [cid]
        await fact_repo.release_rescores(session, claim)
    assert await queued(db) == set()
