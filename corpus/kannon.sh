# Kannon, an e-mail sending platform: dbmate on PostgreSQL (20 migrations, pgcrypto, data fixes).
# The project runs dbmate as a library (`kannon migrate main`, db/migrate.go) over the same folder,
# with no schema dump; the dbmate command line does the same.
REPO=kannon-email/kannon
COMMIT=71ac2fd2f01059a5fead08cd293a805fbd3b5c24
TOOL=dbmate
DIR=db/migrations
PATHS=db/migrations

original_up() { # URL
  (cd "$SRC" && "$DBMATE" --no-dump-schema -d ./db/migrations --url "$1?sslmode=disable" up)
}
