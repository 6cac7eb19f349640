//! The schema engine on the three databases: `verify` finds downs that do not restore the schema
//! (naming the migration and the object), passes good ones without false alarms, and leaves no
//! scratch database behind; `diff` compares two schemas object by object.

mod common;

use common::TestDb;
use godwit::db::Dialect;
use godwit::migration::runner::Cancel;
use godwit::migration::source::Source;
use godwit::migration::verify::{self, Outcome, Step};
use godwit::schema::ObjectKind;

fn pair(t: &TestDb, v: i64, name: &str, up: &str, down: &str) {
    t.write(&format!("{v}_{name}.up.sql"), up);
    t.write(&format!("{v}_{name}.down.sql"), down);
}

/// Verifies the test's folder on scratch databases beside its own.
async fn verify(t: &TestDb) -> verify::VerifyReport {
    godwit::ops::verify(&t.session(), None, None, &Cancel::default(), &mut |_, _, _| {}).await.unwrap()
}

/// The outcome of each migration, in words a test can compare.
fn outcomes(r: &verify::VerifyReport) -> Vec<(i64, String)> {
    r.checked
        .iter()
        .map(|c| {
            let what = match &c.outcome {
                Outcome::Restores => "restores".to_string(),
                Outcome::Leaves { changes, rows } => {
                    let objects: Vec<String> = changes
                        .iter()
                        .map(|c| format!("{} {} {}", c.what(), c.kind.as_str(), c.name))
                        .chain(rows.iter().map(|r| format!("rows of {} {} -> {}", r.table, r.before, r.after)))
                        .collect();
                    format!("leaves {}", objects.join("; "))
                }
                Outcome::Fails { step, .. } => format!("fails {step:?}"),
                Outcome::Irreversible => "irreversible".into(),
                Outcome::Applied => "applied".into(),
            };
            (c.version, what)
        })
        .collect()
}

/// Good migrations of every kind of object verify clean: no counter, generated name or
/// formatting reads as a difference.
async fn good_downs_pass(d: Dialect) {
    let t = TestDb::new(d).await;
    let serial = match d {
        Dialect::Postgres => "id SERIAL PRIMARY KEY",
        Dialect::MySql => "id INT AUTO_INCREMENT PRIMARY KEY",
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    pair(
        &t,
        1,
        "users",
        &format!("CREATE TABLE users ({serial}, email VARCHAR(100) NOT NULL UNIQUE, age INT CHECK (age > 0));"),
        "DROP TABLE users;",
    );
    pair(
        &t,
        2,
        "orders",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT REFERENCES users (id) ON DELETE CASCADE);\n\
         CREATE INDEX orders_user ON orders (user_id);\nINSERT INTO users (email, age) VALUES ('a@b', 3);",
        // Its data goes too: the up inserts a unique email, and runs again after the down.
        "DROP TABLE orders;\nDELETE FROM users WHERE email = 'a@b';",
    );
    pair(&t, 3, "view", "CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18;", "DROP VIEW adults;");
    pair(&t, 4, "nick", "ALTER TABLE users ADD COLUMN nick VARCHAR(20);", "ALTER TABLE users DROP COLUMN nick;");
    if d == Dialect::Postgres {
        pair(
            &t,
            5,
            "fn",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
             CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();\n\
             CREATE TYPE mood AS ENUM ('ok', 'meh');\nCREATE TYPE nothing AS ENUM ();\nCREATE SEQUENCE tickets START 100;\n\
             CREATE DOMAIN positive AS int CHECK (VALUE > 0);",
            "DROP DOMAIN positive;\nDROP SEQUENCE tickets;\nDROP TYPE nothing;\nDROP TYPE mood;\nDROP TRIGGER users_touch ON users;\nDROP FUNCTION touch();",
        );
    }
    let r = verify(&t).await;
    assert!(r.checked.iter().all(|c| matches!(c.outcome, Outcome::Restores)), "{:?}", outcomes(&r));
    assert_eq!(r.checked.len(), if d == Dialect::Postgres { 5 } else { 4 });
}

/// Broken downs, each found at its migration with the object it leaves named.
async fn broken_downs_are_named(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(&t, 1, "users", "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100));", "DROP TABLE users;");
    // A default the down does not take back: the up runs again, so verifying goes on.
    let default = match d {
        Dialect::Sqlite => None,
        _ => Some("ALTER TABLE users ALTER COLUMN email SET DEFAULT 'none';"),
    };
    if let Some(up) = default {
        pair(&t, 2, "default", up, "SELECT 1;");
    }
    // An index the down forgets.
    pair(&t, 3, "index", "CREATE INDEX users_email ON users (email);", "SELECT 1;");
    let r = verify(&t).await;
    let mut want = vec![(1, "restores".to_string())];
    if default.is_some() {
        want.push((2, "leaves changed table users".into()));
    }
    let index = match d {
        Dialect::MySql => "users.users_email",
        Dialect::Postgres => "users_email",
        Dialect::Sqlite => "users.users_email",
    };
    want.push((3, format!("leaves added index {index}")));
    assert_eq!(outcomes(&r), want);
    if let Outcome::Leaves { changes, .. } = &r.checked.last().unwrap().outcome {
        assert_eq!(changes[0].kind, ObjectKind::Index);
        assert!(changes[0].before.is_none() && changes[0].after.as_deref().is_some_and(|a| a.contains("email")));
    }
}

