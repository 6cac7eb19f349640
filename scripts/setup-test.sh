#!/usr/bin/env bash
# Installs and starts what `make test` needs on a fresh Debian 12 machine; on a machine that already
# has it all (CI), it only checks. Test servers: GODWIT_TEST_PG_URL / GODWIT_TEST_MYSQL_URL if set,
# else PostgreSQL on 127.0.0.1:5432 (user postgres) and MariaDB on 127.0.0.1:3306 (user root, no password).
set -euo pipefail

need_pkgs=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need_pkgs+=("$1"); }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Clients are always needed (psql/mariadb for the servers' set-up here; dump tools later).
want postgresql-client
want mariadb-client
# A real Secret Service for the keyring tests, run headless under dbus-run-session.
want gnome-keyring
want dbus-x11
want libsecret-tools
# initdb/pg_ctl for the tests' own password-checking PostgreSQL cluster.
want postgresql
# pt-online-schema-change, which runs the ALTER TABLE statements a migration marks online.
want percona-toolkit
# The clusters tests' own servers: three Galera nodes (mariadbd from mariadb-server, the galera-4
# provider, rsync for state transfer) and PgBouncer in front of a PostgreSQL cluster.
want mariadb-server
want galera-4
want rsync
want pgbouncer
# A virtualenv for Alembic (the import tests install it from PyPI).
want python3-venv
# The desktop shell (Tauri 2 on WebKitGTK) and its window under Xvfb, screenshots.
for p in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev pkg-config \
         xvfb webkit2gtk-driver imagemagick xauth; do want "$p"; done

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}"
fi

if [ -z "${GODWIT_TEST_PG_URL:-}" ] && ! port_open 5432; then
  echo "setup: starting PostgreSQL"
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  # A test-only server that this script installed: let the tests in over loopback as postgres.
  if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
fi

if [ -z "${GODWIT_TEST_MYSQL_URL:-}" ] && ! port_open 3306; then
  echo "setup: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do port_open 3306 && break; sleep 0.5; done
  # A test-only server: root over TCP with an empty password, as the tests expect.
  mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD(''); \
    CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
fi

for _ in $(seq 1 60); do
  { [ -n "${GODWIT_TEST_PG_URL:-}" ] || port_open 5432; } && { [ -n "${GODWIT_TEST_MYSQL_URL:-}" ] || port_open 3306; } && break
  sleep 0.5
done

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# sqlx-cli, which tests run beside Godwit on one database (the same build bench/setup.sh makes):
# its default features, as people install it, so it reads sqlx.toml.
SQLX_ROOT="$HOME/.cache/godwit/tools/sqlx-cli-0.9.0-default"
if [ ! -x "$SQLX_ROOT/bin/sqlx" ]; then
  echo "setup: installing sqlx-cli into $SQLX_ROOT"
  cargo install sqlx-cli --version 0.9.0 --locked --root "$SQLX_ROOT"
fi

# Alembic from PyPI in a virtualenv of its own, for the import tests (tests/import.rs finds it here).
ALEMBIC_VENV="$HOME/.cache/godwit/tools/alembic"
# With the drivers the import's capture uses on each server (psycopg2, PyMySQL).
if [ ! -x "$ALEMBIC_VENV/bin/alembic" ] || ! "$ALEMBIC_VENV/bin/python" -c 'import psycopg2, pymysql' 2>/dev/null; then
  echo "setup: installing Alembic into $ALEMBIC_VENV"
  python3 -m venv "$ALEMBIC_VENV"
  "$ALEMBIC_VENV/bin/pip" install --quiet --disable-pip-version-check 'alembic>=1.13,<2' 'psycopg2-binary>=2.9,<3' \
    'pymysql>=1.1,<2'
fi
