#!/usr/bin/env bash
# `make corpus-mariadb`: sipwise/db-schema's provisioning database (corpus/sipwise.py) as a Godwit
# project of ~490 MariaDB migrations with views, functions, procedures and triggers; every one must
# apply with `godwit up` on an empty database, leaving what upstream's own schema dump has of each
# kind. Then `scripts/from-schema-corpus.sh sipwise "K…" "M…"` runs on it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MIRRORS="${GODWIT_MIRRORS:-/work/.mirror}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$TARGET/corpus/sipwise"
mirror="$MIRRORS/sipwise+db-schema/repo"
[ -d "$mirror" ] || { echo "sipwise: not run: no mirror of sipwise/db-schema in $MIRRORS"; exit 1; }
cargo build --quiet --bin godwit --manifest-path "$ROOT/Cargo.toml"
GODWIT="$TARGET/debug/godwit"
rm -rf "$WORK/import"
python3 "$ROOT/corpus/sipwise.py" "$mirror" "$WORK/import/migrations"
my() { mariadb -uroot -h 127.0.0.1 -N -e "$1"; }
my "DROP DATABASE IF EXISTS corpus_sipwise; CREATE DATABASE corpus_sipwise"
url="mysql://root@127.0.0.1:3306/corpus_sipwise"
(cd "$WORK/import" && "$GODWIT" --url "$url" up >"$WORK/log.txt" 2>&1) || { echo "sipwise: FAILS at up (see $WORK/log.txt)"; exit 1; }
count() { my "SELECT count(*) FROM information_schema.$1 WHERE $2 = 'corpus_sipwise'"; }
made="$(ls "$WORK/import/migrations" | grep -c '\.up\.sql$') migrations: $(my "SELECT count(*) FROM information_schema.TABLES \
WHERE table_schema = 'corpus_sipwise' AND table_type = 'BASE TABLE'") tables, $(count VIEWS table_schema) views, \
$(count ROUTINES routine_schema) functions and procedures, $(count TRIGGERS trigger_schema) triggers"
# The views, routines and triggers by name, as upstream's own dump of provisioning at the pinned
# commit (schema/provisioning.sql, made by applying every script with the mysql client) has them.
ours=$(my "SELECT CONCAT('view ', table_name) FROM information_schema.VIEWS WHERE table_schema = 'corpus_sipwise' \
UNION ALL SELECT CONCAT('routine ', routine_name) FROM information_schema.ROUTINES WHERE routine_schema = 'corpus_sipwise' \
UNION ALL SELECT CONCAT('trigger ', trigger_name) FROM information_schema.TRIGGERS WHERE trigger_schema = 'corpus_sipwise'" | sort)
theirs=$(git -C "$mirror" show "$(sed -n 's/^COMMIT = "\(.*\)"/\1/p' "$ROOT/corpus/sipwise.py"):schema/provisioning.sql" |
  grep -oE '(VIEW `[^`]+` AS|(FUNCTION|PROCEDURE) `[^`]+`|TRIGGER (provisioning\.)?`?[A-Za-z0-9_]+`? (BEFORE|AFTER|before|after))' |
  sed -E 's/^VIEW `([^`]+)`.*/view \1/; s/^(FUNCTION|PROCEDURE) `([^`]+)`/routine \2/; s/^TRIGGER (provisioning\.)?`?([A-Za-z0-9_]+)`? .*/trigger \2/' | sort -u)
if [ "$ours" != "$(sort <<<"$theirs")" ]; then
  diff <(echo "$theirs") <(echo "$ours") >"$WORK/objects.diff" || true
  echo "sipwise: FAILS: the views, routines and triggers differ from upstream's dump (see $WORK/objects.diff); $made"
  exit 1
fi
echo "sipwise: passes ($made, the same by name as upstream's dump)"
