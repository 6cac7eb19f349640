//! Every built-in template, rendered for every database, applied to the real database, rolled back:
//! the down leaves the schema exactly as before the up, and re-applying gives the first up's schema.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::TestDb;
use godwit::db::Dialect;
use godwit::migration::new::{self, NewMigration};
use godwit::migration::plan::DownTarget;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use godwit::template;

const FIXTURE: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100));\n\
                       CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT, title VARCHAR(200));\n\
                       CREATE TABLE comments (id BIGINT PRIMARY KEY, post_id BIGINT, \
                       FOREIGN KEY (post_id) REFERENCES posts (id));\n\
                       CREATE TABLE pairs (a BIGINT, b BIGINT, PRIMARY KEY (a, b));\n\
                       CREATE TABLE pair_refs (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT, x BIGINT, \
                       CONSTRAINT pair_refs_pair FOREIGN KEY (a, b) REFERENCES pairs (a, b));\n\
                       CREATE INDEX pair_refs_a ON pair_refs (a);\n";

fn cases() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "create_table",
            vec![
                ("table", "todos"),
                (
                    "columns",
                    "id id, title string not null, status string not null default 'new', user_id bigint references users(id) on delete cascade",
                ),
                ("timestamps", "true"),
            ],
        ),
        ("add_column", vec![("table", "users"), ("column", "email"), ("type", "string")]),
        (
            "add_column",
            vec![
                ("table", "users"),
                ("column", "active"),
                ("type", "boolean"),
                ("nullable", "false"),
                ("default", "true"),
            ],
        ),
        ("add_index", vec![("table", "users"), ("columns", "name"), ("unique", "true")]),
        ("add_index", vec![("table", "posts"), ("columns", "user_id, title"), ("concurrently", "true")]),
        // MySQL drops the index it made for the foreign key once this one can serve it.
        ("add_index", vec![("table", "comments"), ("columns", "post_id")]),
        ("add_index", vec![("table", "comments"), ("columns", "post_id, id"), ("unique", "true")]),
        // A key on two columns, which an index on its first one alone cannot serve.
        ("add_index", vec![("table", "pair_refs"), ("columns", "a, b, x")]),
        ("rename_column", vec![("table", "posts"), ("from", "title"), ("to", "headline")]),
        ("rename_table", vec![("from", "posts"), ("to", "articles")]),
        (
            "add_foreign_key",
            vec![("table", "posts"), ("columns", "user_id"), ("references", "users"), ("on_delete", "cascade")],
        ),
        ("raw", vec![]),
    ]
}