/// A down that drops the wrong column: the table differs, and the up cannot run again. The scratch
/// database is built again up to that migration, and the ones after it are verified from there:
/// a later broken down is named too, and one that restores is not blamed for the earlier one.
async fn a_wrong_column_dropped_is_named_and_the_rest_verified(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(&t, 1, "users", "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100));", "DROP TABLE users;");
    pair(&t, 2, "nick", "ALTER TABLE users ADD COLUMN nick VARCHAR(20);", "ALTER TABLE users DROP COLUMN email;");
    pair(&t, 3, "later", "CREATE TABLE later (id INT);", "DROP TABLE later;");
    pair(&t, 4, "broken", "CREATE TABLE broken (id INT);", "DROP TABLE nowhere;");
    pair(&t, 5, "last", "ALTER TABLE users ADD COLUMN last VARCHAR(20);", "ALTER TABLE users DROP COLUMN last;");
    let r = verify(&t).await;
    let want =
        [(1, "restores"), (2, "leaves changed table users"), (3, "restores"), (4, "fails Down"), (5, "restores")];
    let want: Vec<(i64, String)> = want.iter().map(|(v, w)| (*v, w.to_string())).collect();
    assert_eq!(outcomes(&r), want);
    assert!(r.unchecked.is_empty() && r.stopped.is_none());
    // Built again after 2 and 4 on MariaDB, whose DDL commits as it runs; elsewhere the down and
    // the up again were tried in a transaction rolled back after, and nothing needed building.
    assert_eq!(r.rebuilt, if d == Dialect::MySql { 2 } else { 0 });

    // Fixing 2 by hand changes its outcome alone.
    pair(&t, 2, "nick", "ALTER TABLE users ADD COLUMN nick VARCHAR(20);", "ALTER TABLE users DROP COLUMN nick;");
    let fixed = outcomes(&verify(&t).await);
    let mut want = want;
    want[1].1 = "restores".into();
    assert_eq!(fixed, want);
}

/// An up that fails is reported at its step; nothing after it is verified, and the report names
/// each migration not verified and why.
async fn a_failing_up_is_reported(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(&t, 1, "bad", "CREATE TABLE a (id INT);\nINSERT INTO nowhere VALUES (1);", "DROP TABLE a;");
    pair(&t, 2, "later", "CREATE TABLE later (id INT);", "DROP TABLE later;");
    let r = verify(&t).await;
    assert_eq!(r.checked.len(), 1);
    assert!(matches!(&r.checked[0].outcome, Outcome::Fails { step: Step::Up, location: Some(l), .. } if l.line == 2));
    assert_eq!(r.unchecked, ["2_later.up.sql"]);
    assert!(r.stopped.as_deref().is_some_and(|s| s.contains("1_bad.up.sql")), "{:?}", r.stopped);
}

/// `schema --format sql`, from the database's own dump tool, loads into an empty database as the
/// same schema, without Godwit's and sqlx's tables or an AUTO_INCREMENT counter.
async fn schema_sql_loads_as_the_same_schema(d: Dialect) {
    let t = TestDb::new(d).await;
    let serial = match d {
        Dialect::Postgres => "id SERIAL PRIMARY KEY",
        Dialect::MySql => "id INT AUTO_INCREMENT PRIMARY KEY",
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    t.write("1_users.sql", &format!("CREATE TABLE users ({serial}, email VARCHAR(100) NOT NULL UNIQUE);"));
    t.write(
        "2_orders.sql",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT REFERENCES users (id));
         CREATE INDEX orders_user ON orders (user_id);
CREATE VIEW emails AS SELECT email FROM users;
         INSERT INTO users (email) VALUES ('a@b');",
    );
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let opts = godwit::migration::runner::RunOptions::default();
    godwit::migration::runner::up(db.as_mut(), &source, None, &opts, &mut |_| {}).await.unwrap().into_result().unwrap();
    let session = t.session();
    let sql = godwit::ops::schema_sql(&session).await.unwrap();
    assert!(sql.contains("orders_user") && !sql.contains("_sqlx_migrations") && !sql.contains("_godwit_log"), "{sql}");
    assert!(!sql.contains("AUTO_INCREMENT="), "{sql}");
    // pg_dump's guard against psql commands slipped in by a hostile server stays in what is printed
    // (psql may read it); a migration made from it, run by the driver, goes without.
    if d == Dialect::Postgres {
        assert!(sql.lines().any(|l| l.starts_with("\\restrict ")), "{sql}");
    }
    let sql = godwit::backup::tool::as_migration_sql(&sql, &Default::default());
    assert!(!sql.contains("\\restrict"), "{sql}");

    let fresh = TestDb::new(d).await;
    let mut other = fresh.connect().await;
    let file = std::path::Path::new("schema.sql");
    other.execute_script(&godwit::db::Script::new(file, &sql, d).unwrap()).await.unwrap();
    // pg_dump's script empties the session's search_path: read the schema on a new connection.
    other.close().await;
    let mut other = fresh.connect().await;
    assert_eq!(db.inspect().await.unwrap(), other.inspect().await.unwrap());
    db.close().await;
    other.close().await;
}

