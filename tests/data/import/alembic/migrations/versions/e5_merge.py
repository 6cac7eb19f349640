"""merge tags and priority

Revision ID: e5
Revises: c3, d4
Create Date: 2024-02-06 08:00:00

"""
revision = 'e5'
down_revision = ('c3', 'd4')


def upgrade():
    pass


def downgrade():
    pass
