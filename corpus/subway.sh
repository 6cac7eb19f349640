# UPchieve's subway: dbmate on PostgreSQL, 133 migrations into a schema of their own, with
# extensions (pg_trgm, pgcrypto, btree_gin) and data fixes. Pinned just before the commit that ran a
# formatter over every file ("lint all sql files"), after which three files have their
# `-- migrate:down` indented into a statement and dbmate refuses them.
REPO=UPchieve/subway
COMMIT=c755c6a768e5417f3c71bb2fd7f34e59d8794166
TOOL=dbmate
DIR=database/migrations
PATHS=database/migrations

# As the project's package.json runs it (`npm run db:schema-up`).
original_up() { # URL
  (cd "$SRC" && "$DBMATE" --no-dump-schema -d ./database/migrations --url "$1?sslmode=disable" \
    --migrations-table=schema_migrations up)
}
