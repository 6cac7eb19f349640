#!/usr/bin/env bash
# `make corpus`: imports each real project in corpus/*.sh and checks it against the project's own
# tool on twin PostgreSQL databases (see corpus/README.md). Slow (virtualenvs, real tools), so it is
# not part of `make test`. Usage: scripts/corpus.sh [NAME ...]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MIRRORS="${GODWIT_MIRRORS:-/work/.mirror}"
PGURL="postgresql://postgres@127.0.0.1:5432"
export PGOPTIONS="-c client_min_messages=warning"
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/corpus"
mkdir -p "$OUT"

cargo build --quiet --bin godwit --manifest-path "$ROOT/Cargo.toml"
GODWIT="${CARGO_TARGET_DIR:-$ROOT/target}/debug/godwit"

psql_do() { psql "$PGURL/postgres" -v ON_ERROR_STOP=1 -qAtc "$1" >/dev/null; }

# The schema as pg_dump writes it, without the bookkeeping tables either tool keeps and the
# session's random \restrict token.
schema_of() {
  pg_dump "$PGURL/$1" --schema-only --no-owner --no-privileges \
    -T alembic_version -T flyway_schema_history -T schema_migrations -T __diesel_schema_migrations -T '_sqlx_migrations' -T '_godwit_log*' |
    grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$'
}

# dbmate from npm, which ships its release binary; the version the corpus was measured with.
DBMATE="$OUT/tools/node_modules/.bin/dbmate"
need_dbmate() {
  [ -x "$DBMATE" ] || npm install --silent --no-audit --no-fund --prefix "$OUT/tools" dbmate@2.36.0
}

# diesel_cli from crates.io, PostgreSQL only (libpq from Debian); the version the corpus was measured with.
DIESEL="$OUT/tools/bin/diesel"
need_diesel() {
  dpkg -s libpq-dev >/dev/null 2>&1 || apt-get install -y -q libpq-dev
  [ -x "$DIESEL" ] || cargo install --quiet --locked --root "$OUT/tools" diesel_cli@2.3.14 \
    --no-default-features --features postgres
}

# Each migration's verify outcome, one `version outcome` line each, in order. Verify exits 1 when
# it finds problems; its report is read either way.
outcomes() { # folder URL
  (cd "$1" && { "$GODWIT" --url "$2" verify --json || [ $? = 1 ]; }) |
    python3 -c 'import json,sys; [print(c["version"], c["outcome"]["outcome"]) for c in json.load(sys.stdin)["checked"]]'
}

# Verify again with one down replaced by hand (by the file $3): that migration's outcome must
# become $4 and nothing else change.
changed_alone() { # version what file want
  local dir="$WORK/import" version="$1" down
  down=$(find "$dir/migrations" -name "${version}_*.down.sql")
  cp "$down" "$WORK/kept.down.sql"
  cp "$3" "$down"
  outcomes "$dir" "$PGURL/$mine" >"$WORK/verify-$2.txt" 2>>"$log" || true
  cp "$WORK/kept.down.sql" "$down"
  local changed
  changed=$(diff "$WORK/verify.txt" "$WORK/verify-$2.txt" | grep '^>' | tr '\n' ' ')
  if [ "$changed" != "> $version $4 " ]; then
    fails "FAILS: with the down of $version $2 by hand, verify changed: ${changed:-nothing}"
    return 1
  fi
}

