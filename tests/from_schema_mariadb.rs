//! `new NAME --from-schema FILE` on MariaDB: for pairs of (what the migrations make, the schema
//! wanted), the generated up reaches the wanted schema exactly and the down returns exactly (both
//! proven on scratch databases); columns go where the schema puts them; what loses data is refused
//! without consent; renames follow the annotation.

mod common;

use common::from_schema::{each_proven, each_refused, each_replaced, plan};
use godwit::db::Dialect;
use godwit::migration::runner::Cancel;
use godwit::ops;
use godwit::schema::generate::RefusalKind;

const MY: Dialect = Dialect::MySql;

const BASE: &str = "CREATE TABLE todos (id int AUTO_INCREMENT PRIMARY KEY, title varchar(100) NOT NULL, \
                    status varchar(20) NOT NULL DEFAULT 'open', note text, kind enum('a', 'b'), \
                    CONSTRAINT title_set CHECK (title <> ''));\n\
                    CREATE TABLE users (id int PRIMARY KEY, email varchar(200) NOT NULL);\n\
                    CREATE INDEX todos_status ON todos (status);\n\
                    CREATE VIEW open_todos AS SELECT id, title FROM todos WHERE status = 'open';\n\
                    CREATE FUNCTION shout(s text) RETURNS text DETERMINISTIC RETURN upper(s);\n\
                    CREATE PROCEDURE tidy() BEGIN DELETE FROM todos WHERE status = 'done'; END;\n\
                    CREATE TRIGGER todos_trim BEFORE INSERT ON todos FOR EACH ROW SET NEW.title = trim(NEW.title);\n";

#[tokio::test]
async fn additions_are_generated_and_proven() {
    each_proven(
        MY,
        BASE,
        &[
            ("a new table with a key and a unique column", "CREATE TABLE tags (id bigint AUTO_INCREMENT PRIMARY KEY, name varchar(50) UNIQUE);"),
            ("a column with a default", "ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false;"),
            ("a column in the middle", "ALTER TABLE todos ADD COLUMN rank int AFTER title;"),
            ("a column first", "ALTER TABLE users ADD COLUMN tenant int FIRST;"),
            ("a virtual generated column", "ALTER TABLE todos ADD COLUMN loud varchar(100) AS (upper(title)) VIRTUAL;"),
            ("a stored generated column", "ALTER TABLE todos ADD COLUMN len int AS (char_length(title)) STORED;"),
            ("an index", "CREATE INDEX todos_title ON todos (title);"),
            ("a composite unique index", "CREATE UNIQUE INDEX users_email ON users (email, id);"),
            ("a prefix index", "CREATE INDEX todos_note ON todos (note(20));"),
            ("a full-text index", "CREATE FULLTEXT INDEX todos_words ON todos (title);"),
            ("a check constraint", "ALTER TABLE users ADD CONSTRAINT email_at CHECK (email LIKE '%@%');"),
            (
                "a foreign key and its column",
                "ALTER TABLE todos ADD COLUMN owner int, ADD CONSTRAINT todos_owner FOREIGN KEY (owner) REFERENCES users (id) ON DELETE CASCADE;",
            ),
            (
                "two new tables naming each other",
                "CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id)); \
                 ALTER TABLE a ADD CONSTRAINT a_b FOREIGN KEY (b_id) REFERENCES b (id);",
            ),
            ("a view", "CREATE VIEW titles AS SELECT title FROM todos;"),
            ("a view over a view", "CREATE VIEW open_titles AS SELECT title FROM open_todos;"),
            ("a function", "CREATE FUNCTION twice(n int) RETURNS int DETERMINISTIC RETURN n * 2;"),
            ("a procedure", "CREATE PROCEDURE close_all() BEGIN UPDATE todos SET status = 'done'; END;"),
            ("a trigger", "CREATE TRIGGER users_lower BEFORE INSERT ON users FOR EACH ROW SET NEW.email = lower(NEW.email);"),
        ],
    )
    .await;
}

#[tokio::test]
async fn changes_are_generated_and_proven() {
    each_replaced(
        MY,
        BASE,
        &[
            ("a wider column", "title varchar(100)", "title varchar(200)"),
            ("a new default", "DEFAULT 'open'", "DEFAULT 'todo'"),
            ("NOT NULL dropped", "status varchar(20) NOT NULL", "status varchar(20)"),
            ("NOT NULL set", "note text", "note text NOT NULL DEFAULT ''"),
            ("an enum's new value", "enum('a', 'b')", "enum('a', 'b', 'c')"),
            (
                "columns in another order",
                "title varchar(100) NOT NULL, status varchar(20) NOT NULL DEFAULT 'open'",
                "status varchar(20) NOT NULL DEFAULT 'open', title varchar(100) NOT NULL",
            ),
            ("an index's columns", "ON todos (status)", "ON todos (status, title)"),
            ("an index made unique", "CREATE INDEX todos_status", "CREATE UNIQUE INDEX todos_status"),
            ("a check's condition", "CHECK (title <> '')", "CHECK (char_length(title) > 1)"),
            (
                "a view's query",
                "SELECT id, title FROM todos WHERE status = 'open'",
                "SELECT id, title, note FROM todos WHERE status = 'open'",
            ),
            ("a function's body", "RETURN upper(s)", "RETURN upper(trim(s))"),
            ("a procedure's body", "WHERE status = 'done'", "WHERE status IN ('done', 'gone')"),
            ("a trigger's body", "SET NEW.title = trim(NEW.title)", "SET NEW.title = upper(trim(NEW.title))"),
            ("a table's collation", "email varchar(200) NOT NULL)", "email varchar(200) NOT NULL) COLLATE utf8mb4_bin"),
        ],
    )
    .await;
}

