"""news tables (articles, sightings, reported figures, agencies named)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "news_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.String(length=500), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("publisher_url", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_raw", sa.Text(), nullable=True),
        sa.Column("dated_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("relevance", sa.JSON(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_key"),
    )
    op.create_index("ix_news_article_dated", "news_article", ["dated_on"])
    op.create_table(
        "news_sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("match", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["news_article.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "source", "url", name="uq_news_sighting"),
    )
    op.create_index("ix_news_sighting_article_id", "news_sighting", ["article_id"])
    op.create_table(
        "news_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=True),
        sa.Column("as_of_start", sa.Date(), nullable=True),
        sa.Column("as_of_end", sa.Date(), nullable=True),
        sa.Column("as_of_precision", sa.String(length=10), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("qualifier", sa.String(length=40), nullable=True),
        sa.Column("per", sa.String(length=40), nullable=True),
        sa.Column("change", sa.Boolean(), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("baseline_id", sa.String(length=100), nullable=True),
        sa.Column("measure", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["news_article.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_news_figure_article_id", "news_figure", ["article_id"])
    op.create_index("ix_news_figure_state", "news_figure", ["state"])
    op.create_table(
        "news_article_agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=False),
        sa.Column("agency_key", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["news_article.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "state", "agency_key", name="uq_news_article_agency"),
    )
    op.create_index("ix_news_article_agency_article_id", "news_article_agency", ["article_id"])


def downgrade() -> None:
    op.drop_table("news_article_agency")
    op.drop_table("news_figure")
    op.drop_table("news_sighting")
    op.drop_index("ix_news_article_dated", table_name="news_article")
    op.drop_table("news_article")
