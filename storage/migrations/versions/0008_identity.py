"""agreement identity: stable agreement ids, every key an agreement had, match basis, agencies

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Existing rows keep their ids: each agreement's first key becomes its first label, each
present version gets its agreement's key, and each agreement event its agreement id.  Events
recorded before this revision have no ``match_basis``; ``tracker287g rebuild`` replays the
stored documents with the identity rules (see the README, "Upgrading a running database").
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # The agreement table is rebuilt (SQLite cannot drop a unique constraint) and other
        # tables refer to it: SQLite's documented way is foreign keys off around the rebuild.
        # The pragma only takes effect outside a transaction: before this revision's first write.
        # storage.database.migrate discards the connection afterwards.
        op.execute("PRAGMA foreign_keys=OFF")
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ori", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("registry_record", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state", "name", name="uq_agency_state_name"),
    )
    op.create_index("ix_agency_ori", "agency", ["ori"])
    with op.batch_alter_table("agreement") as batch_op:
        batch_op.drop_constraint("uq_agreement_list_key", type_="unique")
        batch_op.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_agreement_agency_id_agency", "agency", ["agency_id"], ["id"])
        batch_op.create_index("ix_agreement_list_key", ["list_name", "key"])
        batch_op.create_index("ix_agreement_agency_id", ["agency_id"])
    op.create_table(
        "agreement_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=20), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "key", name="uq_agreement_key"),
    )
    op.create_index("ix_agreement_key_list_key", "agreement_key", ["list_name", "key"])
    with op.batch_alter_table("agreement_version") as batch_op:
        batch_op.add_column(sa.Column("key", sa.Text(), nullable=True))
    with op.batch_alter_table("change_event") as batch_op:
        batch_op.add_column(sa.Column("agreement_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("match_basis", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key("fk_change_event_agreement_id_agreement", "agreement", ["agreement_id"], ["id"])
        batch_op.create_index("ix_change_event_agreement_id", ["agreement_id"])

    op.execute("INSERT INTO agreement_key (agreement_id, list_name, key, snapshot_id, basis) "
               "SELECT id, list_name, key, first_snapshot_id, 'new' FROM agreement ORDER BY id")
    op.execute("UPDATE agreement_version SET key = (SELECT a.key FROM agreement a "
               "WHERE a.id = agreement_version.agreement_id) WHERE present")
    op.execute("UPDATE change_event SET agreement_id = (SELECT a.id FROM agreement a "
               "WHERE a.list_name = change_event.list_name AND a.key = change_event.subject_key) "
               "WHERE kind LIKE 'agreement.%' OR kind LIKE 'data.duplicate%'")


def downgrade() -> None:
    with op.batch_alter_table("change_event") as batch_op:
        batch_op.drop_index("ix_change_event_agreement_id")
        batch_op.drop_constraint("fk_change_event_agreement_id_agreement", type_="foreignkey")
        batch_op.drop_column("match_basis")
        batch_op.drop_column("agreement_id")
    with op.batch_alter_table("agreement_version") as batch_op:
        batch_op.drop_column("key")
    op.drop_index("ix_agreement_key_list_key", table_name="agreement_key")
    op.drop_table("agreement_key")
    with op.batch_alter_table("agreement") as batch_op:
        batch_op.drop_index("ix_agreement_agency_id")
        batch_op.drop_index("ix_agreement_list_key")
        batch_op.drop_constraint("fk_agreement_agency_id_agency", type_="foreignkey")
        batch_op.drop_column("agency_id")
        batch_op.create_unique_constraint("uq_agreement_list_key", ["list_name", "key"])
    op.drop_index("ix_agency_ori", table_name="agency")
    op.drop_table("agency")
