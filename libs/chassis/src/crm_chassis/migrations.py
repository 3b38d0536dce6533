"""Shared Alembic environment: each service's `migrations/env.py` calls `run_migrations`.

The version table lives inside the service's schema on PostgreSQL. On SQLite, which has no
schemas, the schema is translated away for the migration connection as for the app's engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from crm_chassis.db import create_engine, normalise_url


def _do_run(connection: Connection, metadata: MetaData, schema: str) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        connection = connection.execution_options(schema_translate_map={schema: None})
    else:
        # Only when it is missing: CREATE SCHEMA, even with IF NOT EXISTS, needs the CREATE privilege on
        # the whole database, which a service's role (deploy/postgres/init.sql) rightly lacks; it owns
        # its schema, made for it beforehand.
        exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        if exists is None:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=None if is_sqlite else schema,
        include_schemas=not is_sqlite,
        render_as_batch=is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, metadata: MetaData, schema: str) -> None:
    engine = create_engine(url, schema)
    async with engine.connect() as connection:
        await connection.run_sync(_do_run, metadata, schema)
        await connection.commit()
    await engine.dispose()


def run_migrations(url: str, metadata: MetaData, schema: str) -> None:
    """Run the pending migrations against `url`.

    `alembic -x url=...` or `Config.attributes["url"]` (used by the tests) override the settings.
    """
    url = normalise_url(
        context.get_x_argument(as_dictionary=True).get("url") or context.config.attributes.get("url") or url
    )
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_async(url, metadata, schema))


def column_schema(schema: str) -> str | None:
    """The schema to name in `op.add_column` / `op.drop_column` / `op.alter_column`.

    Those operations render the schema name as written instead of through the connection's
    schema translation, and SQLite has no schemas; table-level operations need no such help.
    """
    from alembic import op

    return None if op.get_bind().dialect.name == "sqlite" else schema
