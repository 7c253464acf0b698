"""registry review: decisions on agencies' FBI registry matches, and each agency's review status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Decisions are kept apart from the ``agency`` rows, which ``tracker287g rebuild`` recreates: a
decision names the agency (state and canonical name) and the ORI, and is applied whenever that
agency is matched to that ORI again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=False),
        sa.Column("agency_name", sa.Text(), nullable=False),
        sa.Column("ori", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_registry_decision_agency", "registry_decision", ["state", "agency_name", "ori"])
    with op.batch_alter_table("agency") as batch:
        batch.add_column(sa.Column("registry_review", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agency") as batch:
        batch.drop_column("registry_review")
    op.drop_index("ix_registry_decision_agency", table_name="registry_decision")
    op.drop_table("registry_decision")
