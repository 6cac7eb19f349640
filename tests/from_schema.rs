//! `new NAME --from-schema FILE` on PostgreSQL: for pairs of (what the migrations make, the schema
//! wanted), the generated up reaches the wanted schema exactly and the down returns exactly (both
//! proven on scratch databases before anything is written); what loses data is refused without
//! consent, and what cannot be generated is named. MariaDB and SQLite: `from_schema_mariadb.rs`,
//! `from_schema_sqlite.rs`.

mod common;

use common::TestDb;
use common::from_schema::kinds;
use godwit::db::Dialect;
use godwit::migration::runner::Cancel;
use godwit::ops::{self, FromSchema};
use godwit::schema::generate::RefusalKind;

async fn plan(migrations: &[&str], wanted: &str) -> (TestDb, FromSchema) {
    common::from_schema::plan(Dialect::Postgres, migrations, wanted).await
}

/// Each pair's migration is proven and may be written without consent.
#[tokio::test]
async fn additive_changes_are_generated_and_proven() {
    let base = "CREATE TABLE todos (id serial PRIMARY KEY, title varchar(100) NOT NULL, status text NOT NULL DEFAULT 'open', note text);";
    let pairs: &[(&str, &str)] = &[
        (
            "a new table with an identity key and a unique column",
            "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);",
        ),
        ("a new table with a serial key", "CREATE TABLE tags (id serial PRIMARY KEY, name text);"),
        ("a column with a default", "ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false;"),
        ("a wider column", "ALTER TABLE todos ALTER COLUMN title TYPE varchar(200);"),
        (
            "another default and a dropped NOT NULL",
            "ALTER TABLE todos ALTER COLUMN status SET DEFAULT 'todo', ALTER COLUMN status DROP NOT NULL;",
        ),
        ("a NOT NULL set", "ALTER TABLE todos ALTER COLUMN note SET NOT NULL;"),
        ("an index", "CREATE INDEX todos_status ON todos (status);"),
        ("a unique partial index", "CREATE UNIQUE INDEX todos_open_title ON todos (title) WHERE status = 'open';"),
        ("a check constraint", "ALTER TABLE todos ADD CONSTRAINT title_not_empty CHECK (length(title) > 0);"),
        (
            "a foreign key",
            "CREATE TABLE users (id int PRIMARY KEY); ALTER TABLE todos ADD COLUMN owner int REFERENCES users (id) ON DELETE CASCADE;",
        ),
        (
            "an enum and a column of it",
            "CREATE TYPE mood AS ENUM ('ok', 'bad'); ALTER TABLE todos ADD COLUMN mood mood;",
        ),
        ("a domain", "CREATE DOMAIN positive AS integer CHECK (VALUE > 0); CREATE TABLE counts (n positive);"),
        ("a view", "CREATE VIEW open_todos AS SELECT id, title FROM todos WHERE status = 'open';"),
        ("a materialized view", "CREATE MATERIALIZED VIEW todo_count AS SELECT count(*) AS n FROM todos;"),
        (
            "a function and a trigger",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$; CREATE TRIGGER todos_touch BEFORE UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION touch();",
        ),
        ("a schema and a table in it", "CREATE SCHEMA audit; CREATE TABLE audit.events (id int);"),
        ("an extension", "CREATE EXTENSION IF NOT EXISTS pg_trgm;"),
    ];
    for (what, change) in pairs {
        let (_t, p) = plan(&[base], &format!("{base}\n{change}\n")).await;
        assert!(!p.changes.is_empty(), "{what}: something to do");
        assert_eq!(p.unproven, None, "{what}: {:?}\n{}", p.refusals, p.up.join(";\n"));
        assert!(p.refusals.is_empty(), "{what}: {:?}", p.refusals);
        p.writable(false).unwrap_or_else(|e| panic!("{what}: {}", e.message));
    }
}

