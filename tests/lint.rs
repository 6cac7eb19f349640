//! `godwit lint` as CI and people run it: the pending set on real databases, the transaction
//! context, silencing, project settings, unreadable SQL, and the JSON and SARIF outputs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::TestDb;
use godwit::db::Dialect;
use serde_json::Value;

struct Out {
    code: i32,
    json: Value,
    stderr: String,
}

fn godwit(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        json: serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

fn lint(t: &TestDb, extra: &[&str]) -> Out {
    let mut args = vec!["--url", t.url.as_str(), "--source", "migrations", "lint", "--json"];
    args.extend(extra);
    godwit(t.dir.path(), &args)
}

/// `(rule, file name, line)` of each finding.
fn found(o: &Out) -> Vec<(String, String, u64)> {
    o.json["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {}; stderr: {}", o.json, o.stderr))
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            let name = Path::new(file).file_name().unwrap().to_string_lossy().into_owned();
            (f["rule"].as_str().unwrap().to_string(), name, f["line"].as_u64().unwrap())
        })
        .collect()
}

fn rules_of(o: &Out) -> Vec<String> {
    found(o).into_iter().map(|(r, _, _)| r).collect()
}

#[tokio::test]
async fn a_table_made_earlier_in_the_pending_set_is_new_and_one_applied_is_not() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_users.up.sql", "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT);\n");
    t.write("1_users.down.sql", "DROP TABLE users;\n");
    t.write(
        "2_orders.up.sql",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT);\n\
         ALTER TABLE orders ADD COLUMN total NUMERIC NOT NULL;\n\
         CREATE INDEX users_email ON users (email);\n",
    );
    t.write("2_orders.down.sql", "DROP INDEX users_email;\nDROP TABLE orders;\n");

    // Both pending: users is new, so indexing it blocks no one; orders is made in the same file.
    let o = lint(&t, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(found(&o).iter().all(|(r, _, _)| r != "require-concurrent-index-creation" && r != "adding-required-field"));

    // Once users is applied it is in use: the index on it blocks writes; orders is still new.
    let up = godwit(t.dir.path(), &["--url", &t.url, "--source", "migrations", "up", "--to", "1"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let o = lint(&t, &[]);
    let f = found(&o);
    assert!(f.contains(&("require-concurrent-index-creation".into(), "2_orders.up.sql".into(), 3)), "{f:?}");
    assert!(!f.iter().any(|(r, _, _)| r == "adding-required-field"), "{f:?}");
    assert!(!f.iter().any(|(_, file, _)| file.starts_with("1_")), "applied files are not linted: {f:?}");

    // --all reads the folder without the database: users is made by an earlier file, so new again.
    let o = lint(&t, &["--all"]);
    assert!(!rules_of(&o).contains(&"require-concurrent-index-creation".to_string()));
    // From version 2 on (CI on a branch), the older files' tables exist.
    let o = lint(&t, &["--all", "--from", "2"]);
    assert!(found(&o).contains(&("require-concurrent-index-creation".into(), "2_orders.up.sql".into(), 3)));
    // --dialect is for reading without a database; the pending set is read as the environment's.
    assert_eq!(lint(&t, &["--dialect", "mysql"]).code, 2);
}

#[tokio::test]
async fn concurrently_is_an_error_in_a_transaction_and_fine_without_one() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_users.sql", "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT);\n");
    t.write("2_index.sql", "CREATE INDEX CONCURRENTLY users_email ON users (email);\n");
    let o = lint(&t, &["--all"]);
    assert_eq!(o.code, 1, "an error-level finding fails the run");
    assert!(found(&o).contains(&("ban-concurrent-index-creation-in-transaction".into(), "2_index.sql".into(), 1)));

    t.write("2_index.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n");
    let o = lint(&t, &["--all"]);
    assert_eq!(o.code, 0, "{}", o.json);
    assert!(!rules_of(&o).contains(&"ban-concurrent-index-creation-in-transaction".to_string()));
    // And it really runs that way.
    let up = godwit(t.dir.path(), &["--url", &t.url, "--source", "migrations", "up"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
}

#[tokio::test]
async fn mariadb_pending_alters_on_an_applied_table() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write("1_a.up.sql", "CREATE TABLE a (id INT PRIMARY KEY, n INT);\n");
    t.write("1_a.down.sql", "DROP TABLE a;\n");
    t.write("2_b.up.sql", "ALTER TABLE a MODIFY COLUMN n BIGINT;\n");
    t.write("2_b.down.sql", "ALTER TABLE a MODIFY COLUMN n INT;\n");
    assert!(!rules_of(&lint(&t, &[])).contains(&"changing-column-type".to_string()), "a is new while 1 is pending");
    let up = godwit(t.dir.path(), &["--url", &t.url, "--source", "migrations", "up", "--to", "1"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(found(&lint(&t, &[])).contains(&("changing-column-type".into(), "2_b.up.sql".into(), 1)));
}

#[test]
fn ignore_comments_and_project_settings_silence_and_reweigh() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(
        dir.path().join("godwit.toml"),
        "id = \"lint\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n[lint]\noff = [\"mysql-ddl-not-transactional\"]\n\
         severity = { ban-drop-table = \"error\" }\n",
    )
    .unwrap();
    std::fs::write(
        m.join("1_a.sql"),
        "-- godwit:lint-ignore ban-drop-column the column was never read\nALTER TABLE a DROP COLUMN b;\n\
         ALTER TABLE a DROP COLUMN c;\nDROP TABLE old;\n",
    )
    .unwrap();
    let o = godwit(dir.path(), &["lint", "--all", "--json"]);
    let f = found(&o);
    assert!(!f.contains(&("ban-drop-column".into(), "1_a.sql".into(), 2)), "silenced on its statement: {f:?}");
    assert!(f.contains(&("ban-drop-column".into(), "1_a.sql".into(), 3)), "{f:?}");
    let drop = o.json["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "ban-drop-table").unwrap();
    assert_eq!(drop["severity"], "error", "reweighed by [lint]");
    assert_eq!(o.code, 1);
    // MySQL's rule is off in the project.
    let o = godwit(dir.path(), &["lint", "--all", "--json", "--dialect", "mysql"]);
    assert!(!rules_of(&o).contains(&"mysql-ddl-not-transactional".to_string()));

    // A rule name the project misspells is refused, not ignored.
    std::fs::write(dir.path().join("godwit.toml"), "id = \"lint\"\n[lint]\noff = [\"ban-drop-tabel\"]\n").unwrap();
    let o = godwit(dir.path(), &["lint", "--all", "--dialect", "sqlite"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn files_it_cannot_read_are_findings_and_sarif_places_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.sql"), "CREATE TABEL a (id INT);\nALTER TABLE b ALTER COLUMN c TYPE TEXT;\n")
        .unwrap();
    std::fs::write(dir.path().join("b.sql"), "SELECT 'never closed;\n").unwrap();
    let o = godwit(dir.path(), &["lint", "a.sql", "b.sql", "--dialect", "sqlite", "--json"]);
    let f = found(&o);
    assert!(f.contains(&("unparseable".into(), "a.sql".into(), 1)), "{f:?}");
    assert!(f.contains(&("sqlite-unsupported-alter".into(), "a.sql".into(), 2)), "{f:?}");
    assert!(f.contains(&("unsplittable".into(), "b.sql".into(), 1)), "{f:?}");
    // Not even `all` at the top of the file silences it: the file was not linted at all.
    std::fs::write(dir.path().join("c.sql"), "-- godwit:lint-ignore all\n\nDROP TABLE users;\nSELECT 'never closed;\n")
        .unwrap();
    let o = godwit(dir.path(), &["lint", "c.sql", "--dialect", "sqlite", "--json"]);
    assert!(found(&o).contains(&("unsplittable".into(), "c.sql".into(), 4)), "{:?}", found(&o));
    assert_eq!(o.code, 1);

    let o = godwit(dir.path(), &["lint", "a.sql", "--dialect", "sqlite", "--format", "sarif"]);
    assert_eq!(o.json["version"], "2.1.0");
    let results = o.json["runs"][0]["results"].as_array().unwrap();
    let alter = results.iter().find(|r| r["ruleId"] == "sqlite-unsupported-alter").unwrap();
    assert_eq!(alter["level"], "error");
    assert_eq!(alter["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
    assert_eq!(alter["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "a.sql");
    let rules = o.json["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    let index = alter["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "sqlite-unsupported-alter");

    // The OASIS SARIF 2.1.0 schema (tests/data, as the serde-sarif crate ships it) accepts it.
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&o.json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // And it is strict enough to fail a document that is not SARIF.
    let mut broken = o.json.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

/// On a real SQLite file: what the SQLite rules call errors, SQLite refuses; the near cases run.
#[test]
fn what_sqlite_rules_call_errors_sqlite_refuses_and_the_near_cases_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(dir.path().join("godwit.toml"), "id = \"lint-sqlite\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n")
        .unwrap();
    std::fs::write(
        m.join("1_a.sql"),
        "CREATE TABLE a (id INTEGER PRIMARY KEY, b TEXT);\nINSERT INTO a (b) VALUES ('x');\n",
    )
    .unwrap();
    assert_eq!(godwit(dir.path(), &["up"]).code, 0);
    let cases = [
        (
            "ALTER TABLE a ADD COLUMN c TEXT NOT NULL;",
            "adding-required-field",
            "ALTER TABLE a ADD COLUMN c TEXT NOT NULL DEFAULT '';",
        ),
        ("ALTER TABLE a ADD COLUMN d TEXT UNIQUE;", "sqlite-unsupported-alter", "ALTER TABLE a ADD COLUMN d TEXT;"),
        (
            "ALTER TABLE a ALTER COLUMN b SET NOT NULL;",
            "sqlite-unsupported-alter",
            "ALTER TABLE a RENAME COLUMN b TO e;",
        ),
    ];
    for (i, (bad, rule, near)) in cases.iter().enumerate() {
        std::fs::write(m.join("9_bad.sql"), bad).unwrap();
        let o = godwit(dir.path(), &["lint", "--json"]);
        let f = o.json["findings"].as_array().unwrap();
        assert!(f.iter().any(|f| f["rule"] == *rule && f["severity"] == "error"), "{bad}: {f:?}");
        assert_eq!(godwit(dir.path(), &["up"]).code, 1, "SQLite refuses {bad}");
        std::fs::remove_file(m.join("9_bad.sql")).unwrap();

        let near_file = format!("{}_near.sql", i + 2);
        std::fs::write(m.join(&near_file), near).unwrap();
        let o = godwit(dir.path(), &["lint", "--json"]);
        assert!(!rules_of(&o).contains(&rule.to_string()), "{near}: {}", o.json);
        assert_eq!(godwit(dir.path(), &["up"]).code, 0, "SQLite runs {near}");
    }
}

/// On real PostgreSQL: CONCURRENTLY in a transactional file is an error because it fails there.
#[tokio::test]
async fn postgres_refuses_concurrently_where_lint_says_it_will() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_users.sql", "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT);\n");
    t.write("2_index.sql", "CREATE INDEX CONCURRENTLY users_email ON users (email);\n");
    assert!(rules_of(&lint(&t, &[])).contains(&"ban-concurrent-index-creation-in-transaction".to_string()));
    let up = godwit(t.dir.path(), &["--url", &t.url, "--source", "migrations", "up"]);
    assert_eq!(up.code, 1, "{}", up.stderr);
}
