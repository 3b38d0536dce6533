"""Studying lost customers: scoring's churn signal invites them to the active exit survey."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from crm_chassis.consumer import Handler
from crm_chassis.events import Event
from crm_feedback.common.customers import unknown_customers
from crm_feedback.config import Settings
from crm_feedback.db import Session
from crm_feedback.surveys import invitations as survey_invitations


class ChurnRiskRaised(BaseModel):
    """The fields of `score.churn_risk_raised` this service reads."""

    model_config = ConfigDict(extra="ignore")

    customer_id: uuid.UUID
    lifecycle_suggestion: str | None = None


def scoring_handlers(settings: Settings) -> Mapping[str, Handler]:
    async def on_churn_risk_raised(session: Session, event: Event) -> None:
        facts = ChurnRiskRaised.model_validate(event.data)
        if facts.lifecycle_suggestion != "lost":
            return
        if await unknown_customers(session, [facts.customer_id]):
            return  # unknown, deleted, erased or merged away: nobody to ask
        await survey_invitations.invite_to_exit_survey(session, customer_id=facts.customer_id, settings=settings)

    return {"score.churn_risk_raised": on_churn_risk_raised}
