"""notification claims (exactly once) and notification targets (start = "now", backoff)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_sent") as batch:
        batch.alter_column("channel", existing_type=sa.String(length=20), type_=sa.String(length=100),
                           existing_nullable=False)
        batch.add_column(sa.Column("status", sa.String(length=10), server_default="sent", nullable=False))
        batch.add_column(sa.Column("claim", sa.String(length=36), nullable=True))
        batch.create_index("ix_notification_sent_claim", ["claim"])
    op.create_table(
        "notification_target",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_after_event_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_after", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("notification_target")
    with op.batch_alter_table("notification_sent") as batch:
        batch.drop_index("ix_notification_sent_claim")
        batch.drop_column("claim")
        batch.drop_column("status")
        batch.alter_column("channel", existing_type=sa.String(length=100), type_=sa.String(length=20),
                           existing_nullable=False)
