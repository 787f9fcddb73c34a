"""label_events.resolution: was this decision recorded to settle a conflict between analysts?

The conflict queue records a decision that settles a disagreement; agreement figures must tell
such a decision from two analysts who agreed on their own. The column is NOT NULL with a
*server* default of false, so the ``ADD COLUMN`` gives every existing event False (none of them
came from a conflict queue, which did not exist) without rewriting any other value, and a
hand-written ``INSERT`` that leaves it out still gets a definite answer.

Downgrade drops the column (SQLite >= 3.35 drops it in place): the resolution flags are lost,
every other value of every event stays as it was.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "label_events",
        sa.Column("resolution", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("label_events", "resolution")
