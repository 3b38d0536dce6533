"""Gateway settings: `CRM_GATEWAY_*` variables, plus the shared `CRM_*` ones of the chassis."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from crm_chassis.settings import ServiceSettings

DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"  # refused outside development
# `make run` prints these; a production start refuses to create an admin with this password.
DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "demo-admin-password"
MIB = 1024 * 1024


class Settings(ServiceSettings):
    # populate_by_name lets tests pass aliased fields (environment, bootstrap_*) by their field names.
    model_config = SettingsConfigDict(env_prefix="CRM_GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    customer_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"

    jwt_secret: SecretStr = Field(default=SecretStr(DEV_JWT_SECRET), min_length=32)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=24 * 3600)

    bootstrap_admin_email: str = Field(default=DEFAULT_ADMIN_EMAIL, validation_alias="CRM_BOOTSTRAP_ADMIN_EMAIL")
    bootstrap_admin_password: SecretStr = Field(
        default=SecretStr(DEFAULT_ADMIN_PASSWORD),
        validation_alias="CRM_BOOTSTRAP_ADMIN_PASSWORD",
        min_length=8,
    )

    upstream_connect_timeout: float = Field(default=2.0, gt=0)
    upstream_read_timeout: float = Field(default=30.0, gt=0)
    upstream_write_timeout: float = Field(default=30.0, gt=0)
    upstream_pool_timeout: float = Field(default=5.0, gt=0)
    # httpx's defaults (100 / 20) made explicit so that capacity is a visible, tunable decision.
    upstream_max_connections: int = Field(default=200, ge=1)
    upstream_max_keepalive: int = Field(default=50, ge=0)
    upstream_keepalive_expiry: float = Field(default=30.0, ge=0)
    # /readyz must answer fast even when an upstream hangs.
    readiness_timeout: float = Field(default=2.0, gt=0)

    max_body_bytes: int = Field(default=MIB, ge=1024)
    import_max_body_bytes: int = Field(default=50 * MIB, ge=1024)
    import_path_prefix: str = "/api/v1/imports"

    @model_validator(mode="after")
    def _refuse_dev_jwt_secret(self) -> Settings:
        if self.environment == "production" and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ValueError("CRM_GATEWAY_JWT_SECRET must be set to a real secret in production")
        self.bootstrap_admin_email = self.bootstrap_admin_email.strip().lower()
        return self

    def upstream_urls(self) -> dict[str, str]:
        return {"customer": self.customer_url, "scoring": self.scoring_url, "feedback": self.feedback_url}


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
