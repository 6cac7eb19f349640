//! `new NAME --from-schema FILE` on SQLite: for pairs of (what the migrations make, the schema
//! wanted), the generated up reaches the wanted schema exactly and the down returns exactly (both
//! proven on scratch databases). A column added at the end is added; any other table change makes
//! the table again with its rows, indexes and triggers, and where a foreign key names the table,
//! with foreign keys off in the migration's own transaction — rows in other tables stay.

mod common;

use common::from_schema::{each_proven, each_refused, each_replaced, kinds, plan};
use godwit::db::Dialect;
use godwit::migration::runner::Cancel;
use godwit::ops;
use godwit::schema::generate::RefusalKind;

const LITE: Dialect = Dialect::Sqlite;

const BASE: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n\
                    CREATE TABLE todos (id INTEGER PRIMARY KEY, title VARCHAR(100) NOT NULL, \
                    status TEXT NOT NULL DEFAULT 'open', note TEXT, \
                    owner INTEGER REFERENCES users (id) ON DELETE CASCADE, CHECK (title <> ''));\n\
                    CREATE INDEX todos_status ON todos (status);\n\
                    CREATE VIEW open_todos AS SELECT id, title FROM todos WHERE status = 'open';\n\
                    CREATE TRIGGER todos_trim AFTER INSERT ON todos BEGIN \
                    UPDATE todos SET title = trim(title) WHERE id = NEW.id; END;\n";

#[tokio::test]
async fn additions_are_generated_and_proven() {
    each_proven(
        LITE,
        BASE,
        &[
            ("a new table", "CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE);"),
            ("a column at the end", "ALTER TABLE todos ADD COLUMN due TEXT;"),
            ("a NOT NULL column with a default", "ALTER TABLE todos ADD COLUMN done INTEGER NOT NULL DEFAULT 0;"),
            ("a virtual generated column", "ALTER TABLE todos ADD COLUMN loud TEXT GENERATED ALWAYS AS (upper(title)) VIRTUAL;"),
            ("an index", "CREATE INDEX todos_title ON todos (title);"),
            ("a unique index", "CREATE UNIQUE INDEX todos_title_owner ON todos (title, owner);"),
            ("a partial index", "CREATE INDEX todos_open ON todos (title) WHERE status = 'open';"),
            ("an expression index", "CREATE INDEX users_lower ON users (lower(email));"),
            ("a view", "CREATE VIEW titles AS SELECT title FROM todos;"),
            ("a view over a view", "CREATE VIEW open_titles AS SELECT title FROM open_todos;"),
            ("a trigger", "CREATE TRIGGER users_lower AFTER INSERT ON users BEGIN UPDATE users SET email = lower(email) WHERE id = NEW.id; END;"),
            ("a table with a foreign key to a new one", "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (a_id INTEGER REFERENCES a (id));"),
            ("a STRICT table", "CREATE TABLE s (id INTEGER PRIMARY KEY, n INTEGER) STRICT;"),
            ("a WITHOUT ROWID table", "CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"),
        ],
    )
    .await;
}

