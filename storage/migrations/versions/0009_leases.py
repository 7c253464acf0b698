"""replicas: leases, and the replica of each crawl run

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("crawl_run") as batch:
        batch.add_column(sa.Column("replica", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run") as batch:
        batch.drop_column("replica")
    op.drop_table("lease")
