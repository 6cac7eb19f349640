# Mealie, a recipe manager: plain Alembic (37 revisions) whose env.py reads the application's
# settings and whose revisions import its models and fix data. The application runs
# `alembic upgrade head` itself at start; the command line does the same.
REPO=mealie-recipes/mealie
COMMIT=b5643a9399465d8b4ea339e7a6639df2d697741b
TOOL=alembic
DIR=alembic
PATHS="alembic alembic.ini mealie pyproject.toml poetry.lock README.md LICENSE"
PIP=". psycopg2-binary"
# python-ldap, one of its dependencies, builds from source.
APT="libldap2-dev libsasl2-dev"

# Its settings come from the environment (a folder for its data, written to on start).
project_env() {
  mkdir -p "$WORK/data"
  echo "PRODUCTION=true DATA_DIR=$WORK/data"
}

original_up() { # URL
  # shellcheck disable=SC2046
  (cd "$SRC" && env $(project_env) DB_ENGINE=postgres POSTGRES_URL_OVERRIDE="$1" "$VENV/bin/alembic" upgrade head)
}
