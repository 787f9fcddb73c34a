"""pair_leases: the pair on an analyst's screen is reserved for a few minutes.

Two analysts who open one review queue at once would otherwise be shown the same first pair and
label it twice. A lease is one row per pair (primary key project, left_id, right_id), so taking a
pair is one atomic upsert on SQLite and PostgreSQL alike (``db.leases.acquire_lease``). Leases
are short-lived working state, not evidence: a new table, nothing in ``label_events`` changes,
and downgrade simply drops it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pair_leases",
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("left_id", sa.String(), nullable=False),
        sa.Column("right_id", sa.String(), nullable=False),
        sa.Column("analyst", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "left_id", "right_id", name=op.f("pk_pair_leases")),
        sa.CheckConstraint("length(trim(analyst)) > 0", name=op.f("ck_pair_leases_analyst_not_blank")),
    )
    op.create_index("ix_pair_leases_project_analyst", "pair_leases", ["project", "analyst"])


def downgrade() -> None:
    op.drop_index("ix_pair_leases_project_analyst", table_name="pair_leases")
    op.drop_table("pair_leases")
