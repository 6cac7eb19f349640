"""tags

Revision ID: c3
Revises: b2
Create Date: 2024-02-05 10:00:00

"""
from alembic import op

revision = 'c3'
down_revision = 'b2'


def upgrade():
    op.execute("CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE)")


def downgrade():
    op.execute("DROP TABLE tags")
