"""label_events: the append-only log of analysts' decisions, as mualign first created it.

This is the schema ``Base.metadata.create_all`` made before the store had migrations (up to
commit b0897b7), written out literally: a revision must never change once released, so it does
not import ``db.models`` (which describes the *head* schema) or ``db.decisions`` (whose words
may grow). Databases created by that older code have this table but no ``alembic_version``;
``db.migrations.upgrade`` recognises them and stamps them at this revision instead of running it.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("project", sa.String(), nullable=False),
        sa.Column("left_id", sa.String(), nullable=False),
        sa.Column("right_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("analyst", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_events")),
        sa.CheckConstraint(
            "decision IN ('accept', 'reject', 'skip', 'undo')", name=op.f("ck_label_events_decision_known")
        ),
        sa.CheckConstraint("length(trim(analyst)) > 0", name=op.f("ck_label_events_analyst_not_blank")),
        sa.CheckConstraint(
            "(decision = 'undo' AND undoes_id IS NOT NULL) OR (decision <> 'undo' AND undoes_id IS NULL)",
            name=op.f("ck_label_events_undoes_id_only_on_undo"),
        ),
        sa.UniqueConstraint("undoes_id", name=op.f("uq_label_events_undoes_id")),
        sa.ForeignKeyConstraint(
            ["undoes_id"], ["label_events.id"], name=op.f("fk_label_events_undoes_id_label_events")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_label_events_project_analyst", "label_events", ["project", "analyst"])
    op.create_index("ix_label_events_project_pair", "label_events", ["project", "left_id", "right_id"])


def downgrade() -> None:
    op.drop_index("ix_label_events_project_pair", table_name="label_events")
    op.drop_index("ix_label_events_project_analyst", table_name="label_events")
    op.drop_table("label_events")
