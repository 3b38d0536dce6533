import uuid
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from crm_chassis.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_FEEDBACK_", extra="ignore")

    service_name: str = "feedback"
    # The language of survey templates, reports and built-in surveys when the request's
    # Accept-Language names none we write (CRM_DEFAULT_LANGUAGE, shared by every process).
    default_language: Literal["en", "zh-CN"] = Field(
        default="en", validation_alias=AliasChoices("CRM_DEFAULT_LANGUAGE", "default_language")
    )
    customer_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    consume_events: bool = True
    # Long-poll length of one feed request; a new event still arrives within milliseconds.
    feed_wait_seconds: float = Field(default=20.0, ge=0, le=55)

    run_sla_checks: bool = True
    sla_check_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    # complaint.sla_warning goes out this long before a deadline (wall-clock time).
    sla_warning_lead_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # Escalation goes to the assignee's manager: JSON object {assignee_id: manager_id}
    # (CRM_FEEDBACK_ESCALATION_MANAGERS); complaints without an entry go to the default manager,
    # or are only marked escalated when there is none.
    escalation_managers: dict[uuid.UUID, uuid.UUID] = Field(default_factory=dict)
    escalation_default_manager_id: uuid.UUID | None = None

    # Resolving a complaint invites its customer to a short online CSAT survey.
    csat_on_resolve: bool = True
    invitation_token_ttl_days: int = Field(default=14, ge=1, le=365)
    # Channel of the exit-survey invitations sent when scoring marks a customer lost. Online
    # tokens are shown only once, to whoever creates the invitation, and nobody does here, so the
    # default is a phone call entered by staff.
    exit_survey_channel: Literal["on_site", "phone", "mail", "online"] = "phone"
