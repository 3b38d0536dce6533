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
    # Imports one caller may have queued or running at once (a 429 beyond it).
    max_concurrent_imports: int = Field(default=3, ge=1, le=100)
    # How long a merge can be undone.
    merge_undo_hours: int = Field(default=72, ge=0, le=24 * 365)


@lru_cache
def get_settings() -> Settings:
    return Settings()
