"""Start one process of a service: `python -m crm_chassis.serve crm_customer.main:create_app`.

Every way of running the system (`make run`, the images, compose, Kubernetes) starts its
processes through here, so the server's own settings come from the same place as the service's
and cannot drift between them:

- `CRM_HTTP_KEEPALIVE_SECONDS` (default 75): how long the server keeps an idle connection. The
  gateway pools connections to the services and must drop an idle one before the service does,
  or a request sent as the service closes it fails with no answer; the gateway's
  `CRM_GATEWAY_UPSTREAM_KEEPALIVE_EXPIRY` is checked against this value at its start.
- `CRM_HTTP_GRACEFUL_SECONDS` (default 20): how long in-flight requests may finish after SIGTERM.
- `CRM_<SERVICE>_HOST`, `CRM_<SERVICE>_PORT` (default 127.0.0.1:8000) and `CRM_<SERVICE>_WORKERS`
  (default 1; more uvicorn worker processes on PostgreSQL), where SERVICE is the package's name
  after `crm_` (`CRM_CUSTOMER_WORKERS` for `crm_customer`).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_KEEPALIVE_SECONDS = 75.0
# After the server has returned, how long threads still running may take before the process leaves.
STRAGGLER_SECONDS = 5.0

logger = logging.getLogger("crm.serve")


class ServerSettings(BaseSettings):
    """Built with `_env_prefix="CRM_<SERVICE>_"`; the HTTP timings are shared by every service."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    http_keepalive_seconds: float = Field(
        default=DEFAULT_KEEPALIVE_SECONDS, gt=0, validation_alias="CRM_HTTP_KEEPALIVE_SECONDS"
    )
    http_graceful_seconds: int = Field(default=20, ge=1, validation_alias="CRM_HTTP_GRACEFUL_SECONDS")


def env_prefix(factory: str) -> str:
    """`crm_customer.main:create_app` → `CRM_CUSTOMER_`."""
    package = factory.split(":", 1)[0].split(".", 1)[0]
    return package.upper() + "_" if package.startswith("crm_") else "CRM_"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("factory", help="module:function returning the ASGI app")
    parser.add_argument("--port", type=int, help="overrides CRM_PORT")
    args = parser.parse_args(argv)
    settings = ServerSettings(_env_prefix=env_prefix(args.factory))  # type: ignore[call-arg]
    uvicorn.run(
        args.factory,
        factory=True,
        host=settings.host,
        port=args.port or settings.port,
        workers=settings.workers,
        timeout_keep_alive=int(settings.http_keepalive_seconds),
        timeout_graceful_shutdown=settings.http_graceful_seconds,
        access_log=False,  # the request middleware writes one JSON line per request
    )
    leave_without_stragglers()


def leave_without_stragglers(timeout: float = STRAGGLER_SECONDS) -> None:
    """The server has returned: its shutdown ran and closed the database pools. A thread still
    running now (a SQLite connection a cancelled request never gave back runs one) would hold the
    interpreter's exit forever, until the orchestrator kills it; wait a little for such threads,
    name them, and leave without them."""
    deadline = time.monotonic() + timeout
    # polled rather than joined with a timeout: a timed join waits on an absolute deadline, which a
    # clock moved by libfaketime (the CI's year-ahead pass) turns into a wait of a year
    while _stragglers() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _stragglers()
    if left:
        logger.warning(
            "threads still running after shutdown; leaving without them", extra={"threads": [t.name for t in left]}
        )
        logging.shutdown()
        os._exit(0)


def _stragglers() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]


if __name__ == "__main__":
    main()
