"""Senior leaders of key organisations are key customers (`via_organization`) in scoring and care."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert, select

from crm_scoring.readmodel import repository as fact_repo
from crm_scoring.readmodel import stats_repository as stats_repo
from crm_scoring.readmodel.models import ContactFact, RescoreRequest
from crm_scoring.scores import engine
from crm_scoring.scores.models import customer_score
from crm_scoring.settings.schemas import ScoringSettings
from crm_scoring.testing import NOW, Maker, apply, customer, event, score_row


def contact(org: uuid.UUID, person: uuid.UUID | None, roles: list[str], **kw: Any) -> dict[str, Any]:
    cid = kw.pop("id", None) or str(uuid.uuid4())
    return {"id": cid, "organization_id": str(org), "customer_id": person and str(person), "roles": roles}


async def card(db: Maker, cid: uuid.UUID, **changes: Any) -> None:
    """Store a live card for a customer, as a scoring would have written it."""
    row = score_row(customer_id=cid, scored_at=datetime(2026, 1, 1, tzinfo=UTC), version=1, **changes)
    async with db.begin() as session:
        await session.execute(insert(customer_score).values(**row))


async def scores_of(db: Maker, *ids: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
    settings = ScoringSettings()
    async with db() as session:
        pop = await stats_repo.load(session, as_of=NOW, settings=settings, ids=list(ids))
    out = engine.score(pop, {}, settings)
    return {cid: {name: values[i] for name, values in out.items()} for i, cid in enumerate(pop.ids)}


async def leader_of(db: Maker, org_kind: str | None) -> tuple[uuid.UUID, uuid.UUID, dict[str, Any]]:
    org, person = uuid.uuid4(), uuid.uuid4()
    await apply(db, customer(org, kind="organization", name="Acme Ltd"), customer(person))
    await card(db, org, key_customer_kind=org_kind, abc_class="A" if org_kind else "C")
    added = contact(org, person, ["decision_maker", "senior_leader"])
    await apply(db, event("contact.added", added))
    return org, person, added


async def test_a_senior_leader_of_a_key_organisation_is_a_key_customer_with_care(db: Maker) -> None:
    _, person, _ = await leader_of(db, "value")
    scored = (await scores_of(db, person))[person]
    assert scored["key_customer_kind"] == "via_organization"
    assert scored["care_status"] == "lapsed"  # never contacted: due at once
    assert scored["value_segment"] is None  # a key customer for care, not by value


async def test_a_leader_of_an_organisation_that_is_no_key_customer_is_not_key(db: Maker) -> None:
    _, person, _ = await leader_of(db, None)
    scored = (await scores_of(db, person))[person]
    assert scored["key_customer_kind"] is None and scored["care_status"] is None


async def test_other_roles_and_removed_contacts_make_no_key_customer(db: Maker) -> None:
    org, person, added = await leader_of(db, "influence")
    buyer = uuid.uuid4()
    await apply(db, customer(buyer), event("contact.added", contact(org, buyer, ["purchaser"])))
    scored = await scores_of(db, person, buyer)
    assert scored[buyer]["key_customer_kind"] is None
    assert scored[person]["key_customer_kind"] == "via_organization"
    # an older event changes nothing; the removal takes the leader out
    await apply(db, event("contact.updated", {**added, "roles": ["user"]}, version=1))
    await apply(db, event("contact.removed", added, version=3))
    assert (await scores_of(db, person))[person]["key_customer_kind"] is None
    async with db() as session:
        row = await session.get(ContactFact, uuid.UUID(added["id"]))
        assert row is not None and row.removed and row.version == 3
        assert await session.get(RescoreRequest, person) is not None


async def test_a_leader_with_own_value_keeps_their_own_kind(db: Maker) -> None:
    _, person, _ = await leader_of(db, "value")
    for _ in range(3):  # referrals make them key by influence themselves
        await apply(db, customer(uuid.uuid4(), referred_by=str(person)))
    assert (await scores_of(db, person))[person]["key_customer_kind"] == "influence"


async def test_the_card_names_the_organisation(client: httpx.AsyncClient, db: Maker) -> None:
    org, person, _ = await leader_of(db, "value")
    await card(db, person, key_customer_kind="via_organization", care_status="lapsed")
    body = (await client.get(f"/customers/{person}/scores")).json()
    assert body["abc_class"]["key_customer_kind"] == "via_organization"
    assert body["abc_class"]["key_reason"] == f"senior leader of the key organisation Acme Ltd ({org})"
    assert "Acme Ltd" in body["care"]["explanation"] and body["care"]["status"] == "lapsed"


async def test_leaders_follow_their_organisations_card(db: Maker) -> None:
    org, person, _ = await leader_of(db, "value")
    async with db() as session:  # no card yet for the leader of a key organisation
        assert await fact_repo.leaders_out_of_step(session, [org]) == [person]
    await card(db, person, key_customer_kind="via_organization")
    async with db() as session:
        assert await fact_repo.leaders_out_of_step(session) == []
    async with db.begin() as session:  # the organisation is no key customer any more
        await session.execute(
            customer_score.update().where(customer_score.c.customer_id == org).values(key_customer_kind=None)
        )
    async with db() as session:
        assert await fact_repo.leaders_out_of_step(session, [org]) == [person]
        assert await fact_repo.leaders_out_of_step(session, [person]) == []


async def test_a_merge_moves_contacts_of_both_sides(db: Maker) -> None:
    _, person, added = await leader_of(db, "value")
    survivor = uuid.uuid4()
    await apply(db, customer(survivor))
    merged = {"survivor_id": str(survivor), "duplicate_id": str(person)}
    await apply(db, event("customer.merged", merged, aggregate=person, version=2))
    async with db() as session:
        assert (await session.scalar(select(ContactFact.customer_id))) == survivor
    unmerged = {**merged, "moved": {"contacts_as_person": [added["id"]]}}
    await apply(db, event("customer.unmerged", unmerged, aggregate=person, version=3))
    async with db() as session:
        assert (await session.scalar(select(ContactFact.customer_id))) == person
