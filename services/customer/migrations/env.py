from crm_chassis.migrations import run_migrations
from crm_customer.config import Settings
from crm_customer.contacts import models as _contacts  # noqa: F401
from crm_customer.customers import models  # noqa: F401 - registers the tables on the metadata
from crm_customer.db import SCHEMA, metadata
from crm_customer.exports import models as _exports  # noqa: F401
from crm_customer.imports import models as _imports  # noqa: F401
from crm_customer.interactions import models as _interactions  # noqa: F401
from crm_customer.loyalty import models as _loyalty  # noqa: F401
from crm_customer.merge import models as _merge  # noqa: F401
from crm_customer.orders import models as _orders  # noqa: F401
from crm_customer.reassign import models as _reassign  # noqa: F401
from crm_customer.users import models as _users  # noqa: F401

run_migrations(Settings().database_url, metadata, SCHEMA)
