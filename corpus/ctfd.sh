# CTFd: Flask-Migrate (env.py needs the application), revisions that read rows and import the
# application's modules. Its own `manage.py db upgrade` migrates.
REPO=CTFd/CTFd
COMMIT=91ced62d44d3ec3142a0948ee96ed19947cfc979
TOOL=alembic
DIR=migrations
# Its requirements only: the application itself is imported from its source tree, as `flask db` does.
PIP="-r requirements.txt psycopg2-binary"
# CTFd's application also runs its dynamic-challenges plugin's own migrations (another folder, its own
# version table), which rename three columns and add one: corpus/ctfd.diff is exactly that.
KNOWN="identical but for CTFd's plugin migrations, kept outside migrations/ (corpus/ctfd.diff)"

original_up() { # URL
  (cd "$SRC" && DATABASE_URL="$1" "$VENV/bin/python" manage.py db upgrade)
}
