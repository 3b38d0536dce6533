"""Settings shared by every service: each service subclasses `ServiceSettings` with its own prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_INTERNAL_SECRET = "dev-internal-secret-change-me-0123456789"


class ServiceSettings(BaseSettings):
    """Base settings. Subclasses set `model_config = SettingsConfigDict(env_prefix="CRM_<NAME>_")`.

    Fields read from a name shared by all services (`CRM_ENVIRONMENT`, `CRM_DATA_DIR`,
    `CRM_INTERNAL_SECRET`) carry an explicit alias, which pydantic-settings reads without the prefix.
    """

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="CRM_ENVIRONMENT"
    )
    data_dir: Path = Field(default=Path("var"), validation_alias="CRM_DATA_DIR")
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=200)
    internal_secret: SecretStr = Field(
        default=SecretStr(DEV_INTERNAL_SECRET), validation_alias="CRM_INTERNAL_SECRET", min_length=32
    )
    internal_token_ttl_seconds: int = Field(default=60, ge=5, le=3600)
    log_level: str = Field(default="INFO", validation_alias="CRM_LOG_LEVEL")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # The long-poll of /internal/events answers at the latest after this many seconds.
    feed_max_wait_seconds: float = Field(default=25.0, ge=0, le=60)

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / (self.service_name + '.db')}"
        if self.environment == "production" and self.internal_secret.get_secret_value() == DEV_INTERNAL_SECRET:
            raise ValueError("CRM_INTERNAL_SECRET must be set to a real secret in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
