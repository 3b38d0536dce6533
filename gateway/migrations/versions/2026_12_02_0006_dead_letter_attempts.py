"""Dead letters count their attempts: how often the item failed, for the operator who retries it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from crm_chassis.tables import add_dead_letter_attempts_v2, drop_dead_letter_attempts_v2

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"


def upgrade() -> None:
    add_dead_letter_attempts_v2(SCHEMA)


def downgrade() -> None:
    drop_dead_letter_attempts_v2(SCHEMA)
