from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import DeclarativeBase

from crm_chassis.db import make_metadata
from crm_chassis.tables import infra_tables

SCHEMA = "feedback"
metadata = make_metadata(SCHEMA)
infra = infra_tables(metadata)

# SQLite autoincrements INTEGER primary keys only.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata
