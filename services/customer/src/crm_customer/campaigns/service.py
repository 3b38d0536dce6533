"""Campaign rules: who may run one, how its status moves, how a start takes in members, and
what a response does.

A start (`POST /campaigns/{id}/start`) moves a draft to `running` and records a job; after the
answer the job walks the target's customers in chunks of `CHUNK`, each chunk one transaction:
customers with marketing consent become members, the others are counted as excluded. The members
are those the starter may see, as their own list would show. A job that stops leaves its chunks
done; starting again takes in the rest. `campaign.started` is published when the members are in.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_chassis.dates import start_of_day
from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Forbidden, NotFound, Unprocessable
from crm_chassis.identity import Principal, visible_owners
from crm_chassis.pagination import Page
from crm_chassis.patching import changes_of
from crm_customer import access, events
from crm_customer.campaigns import repository as campaign_repo
from crm_customer.campaigns.models import Campaign, CampaignResponse, CampaignSnapshot
from crm_customer.campaigns.schemas import (
    CampaignCreate,
    CampaignFilters,
    CampaignResponseCreate,
    CampaignResponseType,
    CampaignStatus,
    CampaignTarget,
    CampaignUpdate,
)
from crm_customer.customers import repository as customer_repo
from crm_customer.customers import service as customer_service
from crm_customer.customers.schemas import CustomerUpdate
from crm_customer.db import Session, Sessionmaker
from crm_customer.imports.schemas import JobStatus
from crm_customer.users import service as user_service

CHUNK = 200
logger = logging.getLogger("crm.campaigns")
# Where PATCH may move a status; `running` is reached only by a start.
TRANSITIONS: dict[str, frozenset[str]] = {
    CampaignStatus.draft: frozenset({CampaignStatus.cancelled}),
    CampaignStatus.running: frozenset({CampaignStatus.finished, CampaignStatus.cancelled}),
    CampaignStatus.finished: frozenset(),
    CampaignStatus.cancelled: frozenset(),
}
RESPONDING = (CampaignStatus.running, CampaignStatus.finished)  # late answers to a finished campaign still count


def began(campaign: Campaign) -> tuple[datetime, str]:
    """The moment from which a campaign takes responses, and how to name it: midnight (business time)
    of `starts_on`, or the start if the campaign was started earlier. Responses are often recorded
    after the fact, so a start later than `starts_on` does not move it."""
    planned = start_of_day(campaign.starts_on)
    if campaign.started_at is not None and campaign.started_at < planned:
        return campaign.started_at, f"it was started at {_instant(campaign.started_at)}"
    return planned, (
        f"it starts on {campaign.starts_on.isoformat()} (midnight in the business time zone, {_instant(planned)})"
    )


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_data(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": str(campaign.id),
        "name": campaign.name,
        "channel": campaign.channel,
        "status": campaign.status,
        "owner_id": None if campaign.owner_id is None else str(campaign.owner_id),
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "members": campaign.member_count,
        "excluded_without_consent": campaign.excluded_without_consent,
    }


def _me(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        return None


async def _owner(session: Session, principal: Principal, requested: uuid.UUID | None) -> uuid.UUID | None:
    """The campaign's owner: an account manager's own by default, always someone the caller sees."""
    if principal.role in ("agent", "manager") and requested is None:
        requested = _me(principal)
    owners = visible_owners(principal)
    if owners is not None and requested not in owners:
        raise Forbidden("an account manager runs campaigns of their own or their team", code="owner_not_allowed")
    if requested is not None:
        await user_service.check_owner(session, principal, requested)
    return requested


async def create(session: Session, *, data: CampaignCreate, principal: Principal) -> Campaign:
    now = utcnow()
    campaign = Campaign(
        id=uuid.uuid4(),
        **data.model_dump(exclude={"owner_id", "target"}),
        owner_id=await _owner(session, principal, data.owner_id),
        status=CampaignStatus.draft.value,
        target=data.target.model_dump(mode="json", exclude_none=True),
        member_count=0,
        excluded_without_consent=0,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    await campaign_repo.add(session, campaign)
    return campaign


async def get(session: Session, *, campaign_id: uuid.UUID, principal: Principal, for_update: bool = False) -> Campaign:
    campaign = await campaign_repo.get(session, campaign_id, principal, for_update=for_update)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist", code="campaign_not_found")
    return campaign


async def list_page(
    session: Session, *, filters: CampaignFilters, limit: int, cursor: str | None, principal: Principal
) -> Page[Campaign]:
    return await campaign_repo.list_page(session, filters, limit, cursor, principal)


async def update(session: Session, *, campaign: Campaign, data: CampaignUpdate, principal: Principal) -> Campaign:
    changes = changes_of(data, not_nullable=("name", "channel", "starts_on", "ends_on", "status", "target"))
    status = changes.pop("status", None)
    if "target" in changes:
        if campaign.status != CampaignStatus.draft:
            raise Conflict("the target is fixed once the campaign started", code="target_fixed")
        assert data.target is not None
        changes["target"] = data.target.model_dump(mode="json", exclude_none=True)
    if "owner_id" in changes and changes["owner_id"] != campaign.owner_id:
        changes["owner_id"] = await _owner(session, principal, changes["owner_id"])
    if changes.get("ends_on", campaign.ends_on) < changes.get("starts_on", campaign.starts_on):
        raise Unprocessable.field("ends_on", "before_start", "ends_on cannot precede starts_on")
    for name, value in changes.items():
        setattr(campaign, name, value)
    now = utcnow()
    ended = False
    if status is not None and status != campaign.status:
        if status not in TRANSITIONS[campaign.status]:
            how = " (a campaign starts by POST /campaigns/{id}/start)" if status == CampaignStatus.running else ""
            raise Conflict(
                f"a {campaign.status} campaign cannot become {status}{how}",
                code="invalid_transition",
                allowed=sorted(TRANSITIONS[campaign.status]),
            )
        ended = campaign.status == CampaignStatus.running
        campaign.status = status
        if ended:
            campaign.finished_at = now
    campaign.updated_at = now
    await session.flush()
    if ended:
        data_out = {**event_data(campaign), "finished_at": now.isoformat()}
        await events.publish(session, events.CAMPAIGN_FINISHED, campaign.id, data_out, campaign.version)
    return campaign


async def delete(session: Session, *, campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.running:
        raise Conflict("a running campaign cannot be deleted: finish or cancel it first", code="campaign_running")
    campaign.deleted_at = campaign.updated_at = utcnow()
    await session.flush()


async def start(session: Session, *, campaign: Campaign, principal: Principal) -> CampaignSnapshot:
    """Check the start and record its job (queued); the caller runs `TakeInMembers(...).run()` after commit.

    A draft starts; a running campaign whose last start failed may be started again for the rest.
    """
    last = await campaign_repo.latest_snapshot(session, campaign.id)
    if last is not None and last.status in campaign_repo.UNFINISHED:
        raise Conflict("the campaign's members are being taken in", code="start_in_progress", job_id=str(last.id))
    retry = campaign.status == CampaignStatus.running and last is not None and last.status == JobStatus.failed
    if campaign.status != CampaignStatus.draft and not retry:
        raise Conflict(f"a {campaign.status} campaign cannot be started", code="campaign_not_draft")
    now = utcnow()
    if campaign.status == CampaignStatus.draft:
        campaign.status = CampaignStatus.running.value
        campaign.started_at = campaign.updated_at = now
        await session.flush()
    job = CampaignSnapshot(
        id=uuid.uuid4(),
        campaign_id=campaign.id,
        status=JobStatus.queued.value,
        total=await campaign_repo.count_target(session, CampaignTarget.model_validate(campaign.target), principal),
        added=0,
        excluded=0,
        created_by=principal.subject,
        created_at=now,
        heartbeat_at=now,
    )
    await campaign_repo.add(session, job)
    return job


async def snapshot(session: Session, *, campaign: Campaign, job_id: uuid.UUID) -> CampaignSnapshot:
    job = await campaign_repo.snapshot(session, job_id)
    if job is None or job.campaign_id != campaign.id:
        raise NotFound(f"start {job_id} of campaign {campaign.id} does not exist", code="start_not_found")
    return job


async def members_page(
    session: Session, *, campaign: Campaign, limit: int, cursor: str | None, principal: Principal
) -> Page[Any]:
    return await campaign_repo.members_page(session, campaign.id, limit, cursor, principal)


async def responses_page(
    session: Session, *, campaign: Campaign, limit: int, cursor: str | None, principal: Principal
) -> Page[CampaignResponse]:
    return await campaign_repo.responses_page(session, campaign.id, limit, cursor, principal)


async def get_response(
    session: Session, *, campaign: Campaign, response_id: uuid.UUID, principal: Principal
) -> CampaignResponse:
    found = await campaign_repo.response(session, campaign.id, response_id, principal)
    if found is None:
        raise NotFound(f"response {response_id} does not exist", code="response_not_found")
    return found


async def record_response(
    session: Session, *, campaign: Campaign, data: CampaignResponseCreate, principal: Principal, phone_region: str
) -> CampaignResponse:
    """A member's response; `unsubscribed` also withdraws the customer's marketing consent."""
    if campaign.status not in RESPONDING:
        raise Conflict(f"a {campaign.status} campaign takes no responses", code="campaign_not_started")
    since, when = began(campaign)
    if data.occurred_at < since:
        raise Unprocessable.field(
            "occurred_at", "before_campaign_start", f"a response cannot precede the campaign: {when}"
        )
    await access.require_visible_customer(session, principal, data.customer_id, f"customer {data.customer_id}")
    if await campaign_repo.member(session, campaign.id, data.customer_id) is None:
        raise Conflict(
            f"customer {data.customer_id} is not a member of campaign {campaign.id}",
            code="not_a_member",
        )
    response = CampaignResponse(
        id=uuid.uuid4(),
        campaign_id=campaign.id,
        customer_id=data.customer_id,
        type=data.type.value,
        occurred_at=data.occurred_at,
        channel=(data.channel or campaign.channel),
        value=data.value,
        recorded_by=principal.subject,
        created_at=utcnow(),
    )
    await campaign_repo.add(session, response)
    await campaign_repo.touch_member(session, campaign.id, data.customer_id, data.occurred_at)
    await events.publish(session, events.CAMPAIGN_RESPONSE_RECORDED, response.id, response_event(response), 1)
    if data.type == CampaignResponseType.unsubscribed:
        customer = await customer_repo.get(session, data.customer_id)
        if customer is not None and customer.marketing_consent:
            await customer_service.update(
                session,
                customer=customer,
                data=CustomerUpdate(marketing_consent=False),
                phone_region=phone_region,
                principal=principal,
            )
    return response


def response_event(response: CampaignResponse) -> dict[str, Any]:
    return {
        "id": str(response.id),
        "campaign_id": str(response.campaign_id),
        "customer_id": str(response.customer_id),
        "type": response.type,
        "occurred_at": response.occurred_at.isoformat(),
        "channel": response.channel,
        "value": None if response.value is None else str(response.value),
    }


@dataclass
class TakeInMembers:
    """The start's job: the target's customers with consent become members."""

    job_id: uuid.UUID
    principal: Principal  # the members are the customers the starter may see
    sessionmaker: Sessionmaker

    async def run(self) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                job = await campaign_repo.snapshot(session, self.job_id)
                assert job is not None
                await campaign_repo.set_snapshot_state(
                    session, job.id, status=JobStatus.running.value, started_at=utcnow()
                )
                campaign = await get(session, campaign_id=job.campaign_id, principal=Principal.service("customer"))
                campaign_id, target = campaign.id, CampaignTarget.model_validate(campaign.target)
            after: uuid.UUID | None = None
            added = excluded = 0
            while True:
                async with self.sessionmaker.begin() as session:
                    chunk = await campaign_repo.target_after(session, target, self.principal, after, CHUNK)
                    if not chunk:
                        break
                    added += await campaign_repo.add_members(session, campaign_id, [c for c, ok in chunk if ok])
                    excluded += sum(1 for _, ok in chunk if not ok)
                    await campaign_repo.set_snapshot_state(session, self.job_id, added=added, excluded=excluded)
                after = chunk[-1][0]
            async with self.sessionmaker.begin() as session:
                await self._finish(session, campaign_id, excluded)
        except Exception:
            logger.exception("campaign start failed", extra={"job_id": str(self.job_id)})
            async with self.sessionmaker.begin() as session:
                await campaign_repo.set_snapshot_state(
                    session,
                    self.job_id,
                    status=JobStatus.failed.value,
                    finished_at=utcnow(),
                    error_summary="taking in the members stopped on an unexpected error; start the campaign again",
                )

    async def _finish(self, session: Session, campaign_id: uuid.UUID, excluded: int) -> None:
        members = await campaign_repo.member_count(session, campaign_id)
        await campaign_repo.set_counts(session, campaign_id, members, excluded)
        campaign = await get(session, campaign_id=campaign_id, principal=Principal.service("customer"))
        await session.refresh(campaign)
        now = utcnow()
        await campaign_repo.set_snapshot_state(session, self.job_id, status=JobStatus.succeeded.value, finished_at=now)
        started = {**event_data(campaign), "started_at": (campaign.started_at or now).isoformat()}
        await events.publish(session, events.CAMPAIGN_STARTED, campaign.id, started, campaign.version)
