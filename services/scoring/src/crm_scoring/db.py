from sqlalchemy.orm import DeclarativeBase

from crm_chassis.db import make_metadata
from crm_chassis.tables import infra_tables

SCHEMA = "scoring"
metadata = make_metadata(SCHEMA)
infra = infra_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata
