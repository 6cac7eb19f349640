"""add due date

Revision ID: b2
Revises: a1
Create Date: 2024-02-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'b2'
down_revision = 'a1'


def upgrade():
    op.add_column('todos', sa.Column('due_date', sa.Date(), nullable=True))


def downgrade():
    op.drop_column('todos', 'due_date')
