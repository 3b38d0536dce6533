"""Re-scoring single customers between runs, against the last run's model and breakpoints."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel

from crm_chassis.consumer import TRANSIENT, park
from crm_chassis.db import utcnow
from crm_chassis.errors import Forbidden, NotFound
from crm_chassis.identity import Principal
from crm_chassis.pagination import Page
from crm_chassis.tables import InfraTables
from crm_scoring.access import own_customers_only
from crm_scoring.db import Session
from crm_scoring.models import rfm
from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.runs import repository as run_repo
from crm_scoring.runs.models import ScoringModel
from crm_scoring.scores import bulk_repository as bulk_repo
from crm_scoring.scores import cards, engine, registry
from crm_scoring.scores import repository as score_repo
from crm_scoring.scores.schemas import CareItem, ScoreSummary
from crm_scoring.settings import service as settings_service
from crm_scoring.settings.schemas import ScoringSettings

logger = logging.getLogger("crm.scoring.rescore")
# The dead-letter name of customers the re-scoring worker could not score.
RESCORE_CONSUMER = "rescore"


async def latest_model(session: Session) -> ScoringModel | None:
    """The live model: the one the last succeeded live run fitted."""
    return await run_repo.latest_model(session)


async def live_context(session: Session) -> cards.Context:
    """What a live card is explained against: the live model and the settings it ran with."""
    row = await latest_model(session)
    return cards.Context.of(row.model if row else None, await settings_service.current(session))


async def model_and_settings(session: Session) -> tuple[ScoringModel | None, dict[str, Any], ScoringSettings]:
    """The last run's model with the settings it ran with; current settings before any run."""
    row = await latest_model(session)
    if row is None:
        return None, {}, await settings_service.current(session)
    return row, row.model, ScoringSettings.model_validate(row.model["settings"])


async def with_key_organizations(session: Session, row: score_repo.ScoreRow) -> dict[str, Any]:
    """A score row with the key organisations its customer leads, which the card's reason names."""
    found = await fact_repo.key_organizations(session, [row["customer_id"]])
    return {**row, "key_organizations": found.get(row["customer_id"], [])}


def summary(s: score_repo.ScoreRow) -> ScoreSummary:
    scored = s["rfm_r"] and s["rfm_f"] and s["rfm_m"]
    return ScoreSummary.model_validate(
        {
            **{name: s[name] for name in ScoreSummary.model_fields if name in s},
            "rfm_code": rfm.code(s["rfm_r"], s["rfm_f"], s["rfm_m"]) if scored else None,
        }
    )


async def list_page(
    session: Session,
    principal: Principal,
    filters: score_repo.ScoreFilters,
    *,
    run_id: uuid.UUID | None = None,
    limit: int,
    cursor: str | None,
) -> Page[ScoreSummary]:
    """The live cards (or a backtest's results) the caller may see, filtered."""
    only = own_customers_only(principal)
    if only is not None and filters.owner_id is not None and filters.owner_id not in only:
        raise Forbidden("an account manager sees their own (or their team's) customers only")
    found = await score_repo.list_page(session, filters, run_id=run_id, visible_owners=only, limit=limit, cursor=cursor)
    return found.map(summary)


CARE_FIELDS = ("phone", "preferred_channel", "best_contact_time", "last_contact_summary", "recent_contacts")


def care_item(s: score_repo.ScoreRow, settings: ScoringSettings) -> CareItem:
    fields = {name: s[name] for name in CARE_FIELDS}
    return CareItem.model_validate(
        {**summary(s).model_dump(), **fields, "too_frequent": cards.too_frequent(s, settings)}
    )


async def care_due(
    session: Session, principal: Principal, *, owner_id: uuid.UUID | None, until: date, limit: int, cursor: str | None
) -> Page[CareItem]:
    """Who to contact next: an agent's own key customers, a manager's team's, everyone's for the
    rest; `owner_id` narrows the list to one account manager the caller may see."""
    only = own_customers_only(principal)
    if only is not None and owner_id is not None and owner_id not in only:
        raise Forbidden("an account manager sees their own (or their team's) list only")
    found = await score_repo.care_due(
        session, owner_id=owner_id, visible_owners=only, until=until, limit=limit, cursor=cursor
    )
    settings = (await live_context(session)).settings  # the ones the cards were scored with
    return found.map(lambda row: care_item(row, settings))


