"""Gateway settings: `CRM_GATEWAY_*` variables, plus the shared `CRM_*` ones of the chassis."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from crm_chassis.serve import DEFAULT_KEEPALIVE_SECONDS
from crm_chassis.settings import ServiceSettings, dev_secret_refusal

# Every public path of the CRM starts here; the services' own paths do not.
PUBLIC_PREFIX = "/api/v1"
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"  # accepted only in an explicit development or test
# `make run` prints these; a production start refuses to create an admin with this password.
DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_ADMIN_PASSWORD = "demo-admin-password"
MIB = 1024 * 1024
DEFAULT_RATE_LIMITS = {
    "auth.login": 30,  # per client address: password guessing is also stopped by the lockout
    "bulk.data": 30,
    "jobs.poll": 300,  # 2 Hz for two pages following jobs at once, with room to spare
    # counted per call of up to 1,000 items: a partner's sync may write 120,000 orders a minute
    "orders.batch": 120,
    "customers.batch": 120,
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
    # How long a process may rely on its last reading of a user and the token's revocation
    # (auth/cache.py): the longest a disabled user or a revoked token is still let in. 0: never.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    password_min_length: int = Field(default=12, ge=8, le=128)
    # zxcvbn's strength estimate (0-4) a new password must reach: 3 = about 10^10 guesses.
    password_min_score: int = Field(default=3, ge=0, le=4)

    # Sign-in lockout, counted in the database so that every replica sees the same failures.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)

    # Requests a principal may make per minute in each route class (see auth/permissions.py);
    # classes not named in `rate_limits` get `rate_limit_per_minute`.
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limits: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Where every gateway process counts those limits (redis://host:6379/0). Unset: each process
    # counts alone, so replicas or workers multiply the limits (auth/ratelimit.py).
    redis_url: str | None = Field(default=None, validation_alias="CRM_REDIS_URL")
    # Prefix of the limiter's keys in that Redis: gateways of different systems sharing one
    # Redis keep their counts apart with different prefixes.
    rate_limit_key_prefix: str = Field(default="crm-gateway", min_length=1, max_length=100)
    # uvicorn worker processes of this gateway (crm_chassis.serve reads the same variable);
    # read here only to warn when several of them count rate limits each on their own.
    workers: int = Field(default=1, ge=1, le=64)
    # Peers (addresses or CIDR networks) whose X-Forwarded-For is believed: the load balancers.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Web origins whose pages may call the API from a browser: a comma-separated list (none by
    # default; `make run` allows a local frontend on port 5173).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
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

    # The HTTP client under the calls to the services: aiohttp (through httpx-aiohttp, with httpx's
    # error meanings kept: proxy/transport.py) costs about half of httpx's own transport.
    upstream_http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    upstream_connect_timeout: float = Field(default=2.0, gt=0)
    upstream_read_timeout: float = Field(default=30.0, gt=0)
    upstream_write_timeout: float = Field(default=30.0, gt=0)
    upstream_pool_timeout: float = Field(default=5.0, gt=0)
    # httpx's defaults (100 / 20) made explicit so that capacity is a visible, tunable decision.
    upstream_max_connections: int = Field(default=200, ge=1)
    upstream_max_keepalive: int = Field(default=50, ge=0)
    # Idle pooled connections are dropped after this long, which must be well before the services
    # close them (CRM_HTTP_KEEPALIVE_SECONDS, crm_chassis.serve): a request sent on a connection the
    # service is closing fails with no answer.
    upstream_keepalive_expiry: float = Field(default=30.0, ge=0)
    service_keepalive_seconds: float = Field(
        default=DEFAULT_KEEPALIVE_SECONDS, gt=0, validation_alias="CRM_HTTP_KEEPALIVE_SECONDS"
    )
    # Circuit breaker per upstream: after this many consecutive failures (no answer, 502/503/504)
    # calls are refused at once for the cooldown, then one trial call decides.
    upstream_breaker_failures: int = Field(default=5, ge=1)
    upstream_breaker_cooldown: float = Field(default=10.0, gt=0)
    # /readyz must answer fast even when an upstream hangs.
    readiness_timeout: float = Field(default=2.0, gt=0)

    max_body_bytes: int = Field(default=MIB, ge=1024)
    import_max_body_bytes: int = Field(default=50 * MIB, ge=1024)
    import_path_prefix: str = "/api/v1/imports"
    batch_max_body_bytes: int = Field(default=8 * MIB, ge=1024)
    batch_paths: tuple[str, ...] = ("/api/v1/orders/batch", "/api/v1/customers/batch")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

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
        self.bootstrap_admin_email = self.bootstrap_admin_email.strip().lower()
        # at most half, so that scheduling delays and clocks cannot close the gap
        if self.upstream_keepalive_expiry > self.service_keepalive_seconds / 2:
            raise ValueError(
                f"CRM_GATEWAY_UPSTREAM_KEEPALIVE_EXPIRY ({self.upstream_keepalive_expiry} s) must be at most half"
                f" the services' CRM_HTTP_KEEPALIVE_SECONDS ({self.service_keepalive_seconds} s)"
            )
        return self

    def refuse_known_secrets(self) -> None:
        super().refuse_known_secrets()
        if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET and not self.allows_dev_secrets:
            raise RuntimeError(dev_secret_refusal("CRM_GATEWAY_JWT_SECRET"))

    def body_limits(self) -> dict[str, int]:
        """Path prefixes with a body limit of their own: CSV imports, and batches of up to 1,000 items."""
        return {self.import_path_prefix: self.import_max_body_bytes} | dict.fromkeys(
            self.batch_paths, self.batch_max_body_bytes
        )

    def upstream_urls(self) -> dict[str, str]:
        return {"customer": self.customer_url, "scoring": self.scoring_url, "feedback": self.feedback_url}


async def get_settings(request: Request) -> Settings:
    # async, so that FastAPI calls it in the loop: a plain function dependency costs a thread hop
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
