from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_chassis.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_SCORING_", extra="ignore")

    service_name: str = "scoring"
    customer_url: str = "http://127.0.0.1:8001"
    feedback_url: str = "http://127.0.0.1:8003"
    consume_events: bool = True
    # Long-poll length of one feed request; a new event still arrives within milliseconds.
    feed_wait_seconds: float = Field(default=20.0, ge=0, le=55)
    # Customers whose facts changed are re-scored by a worker polling its queue at this interval.
    rescore_interval_seconds: float = Field(default=0.2, gt=0, le=60)
    rescore_workers: bool = True
    # Connections a full run writes its chunks through at once (PostgreSQL; SQLite has one writer).
    run_write_connections: int = Field(default=2, ge=1, le=16)