async def run_card(session: Session, principal: Principal, run_id: uuid.UUID, customer_id: uuid.UUID) -> BaseModel:
    """A customer's results in a backtest, explained against that run's model."""
    row = await score_repo.get_of_run(session, run_id, customer_id)
    only = own_customers_only(principal)
    if row is None or (only is not None and row["owner_id"] not in only):
        raise NotFound(f"run {run_id} holds no score for customer {customer_id}", code="score_not_found")
    model = await run_repo.model_of(session, run_id)
    ctx = cards.Context.of(model.model if model else None, await settings_service.current(session))
    row = await with_key_organizations(session, row)
    return cards.card({**row, "scored_at": None, "run_id": run_id}, ctx)


async def request(session: Session, customer_id: uuid.UUID) -> None:
    """Queue a customer for re-scoring; repeated requests collapse into one."""
    await fact_repo.request_rescore(session, customer_id, at=utcnow())


async def rescore(session: Session, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    row, model, settings = await model_and_settings(session)
    now = utcnow()
    # the customers' kept statistics are computed from their orders, then scored from
    await stats_repo.refresh(session, as_of=now, settings=settings, read_at=now, ids=ids)
    pop = await stats_repo.load(session, as_of=now, settings=settings, ids=ids, stored=True)
    if not len(pop):
        return registry.no_events()
    columns = bulk_repo.staged(engine.score(pop, model, settings))
    stamp = bulk_repo.Stamp.of(settings, run_id=row.run_id if row else None, as_of=now, scored_at=now)
    counts = await bulk_repo.write(session, pop, columns, stamp)
    # an organisation that became (or stopped being) key: its senior leaders follow its card
    for leader in await fact_repo.leaders_out_of_step(session, pop.ids):
        await request(session, leader)
    return counts


async def drain(session: Session, limit: int = 500) -> int:
    """Re-score up to `limit` queued customers; returns how many were taken from the queue. A
    request renewed while its customer was being scored stays queued."""
    claim = uuid.uuid4()
    ids = await fact_repo.claim_rescores(session, claim, limit)
    if not ids:
        return 0
    await rescore(session, ids)
    await fact_repo.release_rescores(session, claim)
    return len(ids)


async def drain_each(
    session: Session, tables: InfraTables, *, limit: int, max_attempts: int, on_park: Callable[[], None]
) -> int:
    """`drain`, one customer at a time: a customer who cannot be scored is tried `max_attempts`
    times, then parked in dead_letter (consumer `rescore`) and taken off the queue, so that
    everyone else goes on being scored."""
    claim = uuid.uuid4()
    ids = await fact_repo.claim_rescores(session, claim, limit)
    for cid in ids:
        error: Exception | None = None
        for _ in range(max_attempts):
            try:
                async with session.begin_nested():
                    await rescore(session, [cid])
                error = None
                break
            except TRANSIENT:
                raise
            except Exception as exc:
                error = exc
        if error is not None:
            item = {"customer_id": str(cid), "claimed_at": utcnow().isoformat()}
            await park(session, tables, RESCORE_CONSUMER, cid, item, error, max_attempts)
            logger.error("customer parked in dead_letter", extra={"customer_id": str(cid), "error": repr(error)[:500]})
            on_park()
        await fact_repo.release_rescores(session, claim, cid)
    return len(ids)


async def retry_parked(session: Session, item: dict[str, Any]) -> None:
    """An admin's retry of a parked customer: score it now (raises if it still cannot be)."""
    cid = uuid.UUID(item["customer_id"])
    await rescore(session, [cid])
    await fact_repo.drop_rescore(session, cid)


async def forget(session: Session, customer_id: uuid.UUID) -> None:
    await score_repo.delete_score(session, customer_id)
    await stats_repo.forget(session, customer_id)
    await fact_repo.drop_rescore(session, customer_id)