/// Changes to what is already there: a view, a function's body, an enum's new value, an index.
#[tokio::test]
async fn changed_objects_are_replaced_and_proven() {
    let base = "CREATE TABLE todos (id int PRIMARY KEY, title text, status text);\n\
                CREATE TYPE mood AS ENUM ('ok', 'bad');\n\
                CREATE INDEX todos_title ON todos (title);\n\
                CREATE VIEW titles AS SELECT title FROM todos;\n\
                CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
                CREATE TRIGGER todos_touch BEFORE UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION touch();\n";
    let pairs: &[(&str, &str, &str)] = &[
        (
            "a view's query",
            "CREATE VIEW titles AS SELECT title FROM todos;",
            "CREATE VIEW titles AS SELECT title, status FROM todos;",
        ),
        (
            "a function's body",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.title := trim(NEW.title); RETURN NEW; END $$;",
        ),
        (
            "an enum's new value",
            "CREATE TYPE mood AS ENUM ('ok', 'bad');",
            "CREATE TYPE mood AS ENUM ('ok', 'bad', 'meh');\nCREATE TABLE moods (m mood);",
        ),
        (
            "an enum's values reordered",
            "CREATE TYPE mood AS ENUM ('ok', 'bad');",
            "CREATE TYPE mood AS ENUM ('bad', 'ok');\nCREATE TABLE moods (m mood);",
        ),
        (
            "an index's columns",
            "CREATE INDEX todos_title ON todos (title);",
            "CREATE INDEX todos_title ON todos (title, status);",
        ),
        ("an identity added", "id int PRIMARY KEY", "id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
        ("a column's collation", "title text,", "title text COLLATE \"C\","),
    ];
    // Views read by others, or reading a column whose type changes, are made again with them, in
    // the order they read each other (here not their names' order).
    let stacked = "CREATE TABLE t (id int PRIMARY KEY, n int);\nCREATE VIEW v AS SELECT n FROM t;\n\
                   CREATE VIEW a_v AS SELECT n FROM v WHERE n > 1;\n\
                   CREATE MATERIALIZED VIEW m AS SELECT n FROM t;\nCREATE INDEX m_n ON m (n);\n\
                   CREATE VIEW b_v AS SELECT n FROM m;\n";
    for (what, wanted) in [
        ("a view under another", stacked.replace("SELECT n FROM t", "SELECT n, id FROM t")),
        ("a column's type under two views", stacked.replace("n int", "n bigint")),
    ] {
        let (_t, p) = plan(&[stacked], &wanted).await;
        assert_eq!(p.unproven, None, "{what}: {}", p.up.join(";\n"));
        p.writable(false).unwrap_or_else(|e| panic!("{what}: {}", e.message));
    }
    let feelings = "CREATE TYPE mood AS ENUM ('ok', 'bad');\nCREATE TABLE feelings (m mood);\n";
    let (_t, p) = plan(&[feelings], &feelings.replace("('ok', 'bad')", "('bad', 'meh', 'ok')")).await;
    assert_eq!(p.unproven, None, "an enum reordered under a column of it: {}", p.up.join(";\n"));
    p.writable(false).unwrap();
    for (what, old, new) in pairs {
        let (_t, p) = plan(&[base], &base.replace(old, new)).await;
        assert!(!p.changes.is_empty(), "{what}");
        assert_eq!(p.unproven, None, "{what}: {:?}\n{}", p.refusals, p.up.join(";\n"));
        p.writable(false).unwrap_or_else(|e| panic!("{what}: {}", e.message));
    }
}

/// A dropped table or column, a narrower type, a unique key dropped: refused without consent,
/// proven and writable with it. A NOT NULL column without a default is refused either way; an
/// enum value taken out cannot be generated and is named.
#[tokio::test]
async fn what_loses_data_needs_consent_and_what_cannot_be_generated_is_named() {
    let base = "CREATE TABLE todos (id int PRIMARY KEY, title varchar(200) NOT NULL UNIQUE, note text);\nCREATE TABLE old (id int);\nCREATE TYPE mood AS ENUM ('ok', 'bad');\n";
    let destructive: &[(&str, &str)] = &[
        (
            "a table dropped",
            "CREATE TABLE todos (id int PRIMARY KEY, title varchar(200) NOT NULL UNIQUE, note text);\nCREATE TYPE mood AS ENUM ('ok', 'bad');\n",
        ),
        (
            "a column dropped",
            "CREATE TABLE todos (id int PRIMARY KEY, title varchar(200) NOT NULL UNIQUE);\nCREATE TABLE old (id int);\nCREATE TYPE mood AS ENUM ('ok', 'bad');\n",
        ),
        (
            "a narrower type",
            "CREATE TABLE todos (id int PRIMARY KEY, title varchar(100) NOT NULL UNIQUE, note text);\nCREATE TABLE old (id int);\nCREATE TYPE mood AS ENUM ('ok', 'bad');\n",
        ),
        (
            "a unique key dropped",
            "CREATE TABLE todos (id int PRIMARY KEY, title varchar(200) NOT NULL, note text);\nCREATE TABLE old (id int);\nCREATE TYPE mood AS ENUM ('ok', 'bad');\n",
        ),
    ];
    for (what, wanted) in destructive {
        let (t, p) = plan(&[base], wanted).await;
        assert_eq!(kinds(&p), [RefusalKind::Destructive], "{what}");
        assert_eq!(p.unproven, None, "{what}: {}", p.up.join(";\n"));
        assert_eq!(p.writable(false).unwrap_err().problem, godwit::Problem::Input, "{what}");
        let written = ops::write_from_schema(&t.session(), "change", &p, true).unwrap();
        assert_eq!(written.len(), 2, "{what}");
    }

    // A column renamed: dropped and added without a word (the refusal says how to say it), renamed
    // with the annotation, and back in the down.
    let (_t, p) = plan(&[base], &base.replace("note text", "remark text")).await;
    assert_eq!(kinds(&p), [RefusalKind::Destructive]);
    assert!(p.refusals[0].message.contains("-- godwit:rename todos.note TO remark"), "{}", p.refusals[0].message);
    let renamed = format!("{}-- godwit:rename todos.note TO remark\n", base.replace("note text", "remark text"));
    let (_t, p) = plan(&[base], &renamed).await;
    assert!(p.refusals.is_empty() && p.unproven.is_none(), "{:?} {:?}", p.refusals, p.unproven);
    assert_eq!(p.up, ["ALTER TABLE todos RENAME COLUMN note TO remark"]);
    assert_eq!(p.down, ["ALTER TABLE todos RENAME COLUMN remark TO note"]);

    // A column dropped from the middle comes back at the end in the down: proven, and said.
    let (_t, p) = plan(&[base], &base.replace("title varchar(200) NOT NULL UNIQUE, note text", "note text")).await;
    assert_eq!(p.unproven, None);
    assert_eq!(p.notes.len(), 1, "{:?} {:?} {:?}", p.notes, p.refusals, p.proven);

    let (t, p) = plan(&[base], &base.replace("note text", "note text, due date NOT NULL")).await;
    assert_eq!(kinds(&p), [RefusalKind::NeedsDefault]);
    assert!(ops::write_from_schema(&t.session(), "due", &p, true).is_err());
    assert_eq!(std::fs::read_dir(t.migrations()).unwrap().count(), 1, "nothing was written");

    // A column put before existing ones cannot be added there: named, not written.
    let (_t, p) = plan(&[base], &base.replace("id int PRIMARY KEY,", "id int PRIMARY KEY, early int,")).await;
    assert_eq!(kinds(&p), [RefusalKind::ColumnOrder]);
    assert!(!p.proven && p.writable(true).is_err());

    // An enum of a column with a default, reordered: not generated, named.
    let with_default = format!("{base}CREATE TABLE moods (m mood DEFAULT 'ok');\n");
    let (_t, p) = plan(&[&with_default], &with_default.replace("('ok', 'bad')", "('bad', 'ok')")).await;
    assert_eq!(kinds(&p), [RefusalKind::Unsupported, RefusalKind::Unsupported], "the up and its down");
    assert!(p.writable(true).is_err());
}

/// Written and applied for real: the environment then has the file's schema, the migrations verify,
/// and asking again finds nothing to write.
#[tokio::test]
async fn a_written_migration_applies_and_verifies() {
    let base = "CREATE TABLE todos (id serial PRIMARY KEY, title varchar(100) NOT NULL);";
    let wanted = format!(
        "{base}\nCREATE TABLE users (id int PRIMARY KEY);\nALTER TABLE todos ADD COLUMN owner int REFERENCES users (id);\n\
         CREATE INDEX todos_owner ON todos (owner);\nCREATE VIEW v AS SELECT title FROM todos;\n"
    );
    let (t, p) = plan(&[base], &wanted).await;
    // Linted as any migration: the foreign key added to a table that exists is said.
    assert!(p.lint.iter().any(|f| f.rule == "adding-foreign-key-constraint" && f.file == "up"), "{:?}", p.lint);
    let s = t.session();
    ops::write_from_schema(&s, "owners", &p, false).unwrap();
    let run = common::from_schema::up(&t).await;
    assert_eq!(run.into_result().unwrap().done.len(), 2);
    let file = t.dir.path().join("schema.sql");
    assert!(ops::to_schema(&s, &file, &Cancel::default()).await.unwrap().changes.is_empty());
    let again = ops::plan_from_schema(&s, &file, &Cancel::default()).await.unwrap();
    assert!(again.changes.is_empty());
    let report = ops::verify(&s, None, None, &Cancel::default(), &mut |_, _, _| {}).await.unwrap();
    assert!(report.checked.iter().all(|c| !c.is_problem()), "{:?}", report.checked);
}

/// A table renamed: dropped and made without a word (the refusal offers the line), renamed with
/// `-- godwit:rename-table`, what names it following, and back in the down; a column of it
/// renamed too, named by the table's new name.
#[tokio::test]
async fn a_table_renamed_follows_the_annotation() {
    let base = "CREATE TABLE todo (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text, note text);\n\
                CREATE INDEX todo_title ON todo (title);\n\
                CREATE TABLE item (todo_id int REFERENCES todo (id));\n\
                CREATE VIEW titles AS SELECT title FROM todo;\n";
    let wanted = base
        .replace("TABLE todo ", "TABLE task ")
        .replace("ON todo ", "ON task ")
        .replace("REFERENCES todo ", "REFERENCES task ")
        .replace("FROM todo", "FROM task");
    let (_t, p) = plan(&[base], &wanted).await;
    let offered: Vec<_> = p.refusals.iter().filter_map(|r| r.rename.clone()).collect();
    assert_eq!(offered, ["-- godwit:rename-table todo TO task"], "{:?}", p.refusals);
    let (_t, p) = plan(&[base], &format!("{wanted}-- godwit:rename-table todo TO task\n")).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}\n{}", p.refusals, p.unproven, p.up.join(";\n"));
    assert_eq!(p.up, ["ALTER TABLE todo RENAME TO task"]);
    assert_eq!(p.down, ["ALTER TABLE task RENAME TO todo"]);
    let both = format!(
        "{}-- godwit:rename-table todo TO task\n-- godwit:rename task.note TO remark\n",
        wanted.replace("note text", "remark text")
    );
    let (_t, p) = plan(&[base], &both).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}\n{}", p.refusals, p.unproven, p.up.join(";\n"));
}