async fn apply_all(t: &TestDb, db: &mut dyn godwit::db::Database) {
    let source = Source::load(&t.migrations()).unwrap();
    runner::up(db, &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap().into_result().unwrap();
}

async fn down_one(t: &TestDb, db: &mut dyn godwit::db::Database) {
    let source = Source::load(&t.migrations()).unwrap();
    runner::down(db, &source, DownTarget::Steps(1), &RunOptions::default(), &mut |_| {})
        .await
        .unwrap()
        .into_result()
        .unwrap();
}

async fn every_builtin_round_trips(d: Dialect) {
    for (i, (name, params)) in cases().into_iter().enumerate() {
        let t = TestDb::new(d).await;
        t.write("1_fixture.up.sql", FIXTURE);
        t.write(
            "1_fixture.down.sql",
            "DROP TABLE pair_refs;\nDROP TABLE pairs;\nDROP TABLE comments;\nDROP TABLE posts;\nDROP TABLE users;\n",
        );
        let values: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let rendered = match template::render(name, &values, d, None) {
            Ok(r) => r,
            Err(e) if d == Dialect::Sqlite && name == "add_foreign_key" => {
                assert!(e.message.contains("SQLite cannot add a foreign key"), "{}", e.message);
                continue;
            }
            Err(e) => panic!("{name} on {d:?}: {}", e.message),
        };
        let spec = NewMigration {
            name: format!("case_{i}_{name}"),
            reversible: true,
            up: rendered.up.clone(),
            down: rendered.down.clone().unwrap(),
            no_transaction: rendered.no_transaction,
            // `raw` is the empty pair to fill in.
            allow_empty: name == "raw",
            versioning: None,
            own_downs: Vec::new(),
        };
        new::create(&t.migrations(), &spec, chrono::Utc::now()).unwrap();
        let mut db = t.connect().await;
        let source = Source::load(&t.migrations()).unwrap();
        runner::up(db.as_mut(), &source, Some(1), &RunOptions::default(), &mut |_| {})
            .await
            .unwrap()
            .into_result()
            .unwrap();
        let before = t.schema().await;
        apply_all(&t, db.as_mut()).await;
        let after_up = t.schema().await;
        if name == "raw" {
            assert_eq!(after_up, before);
        } else {
            assert_ne!(after_up, before, "{name} on {d:?} changed nothing:\n{}", rendered.up);
        }
        down_one(&t, db.as_mut()).await;
        assert_eq!(
            t.schema().await,
            before,
            "{name} on {d:?}: the down did not restore the schema\nup:\n{}\ndown:\n{}",
            rendered.up,
            rendered.down.unwrap()
        );
        apply_all(&t, db.as_mut()).await;
        let mut again = t.schema().await;
        // The down put back the foreign key's index as one made by hand, which MySQL keeps.
        let kept: &[&str] = match params.iter().find(|(k, _)| *k == "table") {
            Some((_, "comments")) => &["index comments post_id 1 1 post_id"],
            Some((_, "pair_refs")) => &["index pair_refs pair_refs_pair 1 1 a", "index pair_refs pair_refs_pair 1 2 b"],
            _ => &[],
        };
        if d == Dialect::MySql && !kept.is_empty() {
            assert!(kept.iter().all(|k| again.iter().any(|l| l == k)), "{again:?}");
            again.retain(|l| !kept.contains(&l.as_str()));
        }
        assert_eq!(again, after_up, "{name} on {d:?}: re-applying differs from the first up");
        db.close().await;
    }
}

on_each_db!(every_builtin_round_trips);

#[tokio::test]
async fn a_project_template_through_the_cli() {
    let t = TestDb::new(Dialect::Postgres).await;
    let root = t.dir.path();
    std::fs::write(root.join("godwit.toml"), format!("[env.pg]\nurl = \"{}\"\n", t.url)).unwrap();
    std::fs::create_dir(root.join("templates")).unwrap();
    std::fs::write(
        root.join("templates/audit.up.sql"),
        "CREATE TABLE {{ (table ~ '_audit') | ident }} (\n    id BIGINT,\n    changed_at {% if dialect == 'postgres' %}TIMESTAMPTZ{% else %}TIMESTAMP{% endif %}\n);\n",
    )
    .unwrap();
    std::fs::write(root.join("templates/audit.down.sql"), "DROP TABLE {{ (table ~ '_audit') | ident }};\n").unwrap();
    std::fs::write(
        root.join("templates/audit.toml"),
        "description = \"An audit table\"\n[[params]]\nname = \"table\"\nlabel = \"Audited table\"\nkind = \"identifier\"\n",
    )
    .unwrap();
    let godwit =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(root).args(args).output().unwrap();

    let o = godwit(&["templates", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let audit = all["templates"].as_array().unwrap().iter().find(|t| t["name"] == "audit").unwrap();
    assert_eq!(audit["origin"], "project");
    assert_eq!(audit["params"][0]["label"], "Audited table");
    assert_eq!(audit["params"][0]["kind"], "identifier");

    // A parameter left out: the command to paste gives it.
    let o = godwit(&["new", "audit_orders", "--template", "audit"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let printed: Vec<&str> = stderr.split('`').skip(1).step_by(2).filter(|c| c.starts_with("godwit ")).collect();
    assert_eq!(printed, ["godwit new audit_orders --template audit --param table=VALUE"], "{stderr}");
    let o = godwit(&["new", "audit_orders", "--template", "audit", "--param", "table=order"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = godwit(&["up"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.tables().await, vec!["order_audit"]);
    assert!(godwit(&["down"]).status.success());
    assert!(t.tables().await.is_empty());

    // A template that uses an undeclared parameter: the file, the line and the name.
    std::fs::write(root.join("templates/audit.down.sql"), "-- undo\nDROP TABLE {{ tabel }}_audit;\n").unwrap();
    let o = godwit(&["new", "again", "--template", "audit", "--param", "table=x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("audit.down.sql line 2") && err.contains("`tabel`"), "{err}");
    // A syntax error: the file and the line.
    std::fs::write(root.join("templates/audit.down.sql"), "-- undo\n\nDROP TABLE {{ table }_audit;\n").unwrap();
    let o = godwit(&["templates"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("audit.down.sql line 3"), "{err}");
    // A missing parameter value.
    std::fs::write(root.join("templates/audit.down.sql"), "DROP TABLE {{ table }}_audit;\n").unwrap();
    let o = godwit(&["new", "again", "--template", "audit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs `table` (Audited table)"));
    assert_eq!(std::fs::read_dir(t.migrations()).unwrap().count(), 2, "no file written by the failures");
}
