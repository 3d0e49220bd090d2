"""web sessions, login failures, users.disabled_at; the generated session key leaves the database

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 23:50:00

Board sessions become server-side records (`web_sessions`, only the SHA-256 of the cookie's
session id), login failures are counted in `login_failures` shared by every hub, and a user can
be disabled. The key older hubs generated and kept in `engine_state` (`http_secret_key`) is
deleted: anyone with a dump could sign cookies and responder links with it. From now on the key
comes only from the environment or a secrets file (docs/SECURITY.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'web_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('user_name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('seen_at', sa.Float(), nullable=False),
        sa.Column('ended_at', sa.Float(), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_sessions')),
    )
    op.create_index(op.f('ix_web_sessions_user_name'), 'web_sessions', ['user_name'], unique=False)
    op.create_table(
        'login_failures',
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_login_failures')),
    )
    op.create_index(op.f('ix_login_failures_window_start'), 'login_failures', ['window_start'], unique=False)
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.Float(), nullable=True))
    op.execute("DELETE FROM engine_state WHERE key = 'http_secret_key'")


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('disabled_at')
    op.drop_index(op.f('ix_login_failures_window_start'), table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_web_sessions_user_name'), table_name='web_sessions')
    op.drop_table('web_sessions')
