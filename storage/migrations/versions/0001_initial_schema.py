"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('first_file_name', sa.Text(), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('fetch_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fetch_attempt_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fetch_attempt_source'), ['source'], unique=False)

    ingest_lock = op.create_table('ingest_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ingests', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # the single row every ingest updates first (see storage.models.IngestLock)
    op.bulk_insert(ingest_lock, [{"id": 1, "ingests": 0}])
    op.create_table('snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_name', sa.String(length=20), nullable=False),
    sa.Column('declared_list', sa.String(length=20), nullable=True),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('as_of_basis', sa.Text(), nullable=True),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('row_count', sa.Integer(), nullable=True),
    sa.Column('agreements', sa.Integer(), nullable=True),
    sa.Column('agencies', sa.Integer(), nullable=True),
    sa.Column('states', sa.Integer(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.Column('columns', sa.JSON(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('same_as_id', sa.Integer(), nullable=True),
    sa.Column('fetch_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_sha256'], ['document.sha256'], ),
    sa.ForeignKeyConstraint(['fetch_id'], ['fetch_attempt.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['snapshot.id'], ),
    sa.ForeignKeyConstraint(['same_as_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_as_of'), ['as_of'], unique=False)
        batch_op.create_index('ix_snapshot_document', ['document_sha256', 'file_name'], unique=False)
        batch_op.create_index('ix_snapshot_list_status', ['list_name', 'status', 'id'], unique=False)

    op.create_table('agreement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_name', sa.String(length=20), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=4), nullable=False),
    sa.Column('agency_key', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=10), nullable=False),
    sa.Column('first_snapshot_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['first_snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_name', 'key', name='uq_agreement_list_key')
    )
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_state'), ['state'], unique=False)

    op.create_table('change_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('list_name', sa.String(length=20), nullable=True),
    sa.Column('subject_key', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=4), nullable=True),
    sa.Column('field', sa.String(length=40), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('previous_snapshot_id', sa.Integer(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['previous_snapshot_id'], ['snapshot.id'], ),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('change_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_event_snapshot_id'), ['snapshot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_event_state'), ['state'], unique=False)
        batch_op.create_index('ix_event_kind_date', ['kind', 'occurred_on'], unique=False)

    op.create_table('agreement_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('agency', sa.Text(), nullable=True),
    sa.Column('agency_type', sa.String(length=30), nullable=True),
    sa.Column('county', sa.Text(), nullable=True),
    sa.Column('signed', sa.Date(), nullable=True),
    sa.Column('moa', sa.String(length=20), nullable=True),
    sa.Column('moa_url', sa.Text(), nullable=True),
    sa.Column('addendum', sa.String(length=20), nullable=True),
    sa.Column('addendum_url', sa.Text(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], ),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('agreement_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_version_snapshot_id'), ['snapshot_id'], unique=False)
        batch_op.create_index('ix_version_agreement', ['agreement_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('agreement_version', schema=None) as batch_op:
        batch_op.drop_index('ix_version_agreement')
        batch_op.drop_index(batch_op.f('ix_agreement_version_snapshot_id'))

    op.drop_table('agreement_version')
    with op.batch_alter_table('change_event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_kind_date')
        batch_op.drop_index(batch_op.f('ix_change_event_state'))
        batch_op.drop_index(batch_op.f('ix_change_event_snapshot_id'))

    op.drop_table('change_event')
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreement_state'))

    op.drop_table('agreement')
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshot_list_status')
        batch_op.drop_index('ix_snapshot_document')
        batch_op.drop_index(batch_op.f('ix_snapshot_as_of'))

    op.drop_table('snapshot')
    op.drop_table('ingest_lock')
    with op.batch_alter_table('fetch_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fetch_attempt_source'))
        batch_op.drop_index(batch_op.f('ix_fetch_attempt_run_id'))

    op.drop_table('fetch_attempt')
    op.drop_table('document')
