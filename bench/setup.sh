#!/usr/bin/env bash
# Installs the peers `make bench-peers` runs beside godwit, into a cache outside the clone:
# sqlx-cli from crates.io, Alembic (with PostgreSQL and MySQL drivers) and matplotlib in a venv,
# and the sqlite3 shell. dbmate comes from the npm lock (node_modules).
set -euo pipefail
TOOLS="$HOME/.cache/godwit/tools"

if ! command -v sqlite3 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3
fi
# The root names the version and features (the defaults, which read sqlx.toml): another build is
# not mistaken for this one.
SQLX_ROOT="$TOOLS/sqlx-cli-0.9.0-default"
if [ ! -x "$SQLX_ROOT/bin/sqlx" ]; then
  cargo install sqlx-cli --version 0.9.0 --locked --root "$SQLX_ROOT"
fi
VENV="$TOOLS/bench"
if ! "$VENV/bin/python" -c 'import alembic, psycopg2, pymysql, matplotlib' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'alembic>=1.13,<2' 'psycopg2-binary>=2.9,<3' \
    'pymysql>=1.1,<2' 'matplotlib>=3.8,<4'
fi
