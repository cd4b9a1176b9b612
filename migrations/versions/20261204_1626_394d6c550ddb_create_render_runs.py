"""create render runs

Revision ID: 394d6c550ddb
Revises: 861276c0a724
Create Date: 2026-12-04 16:26:31.596301+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mage_studio.core.db


revision: str = "394d6c550ddb"
down_revision: str | None = "861276c0a724"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "render_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("render_kind", sa.String(length=16), nullable=True),
        sa.Column("worker_name", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("frames_done", sa.Integer(), nullable=False),
        sa.Column("applied_steering", sa.JSON(), nullable=False),
        sa.Column("result_metadata", sa.JSON(), nullable=True),
        sa.Column(
            "started_at", mage_studio.core.db.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", mage_studio.core.db.UtcDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["video_jobs.id"],
            name=op.f("fk_render_runs_job_id_video_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_render_runs")),
        sa.UniqueConstraint(
            "job_id", "attempt", name=op.f("uq_render_runs_job_id_attempt")
        ),
    )


def downgrade() -> None:
    op.drop_table("render_runs")
