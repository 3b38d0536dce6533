"""The migrations build the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_chassis.testing import check_migrations_match_models


async def test_migrations_match_the_models(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("alembic check compares schemas; run on PostgreSQL")
    await check_migrations_match_models(Path(__file__).parents[1] / "alembic.ini", database_url)
