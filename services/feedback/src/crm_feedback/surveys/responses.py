"""Storing answers: by token (no login), or entered by staff and inspectors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from crm_chassis.db import utcnow
from crm_chassis.errors import Conflict, Gone, NotFound, Unprocessable
from crm_chassis.identity import Principal
from crm_feedback import access, events
from crm_feedback.common.customers import ensure_customer, ensure_not_merged
from crm_feedback.db import Session
from crm_feedback.surveys import answers as answer_rules
from crm_feedback.surveys import repository as survey_repo
from crm_feedback.surveys import service as survey_service
from crm_feedback.surveys.models import Survey, SurveyInvitation, SurveyResponse
from crm_feedback.surveys.schemas import (
    Question,
    ResponseRead,
    Scores,
    StaffResponseCreate,
    Subject,
    SurveyKind,
    TokenResponseCreate,
)
from crm_feedback.surveys.tokens import token_hash


def read_model(response: SurveyResponse) -> ResponseRead:
    return ResponseRead(
        id=response.id,
        survey_id=response.survey_id,
        survey_version=response.survey_version,
        invitation_id=response.invitation_id,
        customer_id=response.customer_id,
        subject=Subject.model_validate(response.subject) if response.subject else None,
        channel=response.channel,  # type: ignore[arg-type]
        answers=response.answers,
        scores=Scores(nps=response.nps_score, csat=response.csat_score, satisfaction_index=response.satisfaction_index),
        responded_at=response.responded_at,
    )


async def _store(
    session: Session,
    *,
    survey: Survey,
    answers: dict[str, Any],
    channel: str,
    customer_id: uuid.UUID | None,
    invitation: SurveyInvitation | None = None,
    subject: dict[str, Any] | None = None,
    responded_at: datetime | None = None,
    entered_by: str | None = None,
) -> SurveyResponse:
    questions = await survey_service.questions(session, survey)
    errors = answer_rules.validate(questions, answers)
    if errors:
        raise Unprocessable("invalid answers: " + ", ".join(e["field"] for e in errors), errors=errors)
    kept = answer_rules.cleaned(questions, answers)
    scores = answer_rules.scores(questions, kept)
    now = utcnow()
    response = SurveyResponse(
        id=uuid.uuid4(),
        survey_id=survey.id,
        survey_version=survey.current_version,
        invitation_id=invitation.id if invitation else None,
        customer_id=customer_id,
        subject=subject,
        channel=channel,
        answers=kept,
        nps_score=scores["nps"],
        csat_score=scores["csat"],
        satisfaction_index=scores["satisfaction_index"],
        responded_at=responded_at or now,
        entered_by=entered_by,
        created_at=now,
    )
    session.add(response)
    if invitation is not None:
        invitation.status, invitation.responded_at = "responded", now
    await session.flush()
    await events.publish(
        session,
        events.SURVEY_RESPONDED,
        response.id,
        {
            "response_id": str(response.id),
            "survey_id": str(survey.id),
            "survey_kind": survey.kind,
            "customer_id": str(customer_id) if customer_id else None,
            "channel": channel,
            "responded_at": response.responded_at.isoformat(),
            "scores": scores,
            "churn_reasons": answer_rules.churn_reasons(questions, kept),
        },
    )
    return response


def _usable(invitation: SurveyInvitation) -> None:
    if invitation.status == "responded":
        raise Conflict("this invitation has already been answered", code="already_responded")
    if invitation.expires_at is not None and invitation.expires_at <= utcnow():
        raise Gone("this invitation has expired", code="invitation_expired")


async def survey_for_token(session: Session, *, token: str) -> tuple[Survey, list[Question]]:
    """The survey an online invitation asks to answer, as long as its token could still answer it:
    404 unknown, 409 answered or survey closed, 410 expired, exactly as `respond_with_token`."""
    invitation = await survey_repo.invitation_by_hash(session, token_hash(token))
    if invitation is None:
        raise NotFound("no invitation has this token", code="invitation_not_found")
    _usable(invitation)
    survey = await survey_repo.get(session, invitation.survey_id)
    if survey is None or not survey.active:
        raise Conflict("the survey is closed", code="survey_inactive")
    return survey, await survey_service.questions(session, survey)


async def respond_with_token(session: Session, *, data: TokenResponseCreate) -> SurveyResponse:
    """Authorised by the token alone: whoever holds it may answer, once."""
    invitation = await survey_repo.invitation_by_hash(session, token_hash(data.token))
    if invitation is None:
        raise NotFound("no invitation has this token", code="invitation_not_found")
    _usable(invitation)
    if invitation.customer_id is not None:
        # A merge moves the invitation to the survivor with the rest, so the answer lands there;
        # one still naming a merged-away customer is refused rather than stored on it.
        await ensure_not_merged(session, [invitation.customer_id])
    survey = await survey_repo.get(session, invitation.survey_id)
    if survey is None or not survey.active:
        raise Conflict("the survey is closed", code="survey_inactive")
    return await _store(
        session,
        survey=survey,
        answers=data.answers,
        channel=invitation.channel,
        customer_id=invitation.customer_id,
        invitation=invitation,
    )


def _field_error(field: str, code: str, message: str) -> Unprocessable:
    return Unprocessable(f"invalid input: {field}", errors=[{"field": field, "code": code, "message": message}])


async def respond_by_staff(
    session: Session, *, survey: Survey, data: StaffResponseCreate, principal: Principal
) -> SurveyResponse:
    actor = principal.subject
    if data.responded_at is not None and data.responded_at > utcnow():
        raise _field_error("responded_at", "in_future", "responded_at is in the future")
    if survey.kind == SurveyKind.mystery_shopping:
        if data.subject is None or data.customer_id or data.invitation_id:
            raise _field_error(
                "subject", "required", "a mystery-shopping answer names the store or agent, not a customer"
            )
        return await _store(
            session,
            survey=survey,
            answers=data.answers,
            channel=data.channel,
            customer_id=None,
            subject=data.subject.model_dump(mode="json", exclude_none=True),
            responded_at=data.responded_at,
            entered_by=actor,
        )
    if data.subject is not None:
        raise _field_error("subject", "not_allowed", "only mystery-shopping answers have a subject")
    invitation = None
    customer_id = data.customer_id
    # A customer or invitation the caller may not see is answered as one that does not exist.
    if customer_id is not None and not await access.can_see_customer(session, principal, customer_id):
        raise _field_error("customer_id", "unknown_customer", f"no active customer {customer_id}")
    if customer_id is not None:
        await ensure_not_merged(session, [customer_id])
    if data.invitation_id is not None:
        invitation = await survey_repo.get_invitation(session, data.invitation_id)
        if (
            invitation is None
            or invitation.survey_id != survey.id
            or not await access.can_see_record(session, principal, invitation.customer_id, invitation.created_by)
        ):
            raise _field_error("invitation_id", "unknown_invitation", "no such invitation for this survey")
        if customer_id is not None and customer_id != invitation.customer_id:
            raise _field_error("customer_id", "mismatch", "the invitation is for another customer")
        _usable(invitation)
        if customer_id is None and invitation.customer_id is not None:
            await ensure_not_merged(session, [invitation.customer_id])
        customer_id = invitation.customer_id
    elif customer_id is None:
        raise _field_error("customer_id", "required", "give invitation_id or customer_id")
    else:
        await ensure_customer(session, customer_id)
    return await _store(
        session,
        survey=survey,
        answers=data.answers,
        channel=data.channel,
        customer_id=customer_id,
        invitation=invitation,
        responded_at=data.responded_at,
        entered_by=actor,
    )
