"""an index on every foreign-key column

Deleting or re-keying a row makes the database look for the rows that refer to it. Without an
index on the referring column that is a scan of the whole table for each row deleted: `rebuild`,
which clears the history before replaying it, spent 2.9 s of its 7.5 s deleting the 4,929 change
events of the shared history (each one looked for in `linked_event_id`, row by row), and the
cost grows with the square of the log. ``tests/storage/test_storage.py`` checks that every
foreign key of the models leads an index.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = (
    ("snapshot", "previous_id"),
    ("snapshot", "same_as_id"),
    ("snapshot", "fetch_id"),
    ("agreement", "first_snapshot_id"),
    ("agreement_key", "snapshot_id"),
    ("change_event", "previous_snapshot_id"),
    ("change_event", "linked_event_id"),
    ("notification_sent", "event_id"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
