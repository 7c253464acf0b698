"""change events: provisional, confirmed or reverted, and the event a reversal is linked to

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # events recorded before confirmation existed stay as they were published: confirmed
    with op.batch_alter_table("change_event") as batch:
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="confirmed"))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("linked_event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_change_event_linked_event_id", "change_event", ["linked_event_id"], ["id"])
        batch.create_index("ix_event_list_status", ["list_name", "status"])


def downgrade() -> None:
    with op.batch_alter_table("change_event") as batch:
        batch.drop_index("ix_event_list_status")
        batch.drop_constraint("fk_change_event_linked_event_id", type_="foreignkey")
        batch.drop_column("linked_event_id")
        batch.drop_column("status_changed_at")
        batch.drop_column("status")
