# CKAN: plain Alembic, 110 revisions (most guarded by a check of an older tool's version), an
# env.py that imports the application's model. Alembic itself migrates, with the URL written into
# the extracted alembic.ini (as a CKAN site's config gives it).
REPO=ckan/ckan
COMMIT=2dbe2c18f65ec75798c3667dd412c2320ac44ab0
TOOL=alembic
DIR=ckan/migration
PIP="-r requirements.txt psycopg2-binary -e ."

original_up() { # URL
  sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = $1|" "$SRC/ckan/migration/alembic.ini"
  (cd "$SRC" && "$VENV/bin/alembic" -c ckan/migration/alembic.ini upgrade head)
}
