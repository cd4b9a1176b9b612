"""add job render columns

Revision ID: 5a7c0e3d9b21
Revises: 13daa8662c00
Create Date: 2026-12-04 16:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a7c0e3d9b21"
down_revision: str | None = "13daa8662c00"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("video_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("render_frames", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "credits_reserved", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(sa.Column("deforum_settings", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "source_rotation", sa.Integer(), nullable=False, server_default="0"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("video_jobs", schema=None) as batch_op:
        batch_op.drop_column("source_rotation")
        batch_op.drop_column("deforum_settings")
        batch_op.drop_column("credits_reserved")
        batch_op.drop_column("render_frames")
