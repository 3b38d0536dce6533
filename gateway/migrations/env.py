"""Alembic environment of the gateway: the chassis runs it, against the gateway's own schema."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from crm_chassis.migrations import run_migrations
from crm_gateway.api_keys import models as api_key_models  # noqa: F401  (each feature's models register its tables)
from crm_gateway.audit import models as audit_models  # noqa: F401
from crm_gateway.auth import models as auth_models  # noqa: F401
from crm_gateway.config import Settings
from crm_gateway.db import SCHEMA, Base, ensure_sqlite_directory
from crm_gateway.users import models as user_models  # noqa: F401
from crm_gateway.webhooks import models as webhook_models  # noqa: F401

if context.config.config_file_name is not None:
    # Keep the loggers of a process that runs migrations in-process (tests, start-up) working.
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

url = context.get_x_argument(as_dictionary=True).get("url") or Settings().database_url
ensure_sqlite_directory(url)
run_migrations(url, Base.metadata, SCHEMA)
