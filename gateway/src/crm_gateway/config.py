"""Gateway settings: `CRM_GATEWAY_*` variables, plus the shared `CRM_*` ones of the chassis."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from crm_chassis.settings import ServiceSettings

DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"  # refused outside development
# `make run` prints these; a production start refuses to create an admin with this password.
DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "demo-admin-password"
MIB = 1024 * 1024
DEFAULT_RATE_LIMITS = {
    "auth.login": 30,  # per client address: password guessing is also stopped by the lockout
    "bulk.data": 30,
    "scoring.admin": 30,
    "surveys.respond": 60,
}


class Settings(ServiceSettings):
    # populate_by_name lets tests pass aliased fields (environment, bootstrap_*) by their field names.
    model_config = SettingsConfigDict(env_prefix="CRM_GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    customer_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"

    jwt_secret: SecretStr = Field(default=SecretStr(DEV_JWT_SECRET), min_length=32)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)
    password_min_length: int = Field(default=12, ge=8, le=128)

    # Sign-in lockout, counted in the database so that every replica sees the same failures.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)

    # Requests a principal may make per minute in each route class (see permissions.py);
    # classes not named in `rate_limits` get `rate_limit_per_minute`.
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Peers (addresses or CIDR networks) whose X-Forwarded-For is believed: the load balancers.
    trusted_proxies: list[str] = Field(default_factory=list)
    # last_used_at of an API key is written at most this often, not on every call.
    api_key_touch_interval_seconds: int = Field(default=60, ge=0)

    # The audit log is written in batches after the responses, by a background task.
    audit_flush_interval_seconds: float = Field(default=1.0, gt=0)
    audit_batch_size: int = Field(default=500, ge=1)
    audit_queue_size: int = Field(default=20_000, ge=1)

    # Partner webhooks (docs/security.md, "Webhooks").
    # Lets webhooks reach loopback, private and link-local addresses: for development and for
    # receivers inside the company network, never on a gateway that holds cloud credentials.
    webhook_allow_private: bool = False
    # Follow the services' feeds and send deliveries in this process; off in tests that drive them.
    webhook_workers: bool = True
    webhook_feed_wait_seconds: float = Field(default=20.0, ge=0, le=60)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_initial_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=24 * 3600.0, gt=0)
    # Deliveries given up on in a row before the subscription is switched off.
    webhook_disable_after_failures: int = Field(default=5, ge=1)
    webhook_dispatch_interval_seconds: float = Field(default=1.0, gt=0)
    webhook_batch_size: int = Field(default=100, ge=1, le=1000)
    webhook_max_concurrency: int = Field(default=10, ge=1, le=500)
    # After a secret rotation, deliveries are signed with the old secret too for this long, so that
    # receivers can switch without rejecting anything; a rotation call may ask for another overlap.
    webhook_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)

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
    # Circuit breaker per upstream: after this many consecutive failures (no answer, 502/503/504)
    # calls are refused at once for the cooldown, then one trial call decides.
    upstream_breaker_failures: int = Field(default=5, ge=1)
    upstream_breaker_cooldown: float = Field(default=10.0, gt=0)
    # /readyz must answer fast even when an upstream hangs.
    readiness_timeout: float = Field(default=2.0, gt=0)

    max_body_bytes: int = Field(default=MIB, ge=1024)
    import_max_body_bytes: int = Field(default=50 * MIB, ge=1024)
    import_path_prefix: str = "/api/v1/imports"

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value

    def rate_limit_for(self, route_class: str) -> int:
        return self.rate_limits.get(route_class, self.rate_limit_per_minute)

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
