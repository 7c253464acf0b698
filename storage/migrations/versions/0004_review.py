"""review decisions and notification state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("list_name", sa.String(length=20), nullable=True),
        sa.Column("from_key", sa.Text(), nullable=True),
        sa.Column("to_key", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["change_event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_decision_event_id", "review_decision", ["event_id"])
    op.create_table(
        "notification_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["change_event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "event_id", name="uq_notification_channel_event"),
    )


def downgrade() -> None:
    op.drop_table("notification_sent")
    op.drop_index("ix_review_decision_event_id", table_name="review_decision")
    op.drop_table("review_decision")
