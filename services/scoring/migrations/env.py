from crm_chassis.migrations import run_migrations
from crm_scoring.config import Settings
from crm_scoring.db import SCHEMA, metadata
from crm_scoring.readmodel import models  # noqa: F401 - registers the tables on the metadata
from crm_scoring.reasons import models as _reasons  # noqa: F401
from crm_scoring.retention import models as _retention  # noqa: F401
from crm_scoring.runs import models as _runs  # noqa: F401
from crm_scoring.scores import models as _scores  # noqa: F401
from crm_scoring.settings import models as _settings  # noqa: F401

run_migrations(Settings().database_url, metadata, SCHEMA)
