"""priority

Revision ID: d4
Revises: b2
Create Date: 2024-02-05 11:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'd4'
down_revision = 'b2'


def upgrade():
    op.add_column('todos', sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
    op.create_index("todos_priority", "todos", ["priority"])


def downgrade():
    op.drop_index('todos_priority', table_name='todos')
    op.drop_column('todos', 'priority')
