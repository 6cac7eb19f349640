# Lemmy 0.19.13: Diesel on PostgreSQL, 232 migrations with downs (views, materialized views,
# PL/pgSQL functions and triggers, enums, ltree), its downs kept working by the project's own checks.
# Pinned at a release: later ones need PostgreSQL 16 (a subquery in FROM without an alias) and
# add a trigger on Diesel's own table that refuses any runner but lemmy_server.
REPO=LemmyNet/lemmy
COMMIT=c5ac676183a15e5271b4853c63898f108b71a6d0
TOOL=diesel
DIR=migrations
PATHS=migrations
VERIFY=20

# A real broken down, fixed by hand: its up drops the unique index on activity.ap_id, its down
# never puts it back.
FIX=20230711084714
