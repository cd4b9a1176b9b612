"""make saved wallets unique

Revision ID: 7b1e2c9d4f60
Revises: 4f4a008561cf
Create Date: 2026-12-04 20:15:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import mage_studio.core.db

revision: str = "7b1e2c9d4f60"
down_revision: str | None = "4f4a008561cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX_NAME = "uq_user_wallets_user_id_wallet_type_id_info"


def upgrade() -> None:
    # Concurrent saves could store the same wallet twice. Keep the oldest visible
    # copy and hide the others, which finance operations may still refer to.
    op.execute(
        sa.text(
            "UPDATE user_wallets SET deleted_at = :now "
            "WHERE deleted_at IS NULL AND id NOT IN ("
            "SELECT MIN(id) FROM user_wallets WHERE deleted_at IS NULL "
            "GROUP BY user_id, wallet_type_id, info)"
        ).bindparams(
            sa.bindparam(
                "now", datetime.now(UTC), type_=mage_studio.core.db.UtcDateTime()
            )
        )
    )
    with op.batch_alter_table("user_wallets", schema=None) as batch_op:
        batch_op.create_index(
            INDEX_NAME,
            ["user_id", "wallet_type_id", "info"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("user_wallets", schema=None) as batch_op:
        batch_op.drop_index(INDEX_NAME)
