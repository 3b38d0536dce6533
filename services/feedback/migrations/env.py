from crm_chassis.migrations import run_migrations
from crm_feedback import models  # noqa: F401 - registers the tables on the metadata
from crm_feedback.config import Settings
from crm_feedback.db import SCHEMA, metadata

run_migrations(Settings().database_url, metadata, SCHEMA)
