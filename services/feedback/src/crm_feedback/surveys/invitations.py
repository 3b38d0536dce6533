"""Inviting customers to answer: by hand, after a resolved complaint, and after churn."""

from __future__ import annotations

import uuid
from datetime import timedelta

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Unprocessable
from crm_chassis.identity import Principal
from crm_feedback import access
from crm_feedback.common.customers import ensure_not_merged, unknown_customer_error, unknown_customers
from crm_feedback.common.enums import SurveyChannel
from crm_feedback.common.i18n import Language
from crm_feedback.config import Settings
from crm_feedback.db import Session
from crm_feedback.surveys import repository as survey_repo
from crm_feedback.surveys import templates
from crm_feedback.surveys.models import Survey, SurveyInvitation
from crm_feedback.surveys.schemas import InvitationCreate, InvitationRead, SurveyKind
from crm_feedback.surveys.tokens import new_token, token_hash


def _issue(
    survey: Survey, customer_id: uuid.UUID | None, channel: str, actor: str, ttl: timedelta
) -> tuple[SurveyInvitation, str | None]:
    token = new_token() if channel == SurveyChannel.online else None
    invitation = SurveyInvitation(
        id=uuid.uuid4(),
        survey_id=survey.id,
        customer_id=customer_id,
        channel=channel,
        token_hash=token_hash(token) if token else None,
        expires_at=utcnow() + ttl if token else None,
        status="pending",
        created_by=actor,
        created_at=utcnow(),
    )
    return invitation, token


def read_model(invitation: SurveyInvitation, token: str | None = None) -> InvitationRead:
    read = InvitationRead.model_validate(invitation)
    read.token = token
    return read


async def invite(
    session: Session, *, survey: Survey, data: InvitationCreate, principal: Principal, settings: Settings
) -> list[InvitationRead]:
    actor = principal.subject
    if survey.kind == SurveyKind.mystery_shopping:
        raise Conflict(
            "mystery-shopping surveys are answered by inspectors, not sent to customers",
            code="survey_not_for_customers",
        )
    if not survey.active:
        raise Conflict("the survey is not active", code="survey_inactive")
    # A customer the caller may not see is answered as one that does not exist, before the merge check.
    hidden = {cid for cid in data.customer_ids if not await access.can_see_customer(session, principal, cid)}
    await ensure_not_merged(session, [cid for cid in data.customer_ids if cid not in hidden], "customer_ids")
    missing = hidden | await unknown_customers(session, data.customer_ids)
    if missing:
        errors = [
            unknown_customer_error(f"customer_ids.{i}", cid)
            for i, cid in enumerate(data.customer_ids)
            if cid in missing
        ]
        raise Unprocessable("invalid input: customer_ids", errors=errors)
    ttl = timedelta(days=data.expires_in_days or settings.invitation_token_ttl_days)
    out = []
    for customer_id in dict.fromkeys(data.customer_ids):
        invitation, token = _issue(survey, customer_id, data.channel, actor, ttl)
        session.add(invitation)
        out.append((invitation, token))
    await session.flush()
    return [read_model(inv, token) for inv, token in out]


async def _csat_survey(session: Session, actor: str, language: Language) -> Survey:
    """The newest active CSAT survey, created from the `csat` template the first time it is needed."""
    survey = await survey_repo.active_of_kind(session, SurveyKind.csat)
    if survey is not None:
        return survey
    built_in = templates.template(SurveyKind.csat, language)
    return await survey_repo.add_survey(
        session,
        title=built_in["title"],
        kind=SurveyKind.csat,
        description=built_in["description"],
        active=True,
        questions=built_in["questions"],
        actor=actor,
        at=utcnow(),
    )


async def invite_after_complaint(
    session: Session, *, complaint_id: uuid.UUID, customer_id: uuid.UUID, actor: str, settings: Settings
) -> InvitationRead:
    survey = await _csat_survey(session, actor, Language(settings.default_language))
    ttl = timedelta(days=settings.invitation_token_ttl_days)
    invitation, token = _issue(survey, customer_id, SurveyChannel.online, actor, ttl)
    invitation.complaint_id = complaint_id
    session.add(invitation)
    await session.flush()
    return read_model(invitation, token)


async def invite_to_exit_survey(session: Session, *, customer_id: uuid.UUID, settings: Settings) -> bool:
    """Invite a lost customer to the active exit survey; False when there is none or already invited."""
    survey = await survey_repo.active_of_kind(session, SurveyKind.exit)
    if survey is None or await survey_repo.has_pending_invitation(session, survey.id, customer_id):
        return False
    ttl = timedelta(days=settings.invitation_token_ttl_days)
    invitation, _token = _issue(survey, customer_id, settings.exit_survey_channel, "service:feedback", ttl)
    session.add(invitation)
    await session.flush()
    return True
