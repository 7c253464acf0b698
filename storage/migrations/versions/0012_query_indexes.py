"""indexes for the readers at a million change events (bench/queries.py)

The change log is read oldest first (by day, then id), filtered by state and date, or by status:
each filter's index gives the rows in that order, so no reader sorts the whole log. The index
on the state alone becomes the first column of the state-and-day index. An agreement's names
over time, which every reader shows, come from one covering index of its versions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_occurred_on", "change_event", ["occurred_on", "id"])
    op.create_index("ix_event_state_date", "change_event", ["state", "occurred_on", "id"])
    op.create_index("ix_event_status_date", "change_event", ["status", "occurred_on", "id"])
    op.drop_index("ix_change_event_state", table_name="change_event")
    # every reader names each agreement by its names over time: read from this index alone
    op.create_index("ix_version_agreement_name", "agreement_version", ["agreement_id", "agency", "present", "id"])


def downgrade() -> None:
    op.drop_index("ix_version_agreement_name", table_name="agreement_version")
    op.create_index("ix_change_event_state", "change_event", ["state"])
    op.drop_index("ix_event_status_date", table_name="change_event")
    op.drop_index("ix_event_state_date", table_name="change_event")
    op.drop_index("ix_event_occurred_on", table_name="change_event")