on_each_db!(
    good_downs_pass,
    broken_downs_are_named,
    a_wrong_column_dropped_is_named_and_the_rest_verified,
    a_failing_up_is_reported,
    schema_sql_loads_as_the_same_schema,
    a_long_history_verified_in_two_parts_says_each_outcome_in_order,
    a_schema_file_is_compared_with_what_the_migrations_make
);

/// `godwit verify` makes its scratch database beside the environment's and drops it, also when a
/// down is broken; the environment's own database is not touched.
#[tokio::test]
async fn verify_leaves_no_scratch_database() {
    for d in [Dialect::Postgres, Dialect::MySql] {
        let t = TestDb::new(d).await;
        pair(&t, 1, "users", "CREATE TABLE users (id INT PRIMARY KEY);", "SELECT 1;");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(["--url", &t.url, "--source", "migrations", "verify"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Scratch names carry the process id: other tests' runs at the same moment are not this one's.
        let pid = child.id();
        let o = child.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{out}{}", String::from_utf8_lossy(&o.stderr));
        assert!(out.contains("table users (only after its down)"), "{out}");
        assert!(t.tables().await.is_empty(), "the environment's own database is untouched");
        let left = match d {
            Dialect::Postgres => {
                "SELECT datname::text FROM pg_database WHERE datname LIKE 'godwit\\_scratch\\_PID\\_%'"
            }
            _ => {
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'godwit\\_scratch\\_PID\\_%'"
            }
        };
        let left = left.replace("PID", &pid.to_string());
        assert!(t.strings(&left).await.is_empty(), "a scratch database was left on {d:?}");
    }
}

/// A SQLite scratch database lives in a private folder of its own, not in the shared temp folder
/// where anyone could read it, and goes with the folder when it is removed.
#[tokio::test]
async fn a_sqlite_scratch_database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestDb::new(Dialect::Sqlite).await;
    let target = godwit::db::Target::parse(&t.url, t.dir.path()).unwrap();
    let scratch = godwit::db::Scratch::new(&target, &Default::default()).await.unwrap();
    let file = std::path::PathBuf::from(scratch.target.database());
    let folder = file.parent().unwrap().to_path_buf();
    assert_ne!(folder, std::env::temp_dir());
    assert_eq!(std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(file.exists());
    scratch.remove().await.unwrap();
    assert!(!folder.exists());
}

fn godwit(t: &TestDb, args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .args(["--url", &t.url, "--source", "migrations"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// Changes made by hand (an extra index, a changed type, a dropped constraint) are found by
/// `drift`, and nothing else is.
async fn drift_finds_what_was_changed_by_hand(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(
        &t,
        1,
        "users",
        "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), age INT, CONSTRAINT age_positive CHECK (age > 0));",
        "DROP TABLE users;",
    );
    pair(&t, 2, "idx", "CREATE INDEX users_age ON users (age);", "DROP INDEX users_age;");
    let (code, out, err) = godwit(&t, &["up"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = godwit(&t, &["drift"]);
    assert_eq!(code, 0, "no drift right after up: {out}{err}");

    let by_hand: &[&str] = match d {
        Dialect::Postgres => &[
            "CREATE INDEX users_email ON users (email)",
            "ALTER TABLE users ALTER COLUMN email TYPE VARCHAR(200)",
            "ALTER TABLE users DROP CONSTRAINT age_positive",
        ],
        Dialect::MySql => &[
            "CREATE INDEX users_email ON users (email)",
            "ALTER TABLE users MODIFY email VARCHAR(200)",
            "ALTER TABLE users DROP CONSTRAINT age_positive",
        ],
        // SQLite cannot change a column or drop a constraint in place: an index made by hand.
        Dialect::Sqlite => &["CREATE INDEX users_email ON users (email)"],
    };
    for sql in by_hand {
        t.strings(sql).await;
    }
    // Alembic's table, left after a switch: set apart, not drift.
    t.strings("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)").await;
    let (code, out, err) = godwit(&t, &["drift", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let compared: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(compared["other_tools"], serde_json::json!([{"tool": "Alembic", "table": "alembic_version"}]));
    let mut seen: Vec<String> = compared["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["kind"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    seen.sort();
    let mut want: Vec<String> = match d {
        Dialect::Postgres => vec!["index users_email", "table users", "constraint users CHECK ((age > 0))"],
        Dialect::MySql => vec!["index users.users_email", "table users", "constraint users CHECK (`age` > 0)"],
        Dialect::Sqlite => vec!["index users.users_email"],
    }
    .into_iter()
    .map(String::from)
    .collect();
    want.sort();
    assert_eq!(seen, want, "{out}");
    // `check --schema` counts each drifted object as a problem.
    let (code, out, _) = godwit(&t, &["check", "--schema", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drifted = v["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "schema_drift").count();
    assert_eq!(drifted, want.len(), "{out}");
}

/// A migration applied out of order made its column after a newer one's: the replay follows the
/// order they ran in here, so that is not drift.
#[tokio::test]
async fn drift_replays_in_the_order_the_migrations_ran() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "t", "CREATE TABLE t (id INT);", "DROP TABLE t;");
    pair(&t, 3, "c3", "ALTER TABLE t ADD COLUMN c3 INT;", "ALTER TABLE t DROP COLUMN c3;");
    let (code, out, err) = godwit(&t, &["up"]);
    assert_eq!(code, 0, "{out}{err}");
    pair(&t, 2, "c2", "ALTER TABLE t ADD COLUMN c2 INT;", "ALTER TABLE t DROP COLUMN c2;");
    let (code, out, err) = godwit(&t, &["up", "--allow-out-of-order"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = godwit(&t, &["drift"]);
    assert_eq!(code, 0, "no drift after an out-of-order run: {out}{err}");
}

mod drift {
    #[tokio::test]
    async fn postgres() {
        super::drift_finds_what_was_changed_by_hand(godwit::db::Dialect::Postgres).await
    }
    #[tokio::test]
    async fn mariadb() {
        super::drift_finds_what_was_changed_by_hand(godwit::db::Dialect::MySql).await
    }
    #[tokio::test]
    async fn sqlite() {
        super::drift_finds_what_was_changed_by_hand(godwit::db::Dialect::Sqlite).await
    }
}

/// `diff A B`: two environments' schemas, object by object.
#[tokio::test]
async fn diff_compares_two_environments() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        "id = \"cmp\"\n[env.one]\nurl = \"sqlite://one.db\"\n[env.two]\nurl = \"sqlite://two.db\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(args)
            .output()
            .unwrap();
        (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string())
    };
    assert_eq!(run(&["-e", "one", "up"]).0, 0);
    assert_eq!(run(&["-e", "two", "up"]).0, 0);
    assert_eq!(run(&["diff", "one", "two"]).0, 0);
    assert_eq!(run(&["diff", "one", "--to-migrations"]).0, 0, "one has what its migrations make");
    let two = godwit::db::Target::parse("sqlite://two.db", t.dir.path()).unwrap();
    let mut db = godwit::db::connect(&two, &Default::default()).await.unwrap();
    let _ = db.drop_tables(&["a".into()]).await;
    db.close().await;
    let (code, out) = run(&["diff", "one", "two"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("table a (only one)") && out.contains("1 object(s) differ"), "{out}");
}

/// `--seed`: data loaded before the first migration verified; a down that keeps the schema but
/// loses rows is found, with the table and its counts.
#[tokio::test]
async fn a_seeded_verify_holds_downs_to_their_rows() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "items", "CREATE TABLE items (id INTEGER, name TEXT);", "DROP TABLE items;");
    pair(
        &t,
        2,
        "note",
        "ALTER TABLE items ADD COLUMN note TEXT;",
        "DROP TABLE items;\nCREATE TABLE items (id INTEGER, name TEXT);",
    );
    std::fs::write(t.dir.path().join("seed.sql"), "INSERT INTO items VALUES (1, 'a'), (2, 'b');").unwrap();
    let (code, out, err) = godwit(&t, &["verify", "--from", "2", "--seed", "seed.sql", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["checked"][0]["outcome"]["outcome"], "applied");
    assert_eq!(v["checked"][1]["outcome"]["rows"], serde_json::json!([{ "table": "items", "before": 2, "after": 0 }]));
    assert_eq!(v["checked"][1]["outcome"]["changes"], serde_json::json!([]));
}

/// A verify stopped by a person drops its scratch database too.
#[tokio::test]
async fn a_cancelled_verify_drops_its_scratch_database() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    pair(&t, 2, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    let session = t.session();
    let cancel = Cancel::default();
    let stop = cancel.clone();
    let report = godwit::ops::verify(&session, None, None, &cancel, &mut |_, _, _| stop.cancel()).await.unwrap();
    assert!(report.cancelled);
    assert_eq!(report.checked.len(), 1);
    // This process's own (other tests make theirs at the same time).
    let mine = format!(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'godwit\\_scratch\\_{}\\_%'",
        std::process::id()
    );
    let left = t.strings(&mine).await;
    assert!(left.is_empty(), "{left:?}");
}

/// PostgreSQL's leftovers: a function and an extension the downs forget, each named; an up whose
/// row the down leaves is found by the table's count (and cannot run again: verifying stops).
#[tokio::test]
async fn postgres_leftovers_and_a_non_idempotent_up() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "ext", "CREATE EXTENSION IF NOT EXISTS citext;", "SELECT 1;");
    pair(&t, 2, "t", "CREATE TABLE t (id INT PRIMARY KEY);", "DROP TABLE t;");
    pair(&t, 3, "row", "INSERT INTO t VALUES (1);", "SELECT 1;");
    let r = verify(&t).await;
    assert_eq!(
        outcomes(&r),
        [
            (1, "leaves added extension citext".to_string()),
            (2, "restores".into()),
            (3, "leaves rows of public.t 0 -> 1".into())
        ]
    );

    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "fn", "CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';", "SELECT 1;");
    let r = verify(&t).await;
    assert_eq!(outcomes(&r), [(1, "leaves added function answer()".to_string())]);
}

/// `schema_file`: each successful run in `dev` rewrites it; a godwit.toml cannot point it (or the
/// migrations and templates folders) outside the project.
#[test]
fn the_schema_file_follows_dev_and_stays_in_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).args(args).output().unwrap()
    };
    let toml = |extra: &str| {
        std::fs::write(
            dir.path().join("godwit.toml"),
            format!("id = \"sf\"\n{extra}\n[env.dev]\nurl = \"sqlite://dev.db\"\n[env.ci]\nurl = \"sqlite://ci.db\"\n"),
        )
        .unwrap()
    };
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_a.up.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(dir.path().join("migrations/1_a.down.sql"), "DROP TABLE a;").unwrap();
    toml("schema_file = \"schema.txt\"");
    assert!(run(&["-e", "ci", "up"]).status.success());
    assert!(!dir.path().join("schema.txt").exists(), "only runs in dev write it");
    assert!(run(&["-e", "dev", "up"]).status.success());
    let text = std::fs::read_to_string(dir.path().join("schema.txt")).unwrap();
    assert!(text.contains("-- table a\nid INTEGER"), "{text}");
    assert!(run(&["-e", "dev", "down"]).status.success());
    assert!(!std::fs::read_to_string(dir.path().join("schema.txt")).unwrap().contains("-- table a"));

    for bad in ["schema_file = \"../out.txt\"", "migrations = \"/tmp\"", "templates = \"a/../../b\""] {
        toml(bad);
        let o = run(&["-e", "dev", "status"]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("inside the project"), "{bad}");
    }
    std::os::unix::fs::symlink("/tmp", dir.path().join("elsewhere")).unwrap();
    // A link, whether the path through it exists yet or not, and files the project keeps.
    for bad in [
        "migrations = \"elsewhere\"",
        "schema_file = \"elsewhere/not-yet/schema.txt\"",
        "schema_file = \"godwit.toml\"",
        "schema_file = \".git/hooks/pre-commit\"",
        "schema_file = \"migrations/9_x.up.sql\"",
    ] {
        toml(bad);
        let o = run(&["-e", "dev", "status"]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(!std::path::Path::new("/tmp/not-yet").exists());
}

/// A MariaDB database with its own default character set: the scratch copy takes it too, so a
/// table made without one compares equal (no drift from the server's default).
#[tokio::test]
async fn mariadb_drift_follows_the_databases_character_set() {
    let t = TestDb::new(Dialect::MySql).await;
    t.strings(&format!("ALTER DATABASE `{}` CHARACTER SET latin1 COLLATE latin1_swedish_ci", t.name)).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT, name VARCHAR(20));", "DROP TABLE a;");
    let (code, out, err) = godwit(&t, &["up"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = godwit(&t, &["drift"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A down that loses what only a table's definition says (a CHECK on SQLite, a domain's CHECK on
/// PostgreSQL) is found.
#[tokio::test]
async fn lost_checks_are_found() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "u", "CREATE TABLE u (id INT, age INT);", "DROP TABLE u;");
    pair(&t, 2, "check", "DROP TABLE u;\nCREATE TABLE u (id INT, age INT CHECK (age > 0));", "SELECT 1;");
    let r = verify(&t).await;
    assert_eq!(outcomes(&r)[1], (2, "leaves added constraint u CHECK (age > 0)".to_string()));

    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "d", "CREATE DOMAIN positive AS int;", "DROP DOMAIN positive;");
    pair(&t, 2, "check", "ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0);", "SELECT 1;");
    let r = verify(&t).await;
    assert_eq!(outcomes(&r)[1], (2, "leaves added constraint positive CHECK ((VALUE > 0))".to_string()));
}

/// SQLite keeps a column's collation and a table's STRICT / WITHOUT ROWID only in its SQL and
/// pragma_table_list: a down that rebuilds a table without them is found.
#[tokio::test]
async fn sqlite_collations_and_table_options_are_compared() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "u", "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE) STRICT;", "DROP TABLE u;");
    pair(
        &t,
        2,
        "rebuild",
        "CREATE TABLE u_new (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, n INT) STRICT;\nDROP TABLE u;\n\
         ALTER TABLE u_new RENAME TO u;",
        "CREATE TABLE u_old (id INTEGER PRIMARY KEY, name TEXT);\nDROP TABLE u;\nALTER TABLE u_old RENAME TO u;",
    );
    let r = verify(&t).await;
    assert_eq!(outcomes(&r)[0], (1, "restores".to_string()));
    let Outcome::Leaves { changes, .. } = &r.checked[1].outcome else { panic!("{:?}", outcomes(&r)) };
    let before = changes[0].before.as_deref().unwrap();
    let after = changes[0].after.as_deref().unwrap();
    assert!(before.contains("name COLLATE NOCASE") && before.contains("STRICT"), "{before}");
    assert!(!after.contains("COLLATE") && !after.contains("STRICT"), "{after}");
}

/// PostgreSQL deparses only objects a connection has not read before: after each kind of change
/// (a column renamed under an index, a foreign key and a view; a type changed; a function's body;
/// a table renamed), a snapshot on the connection that read the earlier ones equals a fresh one.
#[tokio::test]
async fn a_connection_that_read_before_snapshots_as_a_fresh_one() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.exec(
        "CREATE TABLE a (id INT PRIMARY KEY, name TEXT CHECK (name <> ''));
         CREATE TABLE b (id SERIAL PRIMARY KEY, a_id INT REFERENCES a (id), note TEXT DEFAULT 'x', qty INT);
         CREATE INDEX b_qty ON b (qty) WHERE qty > 0;
         CREATE INDEX b_note ON b (lower(note));
         CREATE VIEW named AS SELECT a.name, b.note FROM a JOIN b ON b.a_id = a.id;
         CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
         CREATE TRIGGER b_touch BEFORE UPDATE ON b FOR EACH ROW EXECUTE FUNCTION touch();",
    )
    .await;
    let mut db = t.connect().await;
    db.inspect().await.unwrap();
    for change in [
        "ALTER TABLE b RENAME COLUMN note TO remark",
        "ALTER TABLE b ALTER COLUMN qty TYPE BIGINT",
        "ALTER TABLE b ALTER COLUMN remark SET DEFAULT 'y'",
        "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 43'",
        "ALTER TABLE a RENAME TO alpha",
        "CREATE SCHEMA other; CREATE TABLE other.c (id INT)",
        "ALTER TABLE b DROP CONSTRAINT b_a_id_fkey",
        "DROP VIEW named; ALTER TABLE b ADD COLUMN extra INT",
    ] {
        t.exec(change).await;
        let mut fresh = t.connect().await;
        let expected = fresh.inspect().await.unwrap();
        fresh.close().await;
        assert_eq!(db.inspect().await.unwrap(), expected, "after {change}");
    }
    let last = db.inspect().await.unwrap();
    let index = last.objects.iter().find(|o| o.kind == ObjectKind::Index && o.name == "b_note").unwrap();
    assert_eq!(index.definition, "CREATE INDEX b_note ON b USING btree (lower(remark))");
    assert!(last.objects.iter().any(|o| o.kind == ObjectKind::Table && o.name == "other.c"));
    db.close().await;
}

/// Portable migrations (tables, the common types, primary, foreign, unique and check constraints,
/// indexes, a view) on PostgreSQL, MariaDB and SQLite compare equal pairwise, each database spelling
/// them its own way; a column, an index or a constraint changed by hand on one side is named, on
/// each pair.
#[tokio::test]
async fn portable_migrations_compare_equal_across_the_three_databases_and_hand_changes_are_named() {
    let sql = "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, \
               active BOOLEAN NOT NULL DEFAULT TRUE, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n\
               CREATE TABLE todos (id INTEGER PRIMARY KEY, title VARCHAR(200) NOT NULL, \
               status VARCHAR(20) NOT NULL DEFAULT 'open', priority INTEGER, \
               owner INTEGER REFERENCES users (id) ON DELETE CASCADE, amount DECIMAL(10,2) DEFAULT 0, note TEXT, \
               big BIGINT, small SMALLINT, ratio DOUBLE PRECISION, due DATE, code CHAR(3), \
               CHECK (priority > 0), UNIQUE (title, owner));\n\
               CREATE TABLE tags (todo INTEGER NOT NULL REFERENCES todos (id), tag VARCHAR(30) NOT NULL, \
               PRIMARY KEY (todo, tag));\n\
               CREATE INDEX todos_status_priority_idx ON todos (status, priority);\n\
               CREATE UNIQUE INDEX todos_code ON todos (code);\n\
               CREATE VIEW open_todos AS SELECT id, title FROM todos WHERE status = 'open' AND priority > 1;";
    let mut dbs = Vec::new();
    for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        let t = TestDb::new(d).await;
        t.write("1_portable.sql", sql);
        let (code, out, err) = godwit(&t, &["up"]);
        assert_eq!(code, 0, "{d:?}: {out}{err}");
        dbs.push(t);
    }
    async fn read(t: &TestDb) -> godwit::schema::Schema {
        t.connect().await.inspect().await.unwrap()
    }
    let compare = async |a: &TestDb, b: &TestDb| {
        godwit::schema::compare_databases(&read(a).await, a.dialect, &read(b).await, b.dialect)
    };
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let c = compare(&dbs[i], &dbs[j]).await;
        let (a, b) = (dbs[i].dialect, dbs[j].dialect);
        assert_eq!(c.changes, [], "{a:?} and {b:?} differ");
        assert!(c.spelt.len() >= 8, "{a:?} and {b:?}: what each spells its own way is listed: {:?}", c.spelt);
    }
    // By hand: a wider column on MariaDB, an index on PostgreSQL, a constraint's table rebuilt on
    // SQLite without its check.
    dbs[1].exec("ALTER TABLE todos MODIFY title VARCHAR(250) NOT NULL").await;
    dbs[0].exec("CREATE INDEX todos_due ON todos (due)").await;
    dbs[2]
        .exec(
            "PRAGMA foreign_keys = OFF; CREATE TABLE tags2 (todo INTEGER NOT NULL REFERENCES todos (id), \
             tag VARCHAR(40) NOT NULL, PRIMARY KEY (todo, tag)); DROP TABLE tags; ALTER TABLE tags2 RENAME TO tags",
        )
        .await;
    let named = |c: &godwit::schema::Compared| -> Vec<String> {
        c.changes.iter().map(|c| format!("{} {}", c.kind.as_str(), c.name)).collect()
    };
    assert_eq!(named(&compare(&dbs[0], &dbs[1]).await), ["table todos", "index todos (due)"]);
    assert_eq!(named(&compare(&dbs[0], &dbs[2]).await), ["table tags", "index todos (due)"]);
    assert_eq!(named(&compare(&dbs[1], &dbs[2]).await), ["table tags", "table todos"]);
    let c = compare(&dbs[0], &dbs[1]).await;
    let title: Vec<(char, String)> =
        godwit::schema::line_diff(c.changes[0].before.as_deref().unwrap(), c.changes[0].after.as_deref().unwrap())
            .into_iter()
            .filter(|(m, _)| *m != ' ')
            .collect();
    assert_eq!(
        title,
        [('-', "title varchar(200) not null".to_string()), ('+', "title varchar(250) not null".to_string())]
    );
}

/// A down written with its own `BEGIN; … COMMIT;` is not tried inside a transaction that is rolled
/// back after (its COMMIT would keep what it did): it runs as a rollback, and the scratch database
/// is built again after it.
#[tokio::test]
async fn a_down_with_its_own_commit_is_verified_outside_a_trial() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "BEGIN;\nSELECT 1;\nCOMMIT;");
    pair(&t, 2, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    let r = verify(&t).await;
    assert_eq!(outcomes(&r), [(1, "leaves added table a".to_string()), (2, "restores".to_string())]);
    assert_eq!(r.rebuilt, 1);
}

/// A `-- no-transaction` migration whose down fails at its first statement changed nothing: the
/// ones after it are verified without building the scratch database again. One whose down failed
/// after a statement that ran is built again.
async fn a_down_outside_a_transaction_that_changed_nothing_needs_no_rebuild(d: Dialect) {
    let t = TestDb::new(d).await;
    let nt = "-- no-transaction\n";
    pair(&t, 1, "a", &format!("{nt}CREATE TABLE a (id INT);"), &format!("{nt}DROP TABLE nowhere;\nDROP TABLE a;"));
    pair(&t, 2, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    let r = verify(&t).await;
    assert_eq!(outcomes(&r), [(1, "fails Down".to_string()), (2, "restores".to_string())]);
    assert_eq!(r.rebuilt, 0);
    pair(&t, 1, "a", &format!("{nt}CREATE TABLE a (id INT);"), &format!("{nt}DROP TABLE a;\nDROP TABLE nowhere;"));
    let r = verify(&t).await;
    assert_eq!(outcomes(&r), [(1, "fails Down".to_string()), (2, "restores".to_string())]);
    assert_eq!(r.rebuilt, 1);
}

#[tokio::test]
async fn a_down_outside_a_transaction_that_changed_nothing_needs_no_rebuild_postgres() {
    a_down_outside_a_transaction_that_changed_nothing_needs_no_rebuild(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_down_outside_a_transaction_that_changed_nothing_needs_no_rebuild_sqlite() {
    a_down_outside_a_transaction_that_changed_nothing_needs_no_rebuild(Dialect::Sqlite).await;
}

/// A history long enough to be verified in two parts at once says what one part would: each
/// broken down at its migration, progress once per migration in order; an up that fails in
/// either part stops there and names every migration after it as not checked.
async fn a_long_history_verified_in_two_parts_says_each_outcome_in_order(d: Dialect) {
    let t = TestDb::new(d).await;
    let n = verify::TWO_PARTS_FROM as i64 + 8;
    for i in 1..=n {
        let down = match i {
            5 | 35 => "SELECT 1;".to_string(),
            40 => "DROP TABLE nowhere;".to_string(),
            _ => format!("DROP TABLE t{i};"),
        };
        pair(&t, i, &format!("t{i}"), &format!("CREATE TABLE t{i} (id INT);"), &down);
    }
    let mut seen = Vec::new();
    let r = godwit::ops::verify(&t.session(), None, None, &Cancel::default(), &mut |i, total, c| {
        seen.push((i, total, c.version))
    })
    .await
    .unwrap();
    let want: Vec<(i64, String)> = (1..=n)
        .map(|i| {
            let what = match i {
                5 | 35 => format!("leaves added table t{i}"),
                40 => "fails Down".into(),
                _ => "restores".into(),
            };
            (i, what)
        })
        .collect();
    assert_eq!(outcomes(&r), want);
    let progress: Vec<(usize, usize, i64)> = (1..=n).map(|i| (i as usize - 1, n as usize, i)).collect();
    assert_eq!(seen, progress);
    assert_eq!((r.summary.total, r.summary.restore, r.summary.problems), (n as usize, n as usize - 3, 3));
    assert!(r.unchecked.is_empty() && r.stopped.is_none());

    // An up that fails stops verifying there, in the first part or the second.
    for stop in [10, 40] {
        pair(&t, stop, &format!("t{stop}"), "CREATE TABLE t1 (id INT);", "SELECT 1;");
        let r = verify(&t).await;
        assert_eq!(r.checked.len(), stop as usize, "{stop}");
        assert_eq!(outcomes(&r).last().unwrap(), &(stop, "fails Up".to_string()));
        assert_eq!(r.unchecked.len(), (n - stop) as usize);
        assert_eq!(
            r.unchecked.first().map(String::as_str),
            Some(format!("{}_t{}.up.sql", stop + 1, stop + 1).as_str())
        );
        assert_eq!(r.summary.unchecked, (n - stop) as usize);
        assert!(r.stopped.is_some());
        pair(
            &t,
            stop,
            &format!("t{stop}"),
            &format!("CREATE TABLE t{stop} (id INT);"),
            &format!("DROP TABLE t{stop};"),
        );
    }
}

/// `diff --to-schema`: the schema a file describes beside what the migrations make, each built on
/// a scratch database. The same schema reads as the same; a column and an index apart are named;
/// a file that does not load is refused; no scratch database is left.
async fn a_schema_file_is_compared_with_what_the_migrations_make(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(&t, 1, "todos", "CREATE TABLE todos (id INT PRIMARY KEY, title VARCHAR(200) NOT NULL);", "DROP TABLE todos;");
    let drop = if d == Dialect::MySql { "DROP INDEX todos_title ON todos;" } else { "DROP INDEX todos_title;" };
    pair(&t, 2, "index", "CREATE INDEX todos_title ON todos (title);", drop);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.sql");
    let (s, cancel) = (t.session(), Cancel::default());
    let to_schema = |body: &str| {
        std::fs::write(&file, body).unwrap();
        godwit::ops::to_schema(&s, &file, &cancel)
    };
    let same = to_schema(
        "CREATE TABLE todos (id INT PRIMARY KEY, title VARCHAR(200) NOT NULL);\nCREATE INDEX todos_title ON todos (title);\n",
    )
    .await
    .unwrap();
    assert!(same.changes.is_empty(), "{:?}", same.changes);
    let apart =
        to_schema("CREATE TABLE todos (id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, done INT);\n").await.unwrap();
    let index = if d == Dialect::Postgres { "todos_title" } else { "todos.todos_title" };
    let named: Vec<(String, String)> =
        apart.changes.iter().map(|c| (c.kind.as_str().to_string(), c.name.clone())).collect();
    assert_eq!(named, [("table".to_string(), "todos".to_string()), ("index".to_string(), index.to_string())]);
    assert!(apart.changes[0].after.as_deref().is_some_and(|a| a.contains("done")));
    assert!(apart.changes[1].after.is_none(), "the index is only what the migrations make");
    let e = to_schema("CREATE TABLE todos (id INT PRIMARY KEY,;\n").await.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::Input);
    assert!(e.message.contains("schema.sql"), "{}", e.message);
    if d == Dialect::Postgres {
        let left = format!(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'godwit\\_scratch\\_{}\\_%'",
            std::process::id()
        );
        assert!(t.strings(&left).await.is_empty(), "no scratch database is left");
    }
}

/// `godwit diff --to-schema FILE` exits 0 when the migrations make FILE's schema, 1 when they do
/// not (naming the object), 2 for a file that is not there.
#[tokio::test]
async fn diff_to_schema_exits_as_ci_needs() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "todos", "CREATE TABLE todos (id INTEGER PRIMARY KEY);", "DROP TABLE todos;");
    let run = |file: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(["--url", &t.url, "--source", "migrations", "diff", "--to-schema", file])
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    std::fs::write(t.dir.path().join("same.sql"), "CREATE TABLE todos (id INTEGER PRIMARY KEY);\n").unwrap();
    std::fs::write(t.dir.path().join("more.sql"), "CREATE TABLE todos (id INTEGER PRIMARY KEY, done INTEGER);\n")
        .unwrap();
    assert_eq!(run("same.sql").0, Some(0));
    let (code, out) = run("more.sql");
    assert_eq!(code, Some(1));
    assert!(out.contains("+ done INTEGER"), "{out}");
    assert_eq!(run("missing.sql").0, Some(2));
}
