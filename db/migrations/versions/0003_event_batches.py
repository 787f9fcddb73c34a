"""label_events.batch_id: events recorded together as one analyst action, undone together.

"This candidate matches" accepts one pair and rejects the entity's other candidates; a bulk
accept decides hundreds of pairs. Each is one action for the analyst, so its events share a
batch id and undo takes the whole action back in one step. The column is nullable without a
default: every event written before this revision was a single decision, and NULL says exactly
that, so the ``ADD COLUMN`` rewrites no stored value.

The index on (project, batch_id) serves undo, which reads the whole batch of the event it takes
back.

Downgrade drops the index and the column: the grouping is lost (an undo then takes back one event
of a former batch at a time), every other value of every event stays as it was.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("label_events", sa.Column("batch_id", sa.String(length=32), nullable=True))
    op.create_index("ix_label_events_project_batch_id", "label_events", ["project", "batch_id"])


def downgrade() -> None:
    op.drop_index("ix_label_events_project_batch_id", table_name="label_events")
    op.drop_column("label_events", "batch_id")
