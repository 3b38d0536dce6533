"""customer search: pinyin and character-code columns, simplified text, trigram indexes on PostgreSQL

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_chassis.migrations import column_schema
from crm_customer.customers import search

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "customer"
CHUNK = 1000
TRIGRAM_INDEXES = {
    "ix_customer_search_text_trgm": "search_text",
    "ix_customer_search_pinyin_trgm": "search_pinyin",
    "ix_customer_search_han_trgm": "search_han",
}


def _customer_table(bind: sa.Connection) -> sa.TableClause:
    return sa.table(
        "customer",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("phone", sa.String()),
        sa.column("other_contacts", sa.JSON()),
        sa.column("erased_at", sa.DateTime(timezone=True)),
        sa.column("search_text", sa.Text()),
        sa.column("search_pinyin", sa.Text()),
        sa.column("search_han", sa.Text()),
        schema=None if bind.dialect.name == "sqlite" else SCHEMA,
    )


def _require_trigrams(bind: sa.Connection) -> None:
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except sa.exc.DBAPIError as exc:
        raise RuntimeError(
            "the customer search needs the pg_trgm extension, which this role may not create: "
            "run `CREATE EXTENSION pg_trgm SCHEMA public;` as a superuser (deploy/postgres/init.sql does)"
        ) from exc


def _backfill(bind: sa.Connection) -> None:
    """Rewrite both search columns of every customer not erased, in id order, a chunk at a time."""
    customer = _customer_table(bind)
    last = None
    while True:
        stmt = sa.select(
            customer.c.id, customer.c.name, customer.c.email, customer.c.phone, customer.c.other_contacts
        ).where(customer.c.erased_at.is_(None))
        if last is not None:
            stmt = stmt.where(customer.c.id > last)
        rows = bind.execute(stmt.order_by(customer.c.id).limit(CHUNK)).all()
        if not rows:
            return
        values = []
        for row in rows:
            others = [c.get("value") or "" for c in row.other_contacts or []]
            text, pinyin, han = search.columns(row.name, row.email, row.phone, others)
            values.append({"key": row.id, "text": text, "pinyin": pinyin, "han": han})
        bind.execute(
            customer.update()
            .where(customer.c.id == sa.bindparam("key"))
            .values(
                search_text=sa.bindparam("text"), search_pinyin=sa.bindparam("pinyin"), search_han=sa.bindparam("han")
            ),
            values,
        )
        last = rows[-1].id


def upgrade() -> None:
    bind = op.get_bind()
    for name in ("search_pinyin", "search_han"):
        op.add_column(
            "customer", sa.Column(name, sa.Text(), nullable=False, server_default=""), schema=column_schema(SCHEMA)
        )
    _backfill(bind)
    if bind.dialect.name == "postgresql":
        _require_trigrams(bind)
        for name, col in TRIGRAM_INDEXES.items():
            op.execute(f'CREATE INDEX {name} ON "{SCHEMA}".customer USING gin ({col} gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.drop_index(name, table_name="customer", schema=SCHEMA)
    for name in ("search_han", "search_pinyin"):
        op.drop_column("customer", name, schema=column_schema(SCHEMA))
