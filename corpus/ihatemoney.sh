# I Hate Money: Flask-Migrate (env.py needs the application), revisions that read rows and import
# the application's modules. Alembic itself runs through `flask db upgrade`.
REPO=spiral-project/ihatemoney
COMMIT=52e5720ec78d32eab963cd7e73d4826ae3a16950
TOOL=alembic
DIR=ihatemoney/migrations
# Installed into the project's virtualenv from its own source tree.
PIP=". psycopg2-binary"

# `flask db upgrade` exits 1 here after migrating all the way (the application's own doing), so the
# run counts when alembic_version names the head.
original_up() { # URL
  printf 'SQLALCHEMY_DATABASE_URI = "%s"\nSECRET_KEY = "corpus"\n' "$1" > "$WORK/settings.cfg"
  (cd "$SRC" && IHATEMONEY_SETTINGS_FILE_PATH="$WORK/settings.cfg" "$VENV/bin/flask" --app ihatemoney.wsgi db upgrade) || true
  [ "$(psql "$1" -Atc 'SELECT version_num FROM alembic_version')" = c941aaca38c2 ]
}
