# crates.io: Diesel on PostgreSQL, 285 migrations with downs (triggers and PL/pgSQL functions,
# full-text search, enums), seven run outside a transaction by their metadata.toml (indexes built
# CONCURRENTLY).
REPO=rust-lang/crates.io
COMMIT=57fa000662f511321daa61e6769f190ea0e80771
TOOL=diesel
DIR=migrations
PATHS=migrations
VERIFY=20

# A real broken down, fixed by hand: the table it puts back had lost its foreign key's ON DELETE
# CASCADE.
FIX=20190322170700
