from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_chassis.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_CUSTOMER_", extra="ignore")

    service_name: str = "customer"
    # Phone numbers written without a country code are read as numbers of this region (ISO 3166).
    default_phone_region: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    import_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # A batch of up to 1,000 orders or customers (POST /orders/batch, /customers/batch).
    batch_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Imports one caller may have queued or running at once (a 429 beyond it).
    max_concurrent_imports: int = Field(default=3, ge=1, le=100)
    # How long a merge can be undone.
    merge_undo_hours: int = Field(default=72, ge=0, le=24 * 365)
    # The gateway's event feed (user accounts), followed for the read model of users.
    gateway_url: str = "http://127.0.0.1:8000"
    # The scoring service's feed: its suggestions, and at_risk / lost, move the lifecycle.
    scoring_url: str = "http://127.0.0.1:8002"
    # A purchase within this many days of another makes the customer `active` (lifecycle rules).
    activity_window_days: int = Field(default=365, ge=1, le=3650)
    # A member's purchase naming no campaign is the campaign's within this many days after the
    # member's latest response before it (campaign reports).
    campaign_attribution_days: int = Field(default=14, ge=0, le=365)
    consume_events: bool = True
    # Long-poll length of one feed request; a new event still arrives within milliseconds.
    feed_wait_seconds: float = Field(default=20.0, ge=0, le=55)


@lru_cache
def get_settings() -> Settings:
    return Settings()
