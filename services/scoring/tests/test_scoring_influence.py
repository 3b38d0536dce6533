"""Influence (key customers by influence) from referrals made and the influence level judged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert

from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.scores import engine
from crm_scoring.scores.models import customer_score
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, Maker, apply, customer, order, score_row


async def kind_of(db: Maker, cid: uuid.UUID, settings: ScoringSettings | None = None) -> Any:
    settings = settings or ScoringSettings()
    async with db() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=[cid])
    scored = engine.score(pop, {}, settings)
    return scored["key_customer_kind"][0], scored["value_segment"][0]


async def test_a_high_influence_level_makes_a_key_customer_by_influence(db: Maker) -> None:
    high, medium, unset = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await apply(
        db,
        customer(high, influence_level="high", industry_standing="chairs the regional trade association"),
        customer(medium, influence_level="medium"),
        customer(unset),
        *(order(cid, "30.00", NOW) for cid in (high, medium, unset)),
    )
    assert await kind_of(db, high) == ("influence", "strategic_customer")
    assert (await kind_of(db, medium))[0] is None and (await kind_of(db, unset))[0] is None
    lenient = ScoringSettings(influence_level_min="medium")
    assert (await kind_of(db, medium, lenient))[0] == "influence"


async def test_referrals_still_make_influence_without_a_level(db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(
        db, customer(cid, influence_level="low"), *(customer(uuid.uuid4(), referred_by=str(cid)) for _ in range(3))
    )
    assert (await kind_of(db, cid))[0] == "influence"


async def test_the_card_says_what_makes_the_customer_influential(client: httpx.AsyncClient, db: Maker) -> None:
    cid = uuid.uuid4()
    await apply(db, customer(cid, influence_level="high", industry_standing="chairs the trade association"))
    row = score_row(customer_id=cid, scored_at=datetime(2026, 1, 1, tzinfo=UTC), version=1)
    row |= {"key_customer_kind": "influence", "value_segment": "strategic_customer", "segment_rule": "influence"}
    async with db.begin() as session:
        await session.execute(insert(customer_score).values(**row))
    body = (await client.get(f"/customers/{cid}/scores")).json()
    reason = body["abc_class"]["key_reason"]
    assert "influence level high (influence from high on)" in reason
    assert "industry standing: chairs the trade association" in reason
    assert "influence level high" in body["value_segment"]["explanation"]
