#!/usr/bin/env bash
# `new --from-schema` on a real history (after `make corpus`): for each K and M, a project holding
# migrations 1..K is asked for the migration to the schema 1..K+M make (as `godwit schema --format
# sql` dumps it), with --dry-run --allow-destructive. Prints one line per step: proven, or why not.
# Usage: scripts/from-schema-corpus.sh NAME "K1 K2 ..." "M1 M2 ..."   (NAME: a corpus project; sipwise,
# built by `make corpus-mariadb`, runs on MariaDB, the others on PostgreSQL)
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
GODWIT="$TARGET/debug/godwit"
SRC="$TARGET/corpus/$1/import/migrations"
PGURL="postgresql://postgres@127.0.0.1:5432"
MYURL="mysql://root@127.0.0.1:3306"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
[ -d "$SRC" ] || { echo "no $SRC: run make corpus CORPUS=$1 first"; exit 2; }
ups=$(ls "$SRC" | grep -v '\.down\.sql$' | sort -n)
psql_do() { psql "$PGURL/postgres" -qAtc "$1" >/dev/null 2>&1; }
if [ "$1" = sipwise ]; then
  URL="$MYURL/gw_fsc"
  fresh() { mariadb -uroot -h 127.0.0.1 -e "DROP DATABASE IF EXISTS gw_fsc; CREATE DATABASE gw_fsc"; }
else
  URL="$PGURL/gw_fsc"
  fresh() { psql_do "DROP DATABASE IF EXISTS gw_fsc WITH (FORCE)" && psql_do "CREATE DATABASE gw_fsc"; }
fi
project() { # DIR N: the first N migrations
  mkdir -p "$1/migrations"
  for f in $(echo "$ups" | head -n "$2"); do
    cp "$SRC/$f" "$1/migrations/"
    down="${f%.up.sql}.down.sql"
    [ -f "$SRC/$down" ] && cp "$SRC/$down" "$1/migrations/"
  done
}
for k in $2; do
  for m in $3; do
    dir="$WORK/$k-$m"
    project "$dir/wanted" $((k + m))
    project "$dir/have" "$k"
    fresh
    (cd "$dir/wanted" && "$GODWIT" --url "$URL" up >/dev/null 2>&1 &&
      "$GODWIT" --url "$URL" schema --format sql >"$dir/have/desired.sql") || { echo "$1 K=$k M=$m: the history does not apply"; continue; }
    out=$(cd "$dir/have" && "$GODWIT" --url "$URL" new next --from-schema desired.sql --dry-run --allow-destructive 2>&1)
    case "$out" in
      *"already make"*) echo "$1 K=$k M=$m: nothing to write (those migrations change data only)" ;;
      *"Dry run: nothing was written."*)
        kinds=$(sed -n '/^Up:/,/^Down:/p' <<<"$out" | grep -oiE '^ +(CREATE|DROP) (TRIGGER|FUNCTION|PROCEDURE|VIEW|MATERIALIZED VIEW)' | awk '{print tolower($2)}' | sort -u | tr '\n' ' ')
        echo "$1 K=$k M=$m: proven$(grep -q 'Note:' <<<"$out" && echo ' (columns put back at the end by the down)')${kinds:+ (makes or drops: ${kinds% })}" ;;
      *) echo "$1 K=$k M=$m: $(grep '^error' <<<"$out" | head -1 | cut -c1-300)" ;;
    esac
  done
done
psql_do "DROP DATABASE IF EXISTS gw_fsc WITH (FORCE)"
