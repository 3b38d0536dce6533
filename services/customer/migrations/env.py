from crm_chassis.migrations import run_migrations
from crm_customer.config import Settings
from crm_customer.customers import models  # noqa: F401 - registers the tables on the metadata
from crm_customer.db import SCHEMA, metadata

run_migrations(Settings().database_url, metadata, SCHEMA)