#[tokio::test]
async fn changes_make_the_table_again_and_are_proven() {
    each_replaced(
        LITE,
        BASE,
        &[
            ("a column in the middle", "title VARCHAR(100) NOT NULL,", "title VARCHAR(100) NOT NULL, rank INTEGER,"),
            ("a wider column", "VARCHAR(100)", "VARCHAR(200)"),
            ("a new default", "DEFAULT 'open'", "DEFAULT 'todo'"),
            ("NOT NULL dropped", "status TEXT NOT NULL", "status TEXT"),
            ("NOT NULL set, with a default", "note TEXT,", "note TEXT NOT NULL DEFAULT '',"),
            ("a check's condition", "CHECK (title <> '')", "CHECK (length(title) > 1)"),
            ("a check added", "email TEXT NOT NULL UNIQUE)", "email TEXT NOT NULL UNIQUE CHECK (email LIKE '%@%'))"),
            ("a unique key added", "note TEXT,", "note TEXT UNIQUE,"),
            ("a foreign key's action", "ON DELETE CASCADE", "ON DELETE SET NULL"),
            ("a column's collation", "status TEXT NOT NULL", "status TEXT NOT NULL COLLATE NOCASE"),
            (
                "a stored generated column",
                "note TEXT,",
                "note TEXT, loud TEXT GENERATED ALWAYS AS (upper(title)) STORED,",
            ),
            ("a table made STRICT", "email TEXT NOT NULL UNIQUE);", "email TEXT NOT NULL UNIQUE) STRICT;"),
            ("an index's columns", "ON todos (status)", "ON todos (status, title)"),
            (
                "a view's query",
                "SELECT id, title FROM todos WHERE status = 'open'",
                "SELECT id, title, note FROM todos WHERE status = 'open'",
            ),
            ("a trigger's body", "SET title = trim(title)", "SET title = upper(trim(title))"),
            // users is named by todos' foreign key: made again with foreign keys off.
            (
                "a table others name",
                "email TEXT NOT NULL UNIQUE",
                "email TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT 'x' CHECK (name <> '')",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn what_loses_data_needs_consent_and_renames_follow_the_annotation() {
    each_refused(
        LITE,
        BASE,
        &[
            ("a column dropped", " note TEXT,", "", RefusalKind::Destructive),
            ("a narrower type", "VARCHAR(100)", "VARCHAR(50)", RefusalKind::Destructive),
            (
                "a NOT NULL column without a default",
                "note TEXT,",
                "note TEXT, due TEXT NOT NULL,",
                RefusalKind::NeedsDefault,
            ),
        ],
    )
    .await;
    let dropped = BASE
        .replace("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n", "")
        .replace(" REFERENCES users (id) ON DELETE CASCADE", "");
    let (_t, p) = plan(LITE, &[BASE], &dropped).await;
    assert_eq!(kinds(&p), [RefusalKind::Destructive], "a table others name, dropped");
    assert_eq!(p.unproven, None, "{}", p.up.join(";\n"));
    assert!(p.no_transaction);

    let renamed = BASE.replace("note TEXT", "remark TEXT");
    let (_t, p) = plan(LITE, &[BASE], &renamed).await;
    assert!(p.refusals[0].message.contains("-- godwit:rename todos.note TO remark"), "{}", p.refusals[0].message);
    let (_t, p) = plan(LITE, &[BASE], &format!("{renamed}-- godwit:rename todos.note TO remark\n")).await;
    assert!(p.refusals.is_empty() && p.unproven.is_none(), "{:?} {:?} {}", p.refusals, p.unproven, p.up.join(";\n"));
    assert_eq!(p.up, ["ALTER TABLE todos RENAME COLUMN note TO remark"]);
    // Renamed and changed: made again, the rows copied from the old name.
    let changed = renamed.replace("remark TEXT", "remark TEXT NOT NULL DEFAULT ''");
    let (_t, p) = plan(LITE, &[BASE], &format!("{changed}-- godwit:rename todos.note TO remark\n")).await;
    assert!(p.refusals.is_empty() && p.unproven.is_none(), "{:?} {:?} {}", p.refusals, p.unproven, p.up.join(";\n"));
    assert!(p.up.iter().any(|s| s.contains("SELECT") && s.contains("note")), "{}", p.up.join(";\n"));
}

/// Written and applied for real on tables with rows: a table others name is made again and no
/// row anywhere is lost (its foreign keys cascade on delete: with them on, the rebuild would
/// empty todos); the environment then has the file's schema, and the migrations verify.
#[tokio::test]
async fn a_rebuild_keeps_every_row_and_verifies() {
    let wanted = BASE
        .replace(
            "email TEXT NOT NULL UNIQUE",
            "email TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT NOT NULL DEFAULT ''",
        )
        .replace("status TEXT NOT NULL DEFAULT 'open'", "status TEXT NOT NULL DEFAULT 'todo'");
    let (t, p) = plan(LITE, &[BASE], &wanted).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}", p.refusals, p.unproven);
    assert!(p.no_transaction && p.up[0] == "PRAGMA foreign_keys = 0", "{}", p.up.join(";\n"));
    let s = t.session();
    common::from_schema::up(&t).await;
    t.exec("INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'b@x')").await;
    t.exec("INSERT INTO todos (title, owner) VALUES ('one', 1), ('two', 2), ('three', NULL)").await;
    ops::write_from_schema(&s, "names", &p, false).unwrap();
    let run = common::from_schema::up(&t).await;
    assert_eq!(run.into_result().unwrap().done.len(), 1);
    assert_eq!(
        t.strings("SELECT title || ' ' || coalesce(owner, '-') FROM todos ORDER BY id").await,
        ["one 1", "two 2", "three -"]
    );
    assert_eq!(t.strings("SELECT email || ' ' || name FROM users ORDER BY id").await, ["a@x ", "b@x "]);
    let file = t.dir.path().join("schema.sql");
    assert!(ops::to_schema(&s, &file, &Cancel::default()).await.unwrap().changes.is_empty());
    let report = ops::verify(&s, None, None, &Cancel::default(), &mut |_, _, _| {}).await.unwrap();
    assert!(report.checked.iter().all(|c| !c.is_problem()), "{:?}", report.checked);
    // And the down, for real: the rows stay there too.
    let mut db = t.connect().await;
    let source = godwit::migration::source::Source::load(&t.migrations()).unwrap();
    let back = godwit::migration::runner::down(
        db.as_mut(),
        &source,
        godwit::migration::plan::DownTarget::Steps(1),
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(back.into_result().unwrap().done.len(), 1);
    db.close().await;
    assert_eq!(t.strings("SELECT CAST(count(*) AS TEXT) FROM todos WHERE owner IS NOT NULL").await, ["2"]);
}

/// The project's `desired_schema` is read when no file is given: `diff --to-schema` says it differs
/// (exit 1), `new NAME --from-schema` writes the migration, `up` applies it, and then they agree.
/// Without one, the person is told where to say it; one outside the project is refused.
#[tokio::test]
async fn the_projects_desired_schema_is_the_default() {
    let p = common::project::Project::new(LITE).await;
    let dir = p.t.dir.path();
    p.t.write("1_init.sql", BASE);
    let code = |args: &[&str]| {
        let o = p.godwit(args);
        (o.status.code(), common::project::text(&o))
    };
    assert_eq!(code(&["up"]).0, Some(0));
    let (c, out) = code(&["diff", "--to-schema"]);
    assert_eq!(c, Some(2), "{out}");
    assert!(out.contains("desired_schema"), "{out}");
    std::fs::create_dir(dir.join("schema")).unwrap();
    std::fs::write(dir.join("schema/all.sql"), format!("{BASE}CREATE INDEX todos_title ON todos (title);\n")).unwrap();
    let toml = std::fs::read_to_string(dir.join("godwit.toml")).unwrap();
    std::fs::write(dir.join("godwit.toml"), format!("desired_schema = \"schema\"\n{toml}")).unwrap();
    assert_eq!(code(&["diff", "--to-schema"]).0, Some(1));
    let (c, out) = code(&["new", "titles", "--from-schema"]);
    assert_eq!(c, Some(0), "{out}");
    assert_eq!(code(&["up"]).0, Some(0));
    let (c, out) = code(&["diff", "--to-schema"]);
    assert_eq!(c, Some(0), "{out}");
    std::fs::write(dir.join("godwit.toml"), format!("desired_schema = \"../schema\"\n{toml}")).unwrap();
    assert_eq!(code(&["diff", "--to-schema"]).0, Some(2));
}

/// A table renamed with `-- godwit:rename-table`: renamed first each way; the foreign keys naming it
/// follow, its index, view and trigger are made again as the file states them (SQLite rewrites
/// their SQL with the name quoted).
#[tokio::test]
async fn a_table_renamed_follows_the_annotation() {
    let wanted = BASE
        .replace("TABLE todos ", "TABLE tasks ")
        .replace("ON todos", "ON tasks")
        .replace("FROM todos", "FROM tasks")
        .replace("UPDATE todos", "UPDATE tasks");
    let (_t, p) = plan(LITE, &[BASE], &format!("{wanted}-- godwit:rename-table todos TO tasks\n")).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}\n{}", p.refusals, p.unproven, p.up.join(";\n"));
    assert_eq!(p.up[0], "ALTER TABLE todos RENAME TO tasks");
    assert_eq!(p.down[0], "ALTER TABLE tasks RENAME TO todos");
}

/// A unique key dropped, as a constraint or an index: refused without consent; a leftover rename
/// annotation (its old column gone) renames nothing on a later rebuild.
#[tokio::test]
async fn a_unique_key_dropped_needs_consent_and_a_done_rename_is_no_rename() {
    let unique = BASE.replace("CREATE INDEX todos_status", "CREATE UNIQUE INDEX todos_status");
    let (_t, p) = plan(LITE, &[&unique], BASE).await;
    assert_eq!(kinds(&p), [RefusalKind::Destructive], "a unique index dropped");
    let (_t, p) = plan(LITE, &[BASE], &BASE.replace("email TEXT NOT NULL UNIQUE", "email TEXT NOT NULL")).await;
    assert_eq!(kinds(&p), [RefusalKind::Destructive], "a unique constraint dropped");
    assert_eq!(p.unproven, None);
    // `note` was renamed `remark` by an earlier migration; the line is still in the file.
    let done = BASE.replace("note TEXT", "remark TEXT");
    let wanted = done.replace("VARCHAR(100)", "VARCHAR(200)") + "-- godwit:rename todos.note TO remark\n";
    let (_t, p) = plan(LITE, &[&done], &wanted).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}", p.refusals, p.unproven);
    assert!(p.up.iter().any(|s| s.starts_with("INSERT INTO") && s.contains("remark")), "{}", p.up.join(";\n"));
}

/// A migration holding its own transaction (as a generated rebuild does) that fails inside it:
/// rolled back, said so, and not left marked as part way (what ran before its BEGIN only turned
/// foreign keys off).
#[tokio::test]
async fn a_failure_inside_a_migrations_own_transaction_is_rolled_back_and_said() {
    let t = common::TestDb::new(LITE).await;
    t.write(
        "1_rebuild.up.sql",
        "-- no-transaction\nPRAGMA foreign_keys = 0;\nBEGIN IMMEDIATE;\nCREATE TABLE a (id INTEGER);\n\
         INSERT INTO missing VALUES (1);\nCOMMIT;\nPRAGMA foreign_keys = 1;\n",
    );
    let e = common::from_schema::up(&t).await.into_result().unwrap_err();
    assert_eq!(e.problem, godwit::Problem::MigrationFailed { version: 1 }, "{}", e.message);
    assert!(!t.tables().await.contains(&"a".to_string()), "the table made in the transaction is gone");
    assert!(e.message.contains("rolled back"), "{}", e.message);
    assert_eq!(t.history().await, Vec::<String>::new(), "not left marked as part way");
}

/// An AUTOINCREMENT table made again keeps its counter: an id once used (its row deleted) is not
/// given again.
#[tokio::test]
async fn a_rebuilt_autoincrement_table_keeps_its_counter() {
    let base = "CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);\n";
    let (t, p) = plan(LITE, &[base], &base.replace("name TEXT", "name TEXT NOT NULL DEFAULT ''")).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}", p.refusals, p.unproven);
    common::from_schema::up(&t).await;
    t.exec("INSERT INTO tags (name) VALUES ('a'), ('b'), ('c'); DELETE FROM tags WHERE id = 3").await;
    ops::write_from_schema(&t.session(), "names", &p, false).unwrap();
    let run = common::from_schema::up(&t).await;
    run.into_result().unwrap();
    t.exec("INSERT INTO tags (name) VALUES ('d')").await;
    assert_eq!(t.strings("SELECT CAST(max(id) AS TEXT) FROM tags").await, ["4"]);
}
