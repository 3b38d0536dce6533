from crm_chassis.migrations import run_migrations
from crm_scoring.config import Settings
from crm_scoring.db import SCHEMA, metadata
from crm_scoring.readmodel import models  # noqa: F401 - registers the tables on the metadata

run_migrations(Settings().database_url, metadata, SCHEMA)
