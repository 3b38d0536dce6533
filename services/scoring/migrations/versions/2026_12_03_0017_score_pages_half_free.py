"""Score cards keep half of each page free: a live run rewrites every card, and a new row version
that fits on its page is an in-place (HOT) update with no index entry to add

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

On PostgreSQL only (SQLite has no fill factor). Pages already full take the setting as they are
rewritten; `VACUUM FULL scoring.customer_score` applies it to all of them at once.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE scoring.customer_score SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE scoring.customer_score RESET (fillfactor)")