#[tokio::test]
async fn what_loses_data_needs_consent() {
    each_refused(
        MY,
        BASE,
        &[
            (
                "a table dropped",
                "CREATE TABLE users (id int PRIMARY KEY, email varchar(200) NOT NULL);",
                "",
                RefusalKind::Destructive,
            ),
            ("a column dropped", ", note text", "", RefusalKind::Destructive),
            ("a narrower type", "title varchar(100)", "title varchar(50)", RefusalKind::Destructive),
            ("an enum value taken out", "enum('a', 'b')", "enum('a')", RefusalKind::Destructive),
            (
                "a NOT NULL column without a default",
                "note text",
                "note text, due date NOT NULL",
                RefusalKind::NeedsDefault,
            ),
        ],
    )
    .await;
    // A unique key dropped.
    let unique = format!("{BASE}CREATE UNIQUE INDEX users_email ON users (email);\n");
    let (_t, p) = plan(MY, &[&unique], BASE).await;
    assert_eq!(common::from_schema::kinds(&p), [RefusalKind::Destructive]);
    assert_eq!(p.unproven, None, "{}", p.up.join(";\n"));

    // A column renamed: refused with the line to add; with it, one statement each way.
    let renamed = BASE.replace("note text", "remark text");
    let (_t, p) = plan(MY, &[BASE], &renamed).await;
    assert!(p.refusals[0].message.contains("-- godwit:rename todos.note TO remark"), "{}", p.refusals[0].message);
    let (_t, p) = plan(MY, &[BASE], &format!("{renamed}-- godwit:rename todos.note TO remark\n")).await;
    assert!(p.refusals.is_empty() && p.unproven.is_none(), "{:?} {:?} {}", p.refusals, p.unproven, p.up.join(";\n"));
    assert_eq!(p.up, ["ALTER TABLE `todos` CHANGE COLUMN `note` `remark` text DEFAULT NULL"]);
}

/// Written and applied for real on a table with rows: the rows stay, the environment has the
/// file's schema, the migrations verify.
#[tokio::test]
async fn a_written_migration_applies_and_verifies() {
    let wanted =
        BASE.replace("note text,", "note text, rank int NOT NULL DEFAULT 0,").replace("varchar(100)", "varchar(150)")
            + "CREATE INDEX todos_rank ON todos (rank);\n";
    let (t, p) = plan(MY, &[BASE], &wanted).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}", p.refusals, p.unproven);
    let s = t.session();
    common::from_schema::up(&t).await;
    t.exec("INSERT INTO todos (title, note) VALUES ('one', 'x'), ('two', NULL)").await;
    ops::write_from_schema(&s, "rank", &p, false).unwrap();
    let run = common::from_schema::up(&t).await;
    assert_eq!(run.into_result().unwrap().done.len(), 1);
    assert_eq!(t.strings("SELECT CONCAT(title, ' ', rank) FROM todos ORDER BY id").await, ["one 0", "two 0"]);
    let file = t.dir.path().join("schema.sql");
    assert!(ops::to_schema(&s, &file, &Cancel::default()).await.unwrap().changes.is_empty());
    let report = ops::verify(&s, None, None, &Cancel::default(), &mut |_, _, _| {}).await.unwrap();
    assert!(report.checked.iter().all(|c| !c.is_problem()), "{:?}", report.checked);
}

/// A table renamed with `-- godwit:rename-table`: RENAME TABLE, the foreign keys naming it follow,
/// a view reading it is made again (MySQL's views do not follow a rename); back in the down.
#[tokio::test]
async fn a_table_renamed_follows_the_annotation() {
    let base = "CREATE TABLE todo (id int AUTO_INCREMENT PRIMARY KEY, title varchar(50));\n\
                CREATE INDEX todo_title ON todo (title);\n\
                CREATE TABLE item (todo_id int, FOREIGN KEY (todo_id) REFERENCES todo (id));\n\
                CREATE VIEW titles AS SELECT title FROM todo;\n";
    let wanted = base
        .replace("TABLE todo ", "TABLE task ")
        .replace("ON todo ", "ON task ")
        .replace("REFERENCES todo ", "REFERENCES task ")
        .replace("FROM todo", "FROM task");
    let (_t, p) = plan(MY, &[base], &wanted).await;
    let offered: Vec<_> = p.refusals.iter().filter_map(|r| r.rename.clone()).collect();
    assert_eq!(offered, ["-- godwit:rename-table todo TO task"], "{:?}", p.refusals);
    let (_t, p) = plan(MY, &[base], &format!("{wanted}-- godwit:rename-table todo TO task\n")).await;
    assert!(p.refusals.is_empty() && p.proven, "{:?} {:?}\n{}", p.refusals, p.unproven, p.up.join(";\n"));
    assert_eq!(p.up[0], "RENAME TABLE `todo` TO `task`");
    assert_eq!(p.down[0], "RENAME TABLE `task` TO `todo`");
}