# VERIFY=N in a project: verify must report on every migration; then the down of its Nth migration
# that restores is broken by hand (made to undo nothing), and, where the project has FIX=VERSION and
# corpus/NAME.fix.sql, that real broken down is fixed by hand (replaced by the file); each time
# verify must change that migration's outcome and no other.
verify_check() {
  outcomes "$WORK/import" "$PGURL/$mine" >"$WORK/verify.txt" 2>>"$log" || { fails "FAILS at verify (see $log)"; return 1; }
  local total checked
  total=$(find "$WORK/import/migrations" -name '*.sql' ! -name '*.down.sql' | wc -l)
  checked=$(wc -l <"$WORK/verify.txt")
  if [ "$checked" != "$total" ]; then
    fails "FAILS: verify reported on $checked of $total migrations"
    return 1
  fi
  printf -- '-- Broken by hand: undoes nothing.\nSELECT 1;\n' >"$WORK/broken.down.sql"
  changed_alone "$(awk '$2 == "restores" { n++ } n == '"$VERIFY"' { print $1; exit }' "$WORK/verify.txt")" \
    broken "$WORK/broken.down.sql" leaves || return 1
  if [ -n "${FIX:-}" ]; then
    changed_alone "$FIX" fixed "$ROOT/corpus/$name.fix.sql" restores || return 1
  fi
  problems=$(awk '$2 == "leaves" || $2 == "fails"' "$WORK/verify.txt" | wc -l)
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$ROOT"/corpus/*.sh; do names+=("$(basename "$f" .sh)"); done
fi

failed=0
results=()
# What happened to the project in hand ($name), as the results table and the console say it.
verdict() {
  results+=("| $name | $TOOL | \`${COMMIT:0:12}\` | $1 |")
  echo "corpus: $name: $1"
}
fails() {
  verdict "$1"
  failed=1
}
# Runs a command into the project's log; a failure is the project's verdict.
step() { # what, command...
  local what="$1"
  shift
  "$@" >>"$log" 2>&1 || { fails "FAILS at $what (see $log)"; return 1; }
}

for name in "${names[@]}"; do
  unset REPO COMMIT TOOL DIR PIP KNOWN PATHS APT VERIFY FIX
  unset -f project_env original_up
  # shellcheck source=/dev/null
  source "$ROOT/corpus/$name.sh"
  WORK="$OUT/$name"
  SRC="$WORK/src"
  VENV="$WORK/venv"
  mirror="$MIRRORS/${REPO/\//+}/repo"
  log="$WORK/log.txt"
  rm -rf "$SRC" "$WORK/import" "$WORK/history"
  mkdir -p "$SRC" "$WORK/import" "$WORK/history"
  : >"$log"
  if ! git -C "$mirror" cat-file -e "$COMMIT^{commit}" 2>/dev/null; then
    fails "not run: no mirror of $REPO at $COMMIT in $MIRRORS"
    continue
  fi
  # PATHS, where a project names them, are all the run needs of its tree (a mirror may lack the
  # blobs of large files elsewhere).
  # shellcheck disable=SC2086
  git -C "$mirror" archive "$COMMIT" ${PATHS:-} | tar -x -C "$SRC"

  python_args=()
  if [ "$TOOL" = dbmate ]; then
    need_dbmate >>"$log" 2>&1
  fi
  if [ "$TOOL" = diesel ]; then
    need_diesel >>"$log" 2>&1
  fi
  # Debian packages a project's Python needs to build (APT); installed once, as root.
  for pkg in ${APT:-}; do
    dpkg -s "$pkg" >/dev/null 2>&1 || apt-get install -y -q "$pkg" >>"$log" 2>&1
  done
  if [ "$TOOL" = alembic ]; then
    if [ ! -x "$VENV/bin/python" ]; then
      python3 -m venv "$VENV"
    fi
    # Versions as the project locks them, where it keeps a poetry.lock.
    constraints=()
    if [ -f "$SRC/poetry.lock" ]; then
      awk -F' = ' '$1 == "name" { n = $2 } $1 == "version" && n { gsub(/"/, "", n); gsub(/"/, "", $2); print n "==" $2; n = "" }' \
        "$SRC/poetry.lock" >"$WORK/constraints.txt"
      constraints=(-c "$WORK/constraints.txt")
    fi
    # shellcheck disable=SC2086
    (cd "$SRC" && "$VENV/bin/pip" install --quiet --disable-pip-version-check "${constraints[@]}" $PIP) >>"$log" 2>&1
    python_args=(--python "$VENV/bin/python" --run-code)
  fi
  # The settings a project's code reads from the environment (project_env, NAME=VALUE words), as
  # its tool gets them and as `import` is told to pass them.
  settings=()
  if declare -F project_env >/dev/null; then
    read -r -a settings <<<"$(project_env)"
    for setting in "${settings[@]}"; do python_args+=(--pass-env "${setting%%=*}"); done
  fi

  twin="corpus_${name}_tool"
  mine="corpus_${name}_godwit"
  for db in "$twin" "$mine"; do
    psql_do "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    psql_do "CREATE DATABASE \"$db\""
  done

  # Diesel's projects are run as a developer runs them, with diesel_cli, unless they say otherwise.
  if [ "$TOOL" = diesel ] && ! declare -F original_up >/dev/null; then
    original_up() { (cd "$SRC" && "$DIESEL" migration run --database-url "$1" --migration-dir "$DIR"); }
  fi
  step "the tool's own run" original_up "$PGURL/$twin" || continue
  # Run from the project's root, as its own tool is; the files go to the work folder.
  step "import" env "${settings[@]}" bash -c 'cd "$0" && "$1" --url "$2" --source "$3" import "$4" "$5" "${@:6}"' \
    "$SRC" "$GODWIT" "$PGURL/$mine" "$WORK/import/migrations" "$TOOL" "$DIR" "${python_args[@]}" || continue
  step "up" bash -c 'cd "$0" && "$1" --url "$2" up' "$WORK/import" "$GODWIT" "$PGURL/$mine" || continue
  # A difference the project's own tool makes outside the folder imported is recorded in
  # corpus/NAME.diff, with KNOWN saying why; anything else differing fails.
  diff <(schema_of "$twin") <(schema_of "$mine") >"$WORK/schema.diff" || true
  expected=/dev/null
  [ -f "$ROOT/corpus/$name.diff" ] && expected="$ROOT/corpus/$name.diff"
  if ! cmp -s "$WORK/schema.diff" "$expected"; then
    fails "FAILS: the schemas differ (see $WORK/schema.diff)"
    continue
  fi
  step "history import" env "${settings[@]}" bash -c 'cd "$0" && "$1" --url "$2" --source "$3" import "$4" "$5" "${@:6}"' \
    "$SRC" "$GODWIT" "$PGURL/$twin" "$WORK/history/migrations" "$TOOL" "$DIR" "${python_args[@]}" || continue
  pending=$(cd "$WORK/history" && "$GODWIT" --url "$PGURL/$twin" status --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["pending"])')
  nothing=$(cd "$WORK/history" && "$GODWIT" --url "$PGURL/$twin" up)
  if [ "$pending" != 0 ] || [[ "$nothing" != Nothing\ to\ apply* ]]; then
    fails "FAILS: after the history import, $pending pending and up said: $nothing"
    continue
  fi
  if ! diff -r "$WORK/import/migrations" "$WORK/history/migrations" >>"$log"; then
    fails "FAILS: the history import wrote other files"
    continue
  fi
  count=$(find "$WORK/import/migrations" -name '*.sql' ! -name '*.down.sql' | wc -l)
  checks=""
  if [ -n "${VERIFY:-}" ]; then
    verify_check || continue
    checks="; verify: $problems downs that leave something or fail, each outcome its own"
  fi
  verdict "passes ($count migrations${checks}${KNOWN:+; $KNOWN})"
  for db in "$twin" "$mine"; do psql_do "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
done

printf '%s\n' "${results[@]}" >"$OUT/results.md"
echo "corpus: results in $OUT/results.md"
exit $failed
