//! The `godwit` binary as scripts and people use it: output, messages and the contract's exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Out, TestDb, output};
use godwit::db::Dialect;
use serde_json::json;

fn godwit(dir: &Path, url: &str, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(dir)
        .args(["--url", url, "--source", "migrations", "--connect-timeout", "3"])
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

fn run(t: &TestDb, args: &[&str]) -> Out {
    godwit(t.dir.path(), &t.url, args)
}

/// `run`, with an error written as JSON (`Out::problem`).
fn run_json(t: &TestDb, args: &[&str]) -> Out {
    godwit(t.dir.path(), &t.url, &[&["--errors", "json"], args].concat())
}

/// The commands an error printed as remedies (between backticks, starting with `godwit`).
fn printed_commands(stderr: &str) -> Vec<String> {
    stderr.split('`').skip(1).step_by(2).filter(|c| c.starts_with("godwit ")).map(str::to_string).collect()
}

/// PATH with the built `godwit` first, as a person who installed it has it.
fn path_with_godwit() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_godwit")).parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A printed command, pasted into a shell in `dir` (no terminal), as a person runs it.
fn paste_in(dir: &Path, command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command).current_dir(dir).env("PATH", path_with_godwit());
    c
}

fn pair(t: &TestDb, v: i64, name: &str, up: &str, down: &str) {
    t.write(&format!("{v}_{name}.up.sql"), up);
    t.write(&format!("{v}_{name}.down.sql"), down);
}

#[tokio::test]
async fn bad_files_are_refused_with_exit_2_and_nothing_applied() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    t.write("x_bad_name.sql", "SELECT 1;");
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "{}", o.stderr);
    // Each file named, with what to do, once.
    assert!(o.stderr.contains("x_bad_name.sql") && o.stderr.contains("Rename it"), "{}", o.stderr);
    std::fs::remove_file(t.migrations().join("x_bad_name.sql")).unwrap();

    t.write("1_other.sql", "SELECT 1;");
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "a version used twice: {}", o.stderr);
    std::fs::remove_file(t.migrations().join("1_other.sql")).unwrap();

    t.write("2_open.up.sql", "INSERT INTO a VALUES (1);\nSELECT 'never closed;\n");
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "a string never closed: {}", o.stderr);
    assert!(!t.sqlite_path().exists() || t.history().await.is_empty(), "nothing applied");
    // Its dry run says the same instead of that it would run.
    let o = run_json(&t, &["up", "--dry-run"]);
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "{}", o.stdout);
}

#[tokio::test]
async fn failing_migration_exits_1_with_the_line() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    pair(
        &t,
        2,
        "b",
        "-- header\n\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES ('not a number');\n",
        "DELETE FROM a;",
    );
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("2_b.up.sql (line 4, column 23)"), "{}", o.stderr);
    assert!(o.stderr.contains("invalid input syntax for type integer"), "{}", o.stderr);
    assert!(o.stderr.contains("1 of 2 migration(s) applied"), "{}", o.stderr);
    assert_eq!(t.history().await, vec!["1:true"]);
    assert_eq!(t.strings("SELECT count(*)::text FROM a").await, vec!["0"]);
    let o = run(&t, &["history"]);
    assert!(o.stdout.contains("apply      failed"), "{}", o.stdout);
}

#[tokio::test]
async fn drift_is_refused_then_repaired() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    t.write("1_a.up.sql", "CREATE TABLE a (id INTEGER); -- reformatted");
    pair(&t, 2, "b", "CREATE TABLE b (id INTEGER);", "DROP TABLE b;");
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem()), (6, Some(json!({"problem": "drift", "version": 1}))), "{}", o.stderr);
    let doc = o.problem_doc();
    assert_eq!((&doc["kind"], &doc["remedies"]), (&json!("decision"), &json!([{"remedy": "repair", "version": 1}])));
    assert_eq!(printed_commands(doc["advice"][0].as_str().unwrap()).len(), 1, "the command, as text mode prints it");
    assert_eq!(t.tables().await, vec!["a"]);
    let o = run(&t, &["check"]);
    assert_eq!(o.code, 1);
    assert!(printed_commands(&o.stdout).iter().any(|c| c.ends_with(" repair 1")), "{}", o.stdout);
    let o = run(&t, &["repair", "1", "--reason", "comment only"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(run(&t, &["up"]).code, 0);
    assert_eq!(t.tables().await, vec!["a", "b"]);
    let o = run(&t, &["history"]);
    assert!(o.stdout.contains("repair") && o.stdout.contains("reason: comment only"), "{}", o.stdout);
    assert_eq!(run(&t, &["repair", "1", "--reason", "again"]).code, 2, "nothing left to repair");
    // Its page does not say the file is what ran: a repair accepted it.
    let v = run_json(&t, &["show", "1", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    assert_eq!(doc["file_state"], "repaired", "{doc}");
}

#[tokio::test]
async fn missing_files_and_down_files() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    t.write("2_b.up.sql", "CREATE TABLE b (id INTEGER);");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run_json(&t, &["down"]);
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "{}", o.stderr);
    assert_eq!(t.tables().await, vec!["a", "b"]);
    std::fs::remove_file(t.migrations().join("2_b.up.sql")).unwrap();
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem()), (6, Some(json!({"problem": "missing_file", "version": 2}))), "{}", o.stderr);
    let o = run(&t, &["status"]);
    assert!(o.stdout.contains("missing") && o.stdout.contains("file missing"), "{}", o.stdout);
    // Removed on purpose: the person says so, with the command the refusal printed, and the history
    // forgets it.
    let o = run(&t, &["up"]);
    let resolve = printed_commands(&o.stderr).pop().unwrap();
    assert!(resolve.ends_with(" resolve 2 --rolled-back"), "{}", o.stderr);
    let pasted = paste_in(t.dir.path(), &resolve).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stderr));
    assert!(String::from_utf8_lossy(&pasted.stdout).contains("its file is gone, so nothing runs it again"));
    assert_eq!(t.history().await, vec!["1:true"]);
    assert_eq!(run(&t, &["up"]).code, 0);
}

#[tokio::test]
async fn database_errors_are_the_users_own_and_sqlx_stays_quiet() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);\n\nSELEC * FROM a;\n", "DROP TABLE a;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("1_a.up.sql (line 3, column 1)"), "{}", o.stderr);
    assert!(o.stderr.contains("near 'SELEC * FROM a;'"), "{}", o.stderr);
    assert!(!o.stderr.contains("_sqlx_migrations"), "bookkeeping SQL leaked into the message: {}", o.stderr);
    assert!(o.stderr.contains("DDL commits itself on MySQL/MariaDB"), "{}", o.stderr);

    // A slow migration: sqlx would log the whole batch at WARN.
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "slow", "SELECT pg_sleep(1.1);", "");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("sqlx") && !o.stderr.contains("WARN"), "{}", o.stderr);
}

#[tokio::test]
async fn mariadb_part_way_failure_then_resolve() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);\nCREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 1);
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 6, "refuses to go on: {}", o.stderr);
    assert_eq!(run_json(&t, &["up"]).problem(), Some(json!({"problem": "dirty", "version": 1})));
    // Its file fixed before it is resolved: not "edited after it was applied" (it never was).
    pair(&t, 1, "a", "DROP TABLE IF EXISTS a;\nCREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let c = run(&t, &["check", "--json"]);
    let kinds: Vec<String> = serde_json::from_str::<serde_json::Value>(&c.stdout).unwrap()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["failed"], "{}", c.stdout);
    // The person drops the half-made table and fixes the file, then says so with the second command
    // the error printed, pasted as printed.
    t.strings("DROP TABLE a").await;
    let pasted = printed_commands(&o.stderr);
    assert!(pasted[1].ends_with(" resolve 1 --rolled-back"), "{pasted:?}");
    let o = paste_in(t.dir.path(), &pasted[1]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    pair(&t, 1, "a", "DROP TABLE IF EXISTS a;\nCREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(t.history().await, vec!["1:true"]);
    assert!(t.log().await.contains(&"resolve:ok:1".to_string()));
}

/// A down the database refuses (changing nothing) names the down file that database ran, its own
/// where the project keeps one, and the command that rolls back again once it is fixed.
#[tokio::test]
async fn a_refused_down_names_its_file_and_the_way_on() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    pair(&t, 2, "b", "CREATE TABLE b (id INTEGER);", "DROP TABLE b;");
    std::fs::create_dir(t.migrations().join("postgres")).unwrap();
    t.write("postgres/1_a.down.sql", "DROP TABLE nowhere;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["down", "--to", "0"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "Fix postgres/1_a.down.sql, then roll back again: `{}` (the 1 migration(s) rolled back before it stay rolled back)"
                .replace("{}", printed_commands(&o.stderr).last().unwrap())
                .as_str()
        ),
        "{}",
        o.stderr
    );
    let again = printed_commands(&o.stderr).pop().unwrap();
    assert!(again.ends_with(" down"), "{again}");
    t.write("postgres/1_a.down.sql", "DROP TABLE a;");
    let pasted = paste_in(t.dir.path(), &again).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stderr));
    assert!(t.tables().await.iter().all(|n| n != "a" && n != "b"), "{:?}", t.tables().await);
}

/// The command printed after a refused down rolls back what the run had left to roll back (not one
/// step, nor everything), and after a refused redo it redoes.
#[tokio::test]
async fn a_refused_down_is_taken_up_where_it_stopped() {
    let t = TestDb::new(Dialect::Postgres).await;
    for (v, n) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        pair(&t, v, n, &format!("CREATE TABLE {n} (id INTEGER);"), &format!("DROP TABLE {n};"));
    }
    assert_eq!(run(&t, &["up"]).code, 0);
    t.write("3_c.down.sql", "DROP TABLE nowhere;");
    let o = run(&t, &["down", "--steps", "3"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let again = printed_commands(&o.stderr).pop().unwrap();
    assert!(again.ends_with(" down --steps 2"), "{again}");
    t.write("3_c.down.sql", "DROP TABLE c;");
    let pasted = paste_in(t.dir.path(), &again).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stderr));
    assert_eq!(t.history().await, vec!["1:true"]);

    assert_eq!(run(&t, &["up"]).code, 0);
    t.write("4_d.down.sql", "DROP TABLE nowhere;");
    let o = run(&t, &["redo"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let again = printed_commands(&o.stderr).pop().unwrap();
    assert!(again.ends_with(" redo"), "{again}");
    t.write("4_d.down.sql", "DROP TABLE d;");
    let pasted = paste_in(t.dir.path(), &again).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stderr));
    assert_eq!(t.history().await.len(), 4);
    assert!(t.log().await.contains(&"rollback:ok:4".to_string()), "{:?}", t.log().await);
}

/// On MariaDB, a down whose statements before the failing one only set variables and prepare it
/// (as add_index's down does) changed nothing: it is not marked failed part way.
#[tokio::test]
async fn mariadb_failure_after_only_prepared_statements_changed_nothing() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(
        &t,
        1,
        "a",
        "CREATE TABLE a (id INTEGER);",
        "SET @godwit_x = (SELECT 1);\nPREPARE s FROM 'DROP TABLE nowhere';\nEXECUTE s;\nDEALLOCATE PREPARE s;",
    );
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["down"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("changed nothing") && !o.stderr.contains("part way"), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["status", "--json"]).stdout).unwrap();
    assert_eq!(v["migrations"][0]["state"], json!("applied"), "{v}");
}

/// A down that fails part way on MariaDB: status, check and the next run say it was the rollback,
/// and name the down file.
#[tokio::test]
async fn mariadb_part_way_rollback_names_the_down() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(
        &t,
        1,
        "two",
        "CREATE TABLE a1 (id INTEGER);\nCREATE TABLE a2 (id INTEGER);",
        "DROP TABLE a2;\nDROP TABLE a1;",
    );
    // MariaDB's own down is the one that runs, and the one named.
    std::fs::create_dir(t.migrations().join("mysql")).unwrap();
    t.write("mysql/1_two.down.sql", "DROP TABLE a2;\nDROP TABLEX a1;");
    assert_eq!(run(&t, &["up"]).code, 0);
    assert_eq!(run(&t, &["down"]).code, 1);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["status", "--json"]).stdout).unwrap();
    assert_eq!((&v["migrations"][0]["state"], &v["migrations"][0]["failed_in_down"]), (&json!("failed"), &json!(true)));
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["check", "--json"]).stdout).unwrap();
    assert_eq!(v["findings"][0]["files"], json!(["mysql/1_two.down.sql"]), "{v}");
    let o = run_json(&t, &["down"]);
    assert_eq!(o.problem(), Some(json!({"problem": "dirty", "version": 1})));
    // "Finished" is the rollback: marked rolled back; applied is for putting back what it removed.
    let remedy = &o.problem_doc()["remedies"][0];
    assert_eq!((&remedy["in_down"], &remedy["outcomes"][0]), (&json!(true), &json!("rolled_back")), "{remedy}");
    assert!(o.problem_doc()["message"].as_str().unwrap().contains("mysql/1_two.down.sql"), "{}", o.stderr);
    // A failed up is still the up's.
    pair(&t, 2, "bad", "CREATE TABLE b (id INTEGER);\nCREATE TABLEX c (id INTEGER);", "DROP TABLE b;");
    t.strings("DROP TABLE IF EXISTS a1").await;
    // The schema bears the word out: what is left is what the migrations make without it.
    let o = run(&t, &["resolve", "1", "--rolled-back"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // History says it was the rollback that was finished by hand.
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["history", "--json"]).stdout).unwrap();
    assert_eq!(v["events"][0]["detail"], json!("rollback finished by hand: marked rolled back"), "{v}");
    assert_eq!(run(&t, &["up"]).code, 1);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["status", "--json"]).stdout).unwrap();
    let bad = v["migrations"].as_array().unwrap().iter().find(|m| m["version"] == 2).unwrap().clone();
    assert_eq!((&bad["state"], &bad["failed_in_down"]), (&json!("failed"), &json!(false)), "{v}");
}

/// `resolve` compares the person's word with the schema (trial 12: "rolled back" said of a
/// migration whose first statement's index was still there left every check clean, and the next
/// run failed on it). A word the schema does not bear out marks nothing and names what differs;
/// where the schema is what the other word makes, that one is offered; a hand change that is not
/// the migration's does not stand in the way; `--unchecked` takes the word alone.
#[tokio::test]
async fn resolve_is_compared_with_the_schema() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "t", "CREATE TABLE t (id int, email text);", "DROP TABLE t;");
    // Outside a transaction, the second index fails on the rows (not on a scratch database).
    pair(
        &t,
        2,
        "idx",
        "-- no-transaction\nCREATE INDEX t_id ON t (id);\nCREATE UNIQUE INDEX t_email ON t (email);",
        "DROP INDEX t_email;\nDROP INDEX t_id;",
    );
    assert_eq!(run(&t, &["up", "--to", "1"]).code, 0);
    t.exec("INSERT INTO t VALUES (1, 'a'), (2, 'a')").await;
    t.exec("CREATE TABLE hand (id int)").await;
    assert_eq!(run(&t, &["up"]).code, 1);
    assert_eq!(t.history().await, ["1:true", "2:false"]);

    // Said undone, with t_id still there: refused, nothing marked.
    let o = run_json(&t, &["resolve", "2", "--rolled-back"]);
    assert_eq!(o.problem(), Some(json!({"problem": "not_as_resolved", "version": 2})), "{}", o.stderr);
    let unchecked = json!({"remedy": "resolve_unchecked", "version": 2, "outcome": "rolled_back", "in_down": false});
    assert_eq!(o.problem_doc()["remedies"], json!([unchecked]), "the other word does not hold either");
    let message = o.problem_doc()["message"].as_str().unwrap().to_string();
    assert!(message.contains("index t_id") && !message.contains("table hand"), "only its own objects: {message}");
    // Said finished, with t_email missing: refused too.
    let o = run_json(&t, &["resolve", "2", "--applied"]);
    assert_eq!(o.problem(), Some(json!({"problem": "not_as_resolved", "version": 2})), "{}", o.stderr);
    assert_eq!(t.history().await, ["1:true", "2:false"]);
    assert_eq!(t.log().await.iter().filter(|e| e.starts_with("resolve")).count(), 0);

    // Undone for real: marked, the hand-made table named as drift but no reason to refuse.
    t.exec("DROP INDEX t_id").await;
    let o = run(&t, &["resolve", "2", "--rolled-back"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("table hand"), "{}", o.stdout);
    assert_eq!(t.history().await, ["1:true"]);

    // Failed again, then finished by hand, and said undone: the other word is offered, and works
    // pasted as printed.
    assert_eq!(run(&t, &["up"]).code, 1);
    t.exec("DELETE FROM t WHERE id = 2").await;
    t.exec("CREATE UNIQUE INDEX t_email ON t (email)").await;
    let o = run(&t, &["resolve", "2", "--rolled-back"]);
    assert_eq!(o.code, 6, "{}", o.stderr);
    let pasted = printed_commands(&o.stderr);
    assert!(pasted[0].ends_with(" resolve 2 --applied"), "{pasted:?}");
    assert!(pasted[1].ends_with(" resolve 2 --rolled-back --unchecked"), "{pasted:?}");
    let done = output(&mut paste_in(t.dir.path(), &pasted[0]));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(t.history().await, ["1:true", "2:true"]);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["status", "--json"]).stdout).unwrap();
    assert_eq!(v["migrations"][1]["applied_by"], godwit::db::actor(), "who marked it applied: {v}");

    // On the person's word: marked with the leftovers there, and the compare it prints finds them.
    pair(&t, 3, "more", "-- no-transaction\nCREATE INDEX t_both ON t (id, email);\nSELECT 1/0;", "DROP INDEX t_both;");
    assert_eq!(run(&t, &["up"]).code, 1);
    let o = run(&t, &["resolve", "3", "--rolled-back"]);
    assert_eq!(o.code, 6, "{}", o.stderr);
    let unchecked = printed_commands(&o.stderr).pop().unwrap();
    let o = output(&mut paste_in(t.dir.path(), &unchecked));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(t.history().await, ["1:true", "2:true"]);
    assert!(o.stdout.contains("line 3 of 3_more.up.sql"), "rows are said on this path too: {}", o.stdout);
    let compare = printed_commands(&o.stdout).pop().expect(&o.stdout);
    let o = output(&mut paste_in(t.dir.path(), &compare));
    assert_eq!(o.code, 1, "the leftover index is drift: {}", o.stdout);
    assert!(o.stdout.contains("t_both"), "{}", o.stdout);

    // Failing on a scratch database too (trial 14), with hand changes about: what its SQL names
    // is its own, the rest (a hand table, an earlier leftover index) no reason to refuse.
    for f in ["3_more.up.sql", "3_more.down.sql"] {
        std::fs::remove_file(t.migrations().join(f)).unwrap();
    }
    pair(&t, 4, "gone", "-- no-transaction\nCREATE TABLE gone (id int);\nSELECT 1/0;", "DROP TABLE gone;");
    assert_eq!(run(&t, &["up"]).code, 1);
    let o = run_json(&t, &["resolve", "4", "--rolled-back"]);
    assert_eq!(o.problem(), Some(json!({"problem": "not_as_resolved", "version": 4})), "{}", o.stderr);
    t.exec("DROP TABLE gone").await;
    let o = run(&t, &["resolve", "4", "--rolled-back"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("table hand") && o.stdout.contains("t_both"), "{}", o.stdout);
}

/// Rows are not in the schema a resolve is compared with (trial 13: rows an INSERT left stayed,
/// and the next run failed on them): the message names the lines that write rows, so it claims
/// no more than was compared.
#[tokio::test]
async fn a_resolve_names_the_lines_whose_rows_were_not_compared() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_tags.sql", "CREATE TABLE tags (id INTEGER PRIMARY KEY);");
    t.write(
        "2_seed.sql",
        "-- no-transaction\nINSERT INTO tags VALUES (1);\nCREATE TABLE aliases (id INTEGER);\nINSERT INTO nowhere VALUES (1);",
    );
    assert_eq!(run(&t, &["up"]).code, 1);
    t.exec("DROP TABLE aliases").await;
    let o = run(&t, &["resolve", "2", "--rolled-back"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("lines 2, 4 of 2_seed.sql"), "{}", o.stdout);
    // The row line 2 wrote is still there: the next run fails on it, and says the earlier word
    // may be why rather than only blaming the file.
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("said on") && o.stderr.contains("undone by hand"), "{}", o.stderr);
}

/// Drift's advice, followed, works (trial 15: "write a migration that makes it" made one that
/// failed where the object was already made by hand): the migration it asks for makes it with IF
/// NOT EXISTS, and then runs here and elsewhere, and the drift is gone.
#[tokio::test]
async fn drift_advice_to_keep_a_hand_change_works_where_it_was_made() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "users", "CREATE TABLE users (id int, name text);", "DROP TABLE users;");
    assert_eq!(run(&t, &["up"]).code, 0);
    t.exec("CREATE INDEX users_name_idx ON users (name)").await;
    let o = run(&t, &["check", "--schema", "--json"]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "schema_drift", "{v}");
    assert!(v["findings"][0]["fix"].as_str().unwrap().contains("IF NOT EXISTS"), "{v}");
    pair(&t, 2, "keep", "CREATE INDEX IF NOT EXISTS users_name_idx ON users (name);", "DROP INDEX users_name_idx;");
    assert_eq!(run(&t, &["up"]).code, 0);
    assert_eq!(run(&t, &["check", "--schema"]).code, 0);
}

/// `repair` compares what the edited file makes with the database (trial 13: an index's columns
/// edited, accepted, and every check clean while the database kept the old index). An edit that
/// changes the file's objects is refused, naming the lines; a comment is accepted with a hand
/// change elsewhere named (also where the edited file is not the newest); `--unchecked` takes the
/// word, pasted as printed. Without a terminal to ask at, the reason must be given.
#[tokio::test]
async fn repair_is_compared_with_the_schema() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "t", "CREATE TABLE t (id int, name varchar(50));", "DROP TABLE t;");
    // A later one needs it: without it nothing can be built, so what its SQL names is its own.
    pair(&t, 2, "more", "ALTER TABLE t ADD COLUMN extra int;", "ALTER TABLE t DROP COLUMN extra;");
    assert_eq!(run(&t, &["up"]).code, 0);
    t.exec("CREATE TABLE hand (id int)").await;

    t.write("1_t.up.sql", "CREATE TABLE t (id int, name varchar(100));");
    let o = run_json(&t, &["repair", "1", "--reason", "widened"]);
    assert_eq!(o.problem(), Some(json!({"problem": "edit_changes_schema", "version": 1})), "{}", o.stderr);
    let doc = o.problem_doc();
    assert_eq!(doc["remedies"], json!([{"remedy": "repair_unchecked", "version": 1, "reason": "widened"}]));
    let message = doc["message"].as_str().unwrap();
    assert!(message.contains("character varying(100)") && !message.contains("table hand"), "{message}");
    assert_eq!(run(&t, &["check"]).code, 1, "nothing was accepted");
    assert!(!t.log().await.iter().any(|e| e.starts_with("repair")));

    t.write("1_t.up.sql", "-- reviewed\nCREATE TABLE t (id int, name varchar(50));");
    assert_eq!(run(&t, &["repair", "1"]).code, 2, "no terminal to ask why at");
    let o = run(&t, &["repair", "1", "--reason", "a comment"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("table hand"), "another hand change is named: {}", o.stdout);
    assert_eq!(run(&t, &["check"]).code, 0);

    t.write("1_t.up.sql", "-- reviewed\nCREATE TABLE t (id int, name varchar(100));");
    let o = run(&t, &["repair", "1", "--reason", "it's wider on purpose"]);
    assert_eq!(o.code, 6, "{}", o.stderr);
    let unchecked = printed_commands(&o.stderr).pop().unwrap();
    let o = output(&mut paste_in(t.dir.path(), &unchecked));
    assert_eq!(o.code, 0, "{unchecked}: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["history", "--json"]).stdout).unwrap();
    assert!(v["events"][0]["detail"].as_str().unwrap().ends_with("reason: it's wider on purpose"), "{v}");
    assert_eq!(run(&t, &["check"]).code, 0);
}

/// `check` on a protected environment prints the fix with `--confirm NAME`: pasted where there is
/// no terminal, it works.
#[tokio::test]
async fn checks_remedies_on_a_protected_environment_name_it() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "half", "-- no-transaction\nCREATE TABLE a (id INT);\nCREATE TABLEX b (id INT);", "DROP TABLE a;");
    std::fs::write(t.dir.path().join("godwit.toml"), format!("[env.dev]\nurl = \"{}\"\nprotected = true\n", t.url))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let godwit = |args: &[&str]| {
        output(
            Command::new(env!("CARGO_BIN_EXE_godwit"))
                .current_dir(t.dir.path())
                .env("GODWIT_DATA_DIR", home.path())
                .args(args)
                .stdin(Stdio::null()),
        )
    };
    assert_eq!(godwit(&["--confirm", "dev", "up"]).code, 1);
    let o = godwit(&["check"]);
    let pasted = printed_commands(&o.stdout);
    let undo = pasted.iter().find(|c| c.ends_with("--rolled-back")).unwrap_or_else(|| panic!("{}", o.stdout));
    assert!(undo.contains("--confirm dev"), "{undo}");
    t.strings("DROP TABLE a").await;
    let o = paste_in(t.dir.path(), undo).env("GODWIT_DATA_DIR", home.path()).stdin(Stdio::null()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test]
async fn a_held_lock_exits_4_on_mariadb() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let mut holder = t.connect().await;
    holder.lock(Duration::from_secs(5)).await.unwrap();
    let o = run(&t, &["--lock-timeout", "1", "up"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(t.tables().await.is_empty());
    holder.unlock().await.unwrap();
    assert_eq!(run(&t, &["up"]).code, 0);
}

#[tokio::test]
async fn a_held_lock_exits_4() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let mut holder = t.connect().await;
    holder.lock(Duration::from_secs(5)).await.unwrap();
    let o = run(&t, &["--lock-timeout", "1", "up"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("holds the migration lock") && o.stderr.contains("application godwit"), "{}", o.stderr);
    assert!(t.tables().await.is_empty());
    holder.unlock().await.unwrap();
    assert_eq!(run(&t, &["up"]).code, 0);
}

#[tokio::test]
async fn a_lock_wait_that_gives_up_exits_4_naming_the_holder_and_its_remedy_works() {
    use sqlx::{Connection, Executor};
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    pair(&t, 2, "b", "ALTER TABLE a ADD COLUMN b INTEGER;", "ALTER TABLE a DROP COLUMN b;");
    let dry = run(&t, &["up", "--dry-run", "--lock-wait", "500ms", "--lock-retries", "1"]);
    assert!(dry.stdout.contains("Waits: each statement waits at most 500ms for a lock"), "{}", dry.stdout);

    let mut holder = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut holder).await.unwrap();
    holder.execute("BEGIN; SELECT count(*) FROM a").await.unwrap();
    let o = run_json(&t, &["up", "--lock-wait", "500ms", "--lock-retries", "1"]);
    assert_eq!((o.code, o.problem_is()), (4, "lock_wait".into()), "{}", o.stderr);
    let message = o.problem_doc()["message"].as_str().unwrap().to_string();
    assert!(message.contains(&format!("server process {pid}")), "the holder is named: {message}");
    assert_eq!(t.history().await, ["1:true"], "nothing of 2 recorded");
    drop(holder);

    // Pasted as printed, once the holder is gone: it waits longer, and applies.
    let o = run(&t, &["up", "--lock-wait", "500ms", "--lock-retries", "0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(run(&t, &["down"]).code, 0);
    let mut holder = sqlx::PgConnection::connect(&t.url).await.unwrap();
    holder.execute("BEGIN; SELECT count(*) FROM a").await.unwrap();
    let o = run(&t, &["up", "--lock-wait", "500ms", "--lock-retries", "0"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    drop(holder);
    let pasted = printed_commands(&o.stderr);
    let again = pasted.iter().find(|c| c.contains("--lock-wait 1s")).unwrap_or_else(|| panic!("{}", o.stderr));
    let p = paste_in(t.dir.path(), again).output().unwrap();
    assert!(p.status.success(), "{again}: {}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(t.history().await, ["1:true", "2:true"]);
}

#[tokio::test]
async fn a_lock_wait_mariadb_cannot_set_is_refused_by_the_dry_run_as_by_the_run() {
    let t = TestDb::new(Dialect::MySql).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    for args in [&["up", "--dry-run", "--lock-wait", "500ms"][..], &["up", "--lock-wait", "500ms"]] {
        let o = run_json(&t, args);
        assert_eq!((o.code, o.problem_is()), (2, "input".into()), "{args:?}: {}", o.stderr);
    }
    assert!(t.tables().await.is_empty(), "nothing ran");
    assert_eq!(run(&t, &["up", "--lock-wait", "2s"]).code, 0);
}

#[test]
fn unreachable_and_missing_databases_exit_3_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = godwit(dir.path(), &format!("postgres://app:Sup3rSecret@127.0.0.1:{port}/app"), &["status"]);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("connection refused by postgres://app@127.0.0.1"), "{}", o.stderr);
    assert!(!o.stderr.contains("Sup3rSecret"));
    let mut u = url::Url::parse(&common::mysql_admin_url()).unwrap();
    u.set_path("/godwit_nope");
    let o = godwit(dir.path(), u.as_str(), &["--errors", "json", "up"]);
    assert_eq!((o.code, o.problem_is()), (3, "no_database".into()), "{}", o.stderr);

    // A PostgreSQL URL at MariaDB's port: said in Godwit's words, not the driver's.
    let port = u.port().unwrap_or(3306);
    let o = godwit(dir.path(), &format!("postgres://postgres@127.0.0.1:{port}/x"), &["status"]);
    assert_eq!(o.code, 3);
    assert!(o.stderr.contains("did not answer as PostgreSQL") && !o.stderr.contains("sqlx"), "{}", o.stderr);

    // A SQLite file in a folder that does not exist: reading names the folder too, and nothing is made.
    for verb in ["status", "up"] {
        let o = godwit(dir.path(), "sqlite://nowhere/x.db", &["--errors", "json", verb]);
        assert_eq!((o.code, o.problem_is()), (3, "no_database".into()), "{verb}: {}", o.stderr);
    }
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn new_names_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite://x.db";
    let o = godwit(dir.path(), url, &["new"]);
    assert_eq!(o.code, 2, "no name and no terminal: {}", o.stderr);
    for name in ["create_users", "add email", "add-index"] {
        let o = godwit(dir.path(), url, &["new", name]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let o = godwit(dir.path(), url, &["new", "--simple", "seed"]);
    assert_eq!(o.code, 0);
    let s = godwit::migration::source::Source::load(&dir.path().join("migrations")).unwrap();
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert_eq!(s.migrations.len(), 4, "four distinct versions even within one second");
    assert_eq!(s.migrations[3].kind, godwit::migration::source::Kind::Simple);
    // `Revises:` chains them.
    assert_eq!(s.migrations[2].header.revises.as_deref(), Some(s.migrations[1].version.to_string().as_str()));
    assert_eq!(godwit(dir.path(), url, &["new", "drop; table"]).code, 2);
}

#[tokio::test]
async fn check_reports_conflicts_out_of_order_and_json() {
    let t = TestDb::new(Dialect::Sqlite).await;
    let h = |v: i64, parent: &str| {
        format!("-- m\n--\n-- Revision ID: {v}\n-- Revises: {parent}\n-- Create Date: x\n\nSELECT 1;\n")
    };
    pair(&t, 10, "base", &h(10, ""), "");
    pair(&t, 30, "branch_b", &h(30, "10"), "");
    assert_eq!(run(&t, &["up"]).code, 0);
    pair(&t, 20, "branch_a", &h(20, "10"), "");
    pair(&t, 40, "orphan", &h(40, "35"), "");
    std::fs::remove_file(t.migrations().join("40_orphan.down.sql")).unwrap();
    let o = run(&t, &["check"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("20_branch_a.up.sql and 30_branch_b.up.sql both revise 10"), "{}", o.stdout);
    let o = run(&t, &["check", "--json"]);
    assert_eq!(o.code, 1);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let found: Vec<(&str, &serde_json::Value)> =
        v["findings"].as_array().unwrap().iter().map(|f| (f["kind"].as_str().unwrap(), &f["files"])).collect();
    assert_eq!(
        found,
        [
            ("unknown_revision", &json!(["40_orphan.up.sql"])),
            ("revision_conflict", &json!(["20_branch_a.up.sql", "30_branch_b.up.sql"])),
            ("missing_down", &json!(["40_orphan.up.sql"])),
            ("out_of_order", &json!(["20_branch_a.up.sql"])),
        ]
    );
    let o = run_json(&t, &["up"]);
    assert_eq!((o.code, o.problem_is()), (6, "out_of_order".into()), "{}", o.stderr);
    let remedies = &o.problem_doc()["remedies"];
    assert!(remedies.as_array().unwrap().contains(&json!({"remedy": "allow_out_of_order"})), "{remedies}");

    let o = run(&t, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["summary"]["applied"], 2);
    assert_eq!(v["summary"]["pending"], 2);
    assert_eq!(v["migrations"][1]["out_of_order"], true);
    assert_eq!(v["migrations"][0]["applied_by"], godwit::db::actor());
    assert_eq!(v["migrations"][1]["applied_by"], serde_json::Value::Null);

    // The advice names the file that is not applied (editing an applied one would stop every run),
    // and, as it is older than the side it must follow, renumbering rather than a header edit;
    // status marks both files, and a run warns before it starts.
    let o = run(&t, &["check"]);
    assert!(
        o.stdout.contains("20_branch_a.up.sql (not applied here) must follow 30, which is newer: `rebase`"),
        "{}",
        o.stdout
    );
    let o = run(&t, &["status"]);
    assert_eq!(o.stdout.lines().filter(|l| l.contains("revision conflict")).count(), 2, "{}", o.stdout);
    std::fs::remove_file(t.migrations().join("40_orphan.up.sql")).unwrap();
    let o = run(&t, &["up", "--allow-out-of-order"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("warning: revision conflict"), "{}", o.stderr);

    // Both applied: the conflict is history, a hint and not a failure.
    let o = run(&t, &["check", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let kinds: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["settled_conflict"]);

    // A renamed file whose header still names its old version.
    pair(&t, 50, "renamed", &h(49, "30"), "");
    let o = run(&t, &["check"]);
    assert!(o.stdout.contains("50_renamed.up.sql says `Revision ID: 49`, but its version is 50"), "{}", o.stdout);
}

#[tokio::test]
async fn dry_run_shows_sql_and_runs_nothing_then_redo() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let o = run(&t, &["up", "--dry-run"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("CREATE TABLE a (id INTEGER);") && o.stdout.contains("nothing was run"), "{}", o.stdout);
    assert!(!t.sqlite_path().exists(), "a dry run does not even create the file");
    assert_eq!(run(&t, &["up"]).code, 0);
    assert_eq!(run(&t, &["down", "--steps", "0"]).code, 2, "rolling back nothing is bad input");
    let o = run(&t, &["redo"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Redo of 1 passed"), "{}", o.stdout);
    assert_eq!(t.log().await, vec!["apply:ok:1", "rollback:ok:1", "apply:ok:1"]);
    // Each half its own time, the one its progress line showed.
    let times: Vec<&str> = o.stderr.lines().filter_map(|l| l.split("... ok (").nth(1)?.strip_suffix(')')).collect();
    assert_eq!(times.len(), 2, "{}", o.stderr);
    assert!(o.stdout.contains(&format!("its down ({}) and up ({})", times[0], times[1])), "{}", o.stdout);

    // A pending migration with no statement: the run says, before it starts, that it changes nothing.
    let o = run(&t, &["new", "later"]);
    assert!(o.stdout.contains("Write its SQL"), "{}", o.stdout);
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("_later.up.sql has no statement"), "{}", o.stderr);
    // Its down is as empty: a redo says the down was not tested rather than that it passed.
    let o = run(&t, &["redo"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("_later.down.sql has no statement"), "{}", o.stderr);
    assert!(o.stdout.contains("the down was not tested"), "{}", o.stdout);

    // A redo whose up fails after its down ran: the error says the down's work stays.
    pair(&t, 30000101000000, "bc", "CREATE TABLE b (id INTEGER);\nCREATE TABLE c (id INTEGER);", "DROP TABLE c;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["redo"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("The redo's down ran first, and what it undid stays undone."), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&run(&t, &["status", "--json"]).stdout).unwrap();
    let bc = v["migrations"].as_array().unwrap().iter().find(|m| m["version"] == 30000101000000i64).unwrap().clone();
    assert_eq!(bc["state"], json!("pending"), "{v}");
}

/// Every `--json` is one object on stdout: the environment named the same way, lists under a key,
/// one spelling of a database, one precision of a moment, and a failure as a document too.
#[tokio::test]
async fn json_is_one_envelope_and_errors_are_json_too() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 5, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let doc = |args: &[&str]| {
        let o = run(&t, args);
        let v: serde_json::Value =
            serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", o.stdout));
        assert!(v.is_object(), "{args:?}: {v}");
        (o.code, v)
    };
    for args in [&["status", "--json"][..], &["history", "--json"], &["check", "--json"], &["lint", "--json"]] {
        let (code, v) = doc(args);
        assert_eq!(code, 0, "{args:?}");
        assert_eq!((v["dialect"].as_str(), v["database"].is_string()), (Some("sqlite"), true), "{args:?}: {v}");
        assert_eq!(v["dialect_name"], "SQLite", "{args:?}");
    }
    let (_, v) = doc(&["lint", "--all", "--json"]);
    assert_eq!(v["dialect"], "sqlite", "lint spells the database as status does");
    let (_, history) = doc(&["history", "--json"]);
    let (_, status) = doc(&["status", "--json"]);
    let moments = [&history["events"][0]["at"], &status["migrations"][0]["applied_at"]];
    for m in moments {
        let m = m.as_str().unwrap();
        assert!(m.len() == 24 && m.ends_with('Z') && m.as_bytes()[19] == b'.', "milliseconds, UTC: {m}");
    }
    assert_eq!(history["events"][0]["duration_ns"], status["migrations"][0]["execution_time_ns"]);

    // A failure under --json: one document on stdout, the same problem as --errors json gives.
    let (code, v) = doc(&["show", "7", "--json"]);
    assert_eq!(code, 2);
    assert_eq!(v["error"]["problem"]["problem"], "not_found", "{v}");
    assert_eq!(v["error"]["exit_code"], 2);
    // A document written before the failure stays the only one.
    pair(&t, 3, "older", "SELECT 1;", "");
    let (code, v) = doc(&["check", "--json"]);
    assert_eq!((code, v["error"].is_null()), (1, true), "{v}");
    assert_eq!(v["findings"][0]["kind"], "out_of_order");
}

/// `sqlite::memory:` is an empty database for as long as the command runs, not a missing file.
#[tokio::test]
async fn an_in_memory_sqlite_database_is_empty_not_missing() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let o = godwit(t.dir.path(), "sqlite::memory:", &["status", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!((&v["summary"]["applied"], &v["summary"]["pending"]), (&json!(0), &json!(1)), "{v}");
    let o = godwit(t.dir.path(), "sqlite::memory:", &["up"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("in memory: what ran is gone"), "{}", o.stdout);
    assert!(!t.dir.path().join(":memory:").exists(), "no file of that name");
}

/// Another tool's word for a verb (the seed guide's `make migrate`, Alembic's `upgrade`) is
/// answered with Godwit's, and refused as any unknown verb is.
#[test]
fn other_tools_words_point_to_godwits_verbs() {
    let dir = tempfile::tempdir().unwrap();
    for (word, ours) in [("migrate", "up"), ("rollback", "down"), ("logs", "history"), ("migrate-check", "check")] {
        let o = output(Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).arg(word));
        assert_eq!(o.code, 2, "{word}: {}", o.stderr);
        let hinted = printed_commands(&o.stderr);
        assert_eq!(hinted, [format!("godwit {ours} --help")], "{word}: {}", o.stderr);
        let pasted = Command::new(env!("CARGO_BIN_EXE_godwit")).args([ours, "--help"]).output().unwrap();
        assert!(pasted.status.success(), "{ours} --help");
    }
    let o = output(Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).arg("frobnicate"));
    assert_eq!((o.code, printed_commands(&o.stderr).len()), (2, 0), "{}", o.stderr);
}

#[test]
fn init_adopts_an_sqlx_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(dir.path().join("migrations/2-b.sql"), "CREATE TABLE b (id INTEGER);").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).arg("init").output().unwrap();
    assert!(o.status.success());
    // Every file is counted: the one that cannot be used as it is too.
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("Adopted 1 existing migration") && said.contains("1 file(s)"), "{said}");
    std::fs::rename(dir.path().join("migrations/2-b.sql"), dir.path().join("migrations/2_b.sql")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).arg("up").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("dev.db").exists());
    let o = Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir.path()).arg("init").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `init` in a folder inside a project refuses, writing nothing (a second project there is more
/// often a mistaken folder); the command it prints, naming the folder, makes one all the same.
#[test]
fn init_inside_a_project_asks_for_the_folder_to_be_named() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("services/api");
    std::fs::create_dir_all(&inner).unwrap();
    let init = |at: &Path| Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(at).arg("init").output().unwrap();
    assert!(init(dir.path()).status.success());
    let o = init(&inner);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(&inner).unwrap().count(), 0, "nothing was written");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let pasted = printed_commands(&stderr);
    let again = pasted.iter().find(|c| c.contains(" init")).expect("a command that names the folder");
    let o = paste_in(&inner, again).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(inner.join("godwit.toml").is_file());
}

/// `init --url` makes `dev` that database (no SQLite file to keep out of git); a URL with a
/// password is refused, and nothing is written.
#[tokio::test]
async fn init_with_a_url_makes_dev_that_database() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    let init = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(["--url", url, "init"])
            .output()
            .unwrap()
    };
    let with_password = t.url.replacen("postgres@", "postgres:secret@", 1);
    let o = init(&with_password);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!t.dir.path().join("godwit.toml").exists(), "nothing was written");
    let o = init(&t.url);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!t.dir.path().join(".gitignore").exists(), "no dev.db to keep out of git");
    let o = Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(t.dir.path()).arg("up").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.history().await, vec!["1:true"], "dev is the database --url named");
}

/// A `sqlx.toml` key Godwit would not follow as sqlx-cli does (one it does not know, a SQLite
/// extension to load, a migrations folder outside the project) stops it before anything connects.
#[tokio::test]
async fn what_godwit_cannot_follow_in_sqlx_toml_stops_it_before_anything_runs() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    let sqlx_toml = t.dir.path().join("sqlx.toml");
    for bad in [
        "[migrate]\nsomething-new = 1\n",
        "[migrate.defaults]\nmigration-type = \"sometimes\"\n",
        "[drivers.sqlite]\nunsafe-load-extensions = [\"./evil\"]\n",
        "[migrate]\ntable-name = \"a.b.c\"\n",
    ] {
        std::fs::write(&sqlx_toml, bad).unwrap();
        for args in [&["status"][..], &["up"]] {
            let o = run(&t, args);
            assert_eq!(o.code, 2, "{bad} {args:?}: {}", o.stderr);
            assert!(o.stderr.contains("sqlx.toml"), "{}", o.stderr);
        }
    }
    // Without --source, the folder sqlx.toml names, which must be inside this one.
    std::fs::write(&sqlx_toml, "[migrate]\nmigrations-dir = \"../elsewhere\"\n").unwrap();
    let o = output(Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(t.dir.path()).args(["--url", &t.url, "up"]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("migrations-dir"), "{}", o.stderr);
    assert!(t.tables().await.is_empty(), "nothing ran");

    // The URL's variable may be named by a stranger's file: a value that is not a URL is neither
    // used nor shown.
    std::fs::write(&sqlx_toml, "[common]\ndatabase-url-var = \"GODWIT_TEST_TOKEN\"\n").unwrap();
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_TEST_TOKEN", "ghp_not-a-url-but-a-Secret-77")
            .arg("status"),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("GODWIT_TEST_TOKEN") && !o.stderr.contains("Secret-77"), "{}", o.stderr);
    // Verbs that need no database are not stopped by it.
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_TEST_TOKEN", "ghp_not-a-url-but-a-Secret-77")
            .args(["check", "--offline"]),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Holding the URL, it is used as sqlx-cli uses it.
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(t.dir.path()).env("GODWIT_TEST_TOKEN", &t.url).arg("up"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(t.history().await.len(), 1);
}

/// godwit.toml and sqlx.toml say where the migrations are in one place: `init` in an sqlx project
/// leaves the folder to sqlx.toml, and a godwit.toml that names another is refused, naming both
/// files. `--config FILE` is followed instead of the folder's sqlx.toml, as by sqlx-cli.
#[test]
fn sqlx_toml_and_godwit_toml_settle_on_one_migrations_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_godwit");
    let godwit = |args: &[&str]| output(Command::new(bin).current_dir(dir.path()).args(args));
    std::fs::write(dir.path().join("sqlx.toml"), "[migrate]\nmigrations-dir = \"db/migrations\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("db/migrations")).unwrap();
    std::fs::write(dir.path().join("db/migrations/1_a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();

    let o = godwit(&["init", "--migrations", "migrations"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("sqlx.toml") && o.stderr.contains("db/migrations"), "{}", o.stderr);
    assert!(!dir.path().join("godwit.toml").exists(), "nothing written");

    let o = godwit(&["init"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Adopted 1 existing migration(s) in db/migrations/"), "{}", o.stdout);
    let config = std::fs::read_to_string(dir.path().join("godwit.toml")).unwrap();
    assert!(!config.contains("\nmigrations ="), "{config}");
    let o = godwit(&["status", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("\"1_a.sql\""), "{}", o.stdout);

    std::fs::write(dir.path().join("godwit.toml"), format!("migrations = \"migrations\"\n{config}")).unwrap();
    let o = godwit(&["status"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("godwit.toml") && o.stderr.contains("sqlx.toml"), "{}", o.stderr);

    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("other.toml"), "[migrate]\nmigrations-dir = \"migrations\"\n").unwrap();
    let o = godwit(&["--config", "other.toml", "status", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("1_a.sql"), "the other file's folder: {}", o.stdout);
}

#[test]
fn completions_and_man_pages_come_from_the_verbs() {
    let bin = env!("CARGO_BIN_EXE_godwit");
    for (shell, mark) in [("bash", "_godwit()"), ("zsh", "#compdef godwit"), ("fish", "complete -c godwit")] {
        let o = Command::new(bin).args(["completions", shell]).output().unwrap();
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && script.contains(mark), "{shell}: {script:.200}");
        // Every verb is offered, the newest ones too.
        assert!(script.contains("squash") && script.contains("rebase"), "{shell}");
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(bin).arg("manpages").arg(dir.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let up = std::fs::read_to_string(dir.path().join("godwit-up.1")).unwrap();
    assert!(up.starts_with(".ie") || up.contains(".TH godwit-up"), "{up:.200}");
    assert!(up.contains("dry\\-run"), "{up:.400}");
    assert!(dir.path().join("godwit.1").is_file() && dir.path().join("godwit-env-add.1").is_file());
    // A folder that is not there is refused, naming it.
    let o = Command::new(bin).args(["manpages", "/nonexistent/godwit-man"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test]
async fn a_byte_order_mark_is_left_out_and_hinted_at() {
    let t = TestDb::new(Dialect::Postgres).await;
    // The BOM would hide the directive: CREATE INDEX CONCURRENTLY refuses to run in a transaction.
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    t.write("2_idx.up.sql", "\u{feff}-- no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);");
    t.write("2_idx.down.sql", "\u{feff}DROP INDEX a_id;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(&t, &["check", "--json"]);
    assert_eq!(o.code, 0, "a hint is not a failure: {}", o.stdout);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "byte_order_mark", "{v}");
    let o = run(&t, &["down"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The checksum is sqlx's: the file's bytes, BOM and all.
    use sha2::Digest;
    let bytes = std::fs::read(t.migrations().join("2_idx.up.sql")).unwrap();
    let want = hex::encode(sha2::Sha384::digest(&bytes));
    run(&t, &["up"]);
    assert_eq!(t.strings("SELECT encode(checksum, 'hex') FROM _sqlx_migrations WHERE version = 2").await, [want]);
}

#[tokio::test]
async fn a_file_that_is_not_utf8_makes_status_fail() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    std::fs::write(t.migrations().join("2_latin1.up.sql"), b"INSERT INTO a VALUES (1); -- caf\xe9").unwrap();
    for args in [&["status"][..], &["status", "--json"], &["check"]] {
        let o = run(&t, args);
        assert_ne!(o.code, 0, "{args:?}: {}", o.stdout);
        assert!(o.stderr.contains("2_latin1.up.sql") || o.stdout.contains("2_latin1.up.sql"), "{}", o.stderr);
    }
    assert_eq!(run(&t, &["status"]).code, 2);
}

#[tokio::test]
async fn new_refuses_when_no_version_is_left() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, i64::MAX, "last", "SELECT 1;", "SELECT 1;");
    let o = run(&t, &["new", "after_it"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert_eq!(std::fs::read_dir(t.migrations()).unwrap().count(), 2);
}

#[tokio::test]
async fn a_busy_sqlite_file_is_a_lock_wait_and_a_damaged_one_is_named() {
    use sqlx::{ConnectOptions, Executor};
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    pair(&t, 2, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    // Another connection holds the write lock (a `sqlite3` shell in a transaction).
    let mut other = sqlx::sqlite::SqliteConnectOptions::new().filename(t.sqlite_path()).connect().await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let o = run(&t, &["--lock-timeout", "1", "up"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains(&t.sqlite_path().display().to_string()), "{}", o.stderr);
    other.execute("ROLLBACK").await.unwrap();
    assert_eq!(t.history().await, ["1:true"]);
    // The remedy is the command as typed, waiting longer: pasted, it runs.
    let pasted = printed_commands(&o.stderr);
    let again = pasted.iter().find(|c| c.contains("--lock-timeout 300")).expect("a command to wait longer");
    assert!(!again.contains("--lock-timeout 1 "), "{again}");
    let o = paste_in(t.dir.path(), again).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.history().await, ["1:true", "2:true"]);

    std::fs::write(t.sqlite_path(), b"this is not a database, it only has a .db name ").unwrap();
    let o = run(&t, &["status"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains(&t.sqlite_path().display().to_string()), "{}", o.stderr);
}

/// SQLite gets a long file a few statements at a time: a failure deep in it still names its own
/// line, and the whole migration rolls back.
#[tokio::test]
async fn a_long_sqlite_file_fails_at_its_own_line_and_rolls_back() {
    let t = TestDb::new(Dialect::Sqlite).await;
    let mut up = String::from("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);\n");
    for i in 0..3000 {
        if i == 2500 {
            up.push_str("INSERT INTO t VALUES (1, 'the same id again');\n");
        }
        up.push_str(&format!("INSERT INTO t VALUES ({}, 'a row with some text to make the file long');\n", i + 2));
    }
    pair(&t, 1, "long", &up, "DROP TABLE t;");
    // Without the duplicate first: the file runs.
    let good = up.replace("INSERT INTO t VALUES (1, 'the same id again');\n", "");
    pair(&t, 1, "long", &good.replace("(2, 'a row", "(1, 'a row"), "DROP TABLE t;");
    assert_eq!(run(&t, &["up"]).code, 0);
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS TEXT) FROM t").await, ["3000"]);
    assert_eq!(run(&t, &["down"]).code, 0);

    pair(&t, 1, "long", &up.replace("(2, 'a row", "(1, 'a row"), "DROP TABLE t;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // Line 1 is the CREATE TABLE; the duplicate is the 2502nd line.
    assert!(o.stderr.contains("(line 2502, column 1)"), "{}", o.stderr);
    assert!(t.tables().await.is_empty());
}

#[tokio::test]
async fn a_migration_over_max_allowed_packet_is_refused_before_it_is_sent() {
    let t = TestDb::new(Dialect::MySql).await;
    let max: Vec<String> = t.strings("SELECT CAST(@@max_allowed_packet AS CHAR)").await;
    let max: usize = max[0].parse().unwrap();
    let mut up = String::from("CREATE TABLE t (id INT, note TEXT);\nINSERT INTO t VALUES ");
    let row = "(1, 'a row with enough text to add up to more than the packet limit of the server .........')";
    while up.len() <= max {
        up.push_str(row);
        up.push(',');
    }
    up.push_str(row);
    up.push(';');
    pair(&t, 1, "big", &up, "DROP TABLE t;");
    let o = run(&t, &["up"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("1_big.up.sql") && o.stderr.contains("max_allowed_packet"), "{}", o.stderr);
    assert!(t.history().await.is_empty());
    assert!(t.tables().await.is_empty());
}

#[tokio::test]
async fn a_rollback_preview_shows_the_down_files_own_transaction_rule() {
    let t = TestDb::new(Dialect::Postgres).await;
    pair(&t, 1, "t", "CREATE TABLE t (id INT);", "DROP TABLE t;");
    pair(&t, 2, "idx", "-- no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);", "DROP INDEX t_id;");
    pair(&t, 3, "idx2", "CREATE INDEX t_id2 ON t (id);", "-- no-transaction\nDROP INDEX CONCURRENTLY t_id2;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["down", "--to", "1", "--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("-- 3 3_idx2.down.sql (no transaction)"), "{}", o.stdout);
    assert!(o.stdout.contains("-- 2 2_idx.down.sql\n"), "{}", o.stdout);
    assert_eq!(run(&t, &["down", "--to", "1"]).code, 0);
    assert_eq!(t.history().await, ["1:true"]);
}

/// `up --dry-run --json > plan.json`, then `up --plan plan.json`: the run does exactly what was
/// previewed, or nothing.
#[tokio::test]
async fn the_plan_you_saw_is_the_plan_that_runs() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 10, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    pair(&t, 20, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    pair(&t, 30, "c", "CREATE TABLE c (id INT);", "DROP TABLE c;");
    let save = || {
        let o = run(&t, &["up", "--dry-run", "--json"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        std::fs::write(t.dir.path().join("plan.json"), &o.stdout).unwrap();
    };
    let plan = t.dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();

    // A file edited after the preview: refused, and nothing ran.
    save();
    pair(&t, 20, "b", "CREATE TABLE b (id INT, edited INT);", "DROP TABLE b;");
    let o = run(&t, &["up", "--plan", plan]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("20_b.up.sql"), "{}", o.stderr);
    assert!(!t.sqlite_path().exists(), "a refused plan leaves no empty database file");

    // A new file among the planned ones: refused.
    save();
    pair(&t, 15, "new", "CREATE TABLE n (id INT);", "DROP TABLE n;");
    let o = run(&t, &["up", "--plan", plan]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("15_new.up.sql"), "{}", o.stderr);
    assert!(!t.sqlite_path().exists());

    // A teammate's run since the preview: refused.
    save();
    assert_eq!(run(&t, &["up", "--to", "10"]).code, 0);
    assert_eq!(run(&t, &["up", "--plan", plan]).code, 1);
    assert_eq!(t.tables().await, ["a"]);

    // Saved for this database, run on another: refused there, and nothing made.
    save();
    let other = t.dir.path().join("other.db");
    let o = godwit(t.dir.path(), &format!("sqlite://{}", other.display()), &["up", "--plan", plan]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(printed_commands(&o.stderr).iter().any(|c| c.contains("--dry-run")), "{}", o.stderr);
    assert!(!other.exists());

    // Unchanged: it runs, and only up to the plan's last version (a file added after it waits).
    save();
    pair(&t, 40, "d", "CREATE TABLE d (id INT);", "DROP TABLE d;");
    let o = run(&t, &["up", "--plan", plan]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(t.tables().await, ["a", "b", "c", "n"]);

    // A plan to roll back is not a plan to apply.
    let o = run(&t, &["down", "--dry-run", "--json"]);
    std::fs::write(t.dir.path().join("plan.json"), &o.stdout).unwrap();
    assert_eq!(run(&t, &["up", "--plan", plan]).code, 2);
}

/// The connection killed in the middle of a run: cannot connect (exit 3), and the account and the
/// status afterwards are what the database holds.
async fn a_connection_lost_mid_run_exits_3_with_a_true_account(d: Dialect) {
    let t = TestDb::new(d).await;
    let (sleep, running, kill) = match d {
        Dialect::Postgres => (
            "SELECT pg_sleep(600);",
            "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' \
             AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()",
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE datname = current_database() \
             AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()",
        ),
        _ => (
            "SELECT SLEEP(600);",
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
             AND INFO LIKE '%SLEEP(600)%' AND ID <> CONNECTION_ID()",
            "",
        ),
    };
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    pair(&t, 2, "slow", sleep, "SELECT 1;");
    pair(&t, 3, "c", "CREATE TABLE c (id INT);", "DROP TABLE c;");
    let child = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .args(["--url", &t.url, "--source", "migrations", "up"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while t.strings(running).await != ["1"] {
        assert!(std::time::Instant::now() < deadline, "the slow migration never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match d {
        Dialect::Postgres => {
            t.strings(kill).await;
        }
        _ => {
            let ids = t
                .strings(
                    "SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
                     AND INFO LIKE '%SLEEP(600)%' AND ID <> CONNECTION_ID()",
                )
                .await;
            t.strings(&format!("KILL CONNECTION {}", ids[0])).await;
        }
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.history().await, ["1:true"]);
    let o = run(&t, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!((status["summary"]["applied"].as_i64(), status["summary"]["pending"].as_i64()), (Some(1), Some(2)));
}

#[tokio::test]
async fn a_postgres_connection_lost_mid_run_exits_3_with_a_true_account() {
    a_connection_lost_mid_run_exits_3_with_a_true_account(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_mariadb_connection_lost_mid_run_exits_3_with_a_true_account() {
    a_connection_lost_mid_run_exits_3_with_a_true_account(Dialect::MySql).await;
}

/// `db drop` asks for the name and drops; reading the missing database then says so, and the
/// command it prints (`db create`) makes it again, empty; `db create` on one that exists does nothing.
async fn the_database_itself_is_dropped_and_created(d: Dialect) {
    let t = TestDb::new(d).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["db", "create"]);
    assert!(o.code == 0 && o.stdout.contains("already exists"), "{}", o.stdout);

    let o = run(&t, &["db", "drop"]);
    assert_eq!(o.code, 5, "the name is asked for first: {}", o.stderr);
    let name = godwit::db::Target::parse(&t.url, t.dir.path()).unwrap().database();
    let o = run(&t, &["--confirm", &name, "db", "drop"]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    let o = run(&t, &["status"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    let pasted = printed_commands(&o.stderr);
    assert!(pasted.iter().any(|c| c.ends_with(" db create")), "{}", o.stderr);
    let made = paste_in(t.dir.path(), pasted.iter().find(|c| c.ends_with(" db create")).unwrap()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let o = run(&t, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!((v["summary"]["applied"].as_i64(), v["summary"]["pending"].as_i64()), (Some(0), Some(1)));
}

#[tokio::test]
async fn the_postgres_database_itself_is_dropped_and_created() {
    the_database_itself_is_dropped_and_created(Dialect::Postgres).await;
}

#[tokio::test]
async fn the_mariadb_database_itself_is_dropped_and_created() {
    the_database_itself_is_dropped_and_created(Dialect::MySql).await;
}

#[tokio::test]
async fn a_sqlite_file_is_dropped_and_created() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let name = godwit::db::Target::parse(&t.url, t.dir.path()).unwrap().database();
    assert_eq!(run(&t, &["--confirm", &name, "db", "drop"]).code, 0);
    assert!(!t.sqlite_path().exists());
    assert!(run(&t, &["--confirm", &name, "db", "drop"]).stdout.contains("does not exist"));
    assert_eq!(run(&t, &["db", "create"]).code, 0);
    assert!(t.sqlite_path().exists());
    // In a folder that does not exist: said, not claimed to exist already.
    let o = godwit(t.dir.path(), "sqlite://nowhere/x.db", &["db", "create"]);
    assert_eq!(o.code, 3, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("folder"), "{}", o.stderr);
}

/// A verb's help lists its own options first and the global ones under their own heading.
#[test]
fn help_keeps_global_options_apart() {
    let dir = tempfile::tempdir().unwrap();
    let o = godwit(dir.path(), "sqlite://x.db", &["env", "add", "--help"]);
    assert_eq!(o.code, 0);
    let (own, global) = o.stdout.split_once("Global options:").expect("a heading of its own");
    assert!(own.contains("--protected") && !own.contains("--lock-timeout"), "{}", o.stdout);
    assert!(global.contains("--lock-timeout") && global.contains("the new environment's URL"), "{}", o.stdout);
}

/// `show VERSION`: one migration's files, SQL, checksum state and events; an edit shows with its repair.
#[tokio::test]
async fn show_tells_one_migration() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    assert_eq!(run(&t, &["up"]).code, 0);
    let o = run(&t, &["show", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["down_sql"], "DROP TABLE a;");
    assert_eq!(v["checksum"], v["applied_checksum"]);
    assert_eq!(v["events"][0]["kind"], "apply");
    assert_eq!(v["undo_to"], 0);

    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER); -- edited", "DROP TABLE a;");
    let o = run(&t, &["show", "1"]);
    assert!(o.stdout.contains("edited after it was applied"), "{}", o.stdout);
    assert!(printed_commands(&o.stdout).iter().any(|c| c.ends_with(" repair 1")), "{}", o.stdout);
    assert_eq!(run(&t, &["show", "2"]).code, 2);
}

/// A project whose environments use different databases (a SQLite `dev`, a MariaDB `prod`): a
/// template whose down differs writes MariaDB its own (`mysql/…down.sql`), so both roll back; lint
/// on `prod` reads SQL as MariaDB does and finds a shared down it would refuse.
#[tokio::test]
async fn a_mixed_project_gets_downs_every_database_runs() {
    let t = TestDb::new(Dialect::MySql).await;
    let dir = t.dir.path();
    std::fs::write(
        dir.join("godwit.toml"),
        format!("id = \"mixed\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n[env.prod]\nurl = \"{}\"\n", t.url),
    )
    .unwrap();
    let godwit = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir).args(args).stdin(Stdio::null()).output();
        let o = o.unwrap();
        (
            o.status.code().unwrap_or(-1),
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        )
    };
    let (code, text) = godwit(&["new", "t", "-t", "create_table", "-p", "table=t", "-p", "columns=id id, a integer"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = godwit(&["-e", "dev", "new", "idx", "-t", "add_index", "-p", "table=t", "-p", "columns=a"]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("warning"), "the ups agree, the downs are each database's: {text}");
    let own = std::fs::read_dir(t.migrations().join("mysql")).unwrap().flatten().next().unwrap().path();
    assert!(std::fs::read_to_string(&own).unwrap().contains("'DROP INDEX t_a_idx ON t'"));
    for env in ["dev", "prod"] {
        for verb in [&["up"][..], &["down"], &["down"], &["up"]] {
            let (code, text) = godwit(&[&["-e", env, "--confirm", env][..], verb].concat());
            assert_eq!(code, 0, "{env} {verb:?}: {text}");
        }
    }
    // The shared down alone (MariaDB's own removed): lint on prod, where it is pending, finds what
    // MariaDB would refuse.
    let (code, text) = godwit(&["-e", "prod", "--confirm", "prod", "down"]);
    assert_eq!(code, 0, "{text}");
    std::fs::remove_file(&own).unwrap();
    let (code, text) = godwit(&["-e", "prod", "lint"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("mysql-drop-index-needs-table"), "{text}");
    assert_eq!(godwit(&["-e", "dev", "lint"]).0, 0, "SQLite runs it");

    // The README's own create_table, written for SQLite: its `id` is INTEGER there, and a `bigint`
    // key to it is what MariaDB refuses (errno 150). Lint on prod says so before it runs (trial 14).
    std::fs::write(t.migrations().join("mysql").join(own.file_name().unwrap()), "DROP INDEX t_a_idx ON t;").unwrap();
    let columns = "columns=id id, owner_id bigint references t(id)";
    let (code, text) = godwit(&["-e", "dev", "new", "owned", "-t", "create_table", "-p", "table=owned", "-p", columns]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = godwit(&["-e", "prod", "lint", "--json"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("\"mysql-foreign-key-type\""), "{text}");
    assert_eq!(godwit(&["-e", "dev", "lint"]).0, 0, "SQLite takes it");
    // Written with the template's `key` type instead, its type is the id's: both run it.
    for f in
        std::fs::read_dir(t.migrations()).unwrap().flatten().filter(|f| f.path().to_string_lossy().contains("_owned"))
    {
        std::fs::remove_file(f.path()).unwrap();
    }
    let columns = "columns=id id, owner_id key references t(id)";
    let (code, text) = godwit(&["-e", "dev", "new", "owned", "-t", "create_table", "-p", "table=owned", "-p", columns]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = godwit(&["-e", "prod", "lint"]);
    assert_eq!(code, 0, "{text}");
    for env in ["dev", "prod"] {
        let (code, text) = godwit(&["-e", env, "--confirm", env, "up"]);
        assert_eq!(code, 0, "{env}: {text}");
    }
}

/// `env test NAME` names its environment as an argument: the remedy it prints acts on that one
/// (pasted, it creates that environment's database, not the default's).
#[tokio::test]
async fn env_test_remedies_act_on_the_tested_environment() {
    let t = TestDb::new(Dialect::Postgres).await;
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!("id = \"et\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n[env.pg]\nurl = \"{}\"\n", t.url),
    )
    .unwrap();
    let in_project = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert!(in_project(&["-e", "pg", "--confirm", "pg", "db", "drop"]).status.success());
    let o = in_project(&["env", "test", "pg"]);
    assert_eq!(o.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let pasted = printed_commands(&stderr);
    assert_eq!(pasted, ["godwit --env pg db create"], "{stderr}");
    let o = paste_in(t.dir.path(), &pasted[0]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!t.dir.path().join("dev.db").exists(), "the default environment was not touched");
    assert!(in_project(&["env", "test", "pg"]).status.success());
}

/// An ad hoc `--url` with a password: the printed remedies leave the URL out (it is never printed,
/// and without its password it would not log in) and read DATABASE_URL, and say so; pasted with
/// DATABASE_URL set, they work.
#[tokio::test]
async fn remedies_never_print_a_urls_password_and_still_work() {
    let t = TestDb::new(Dialect::Postgres).await;
    let mut u = url::Url::parse(&t.url).unwrap();
    u.set_password(Some("Sup3rSecret")).unwrap();
    let with_pw = u.to_string();
    let name = godwit::db::Target::parse(&t.url, t.dir.path()).unwrap().database();
    assert_eq!(godwit(t.dir.path(), &t.url, &["--confirm", &name, "db", "drop"]).code, 0);
    let o = godwit(t.dir.path(), &with_pw, &["status"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(!o.stderr.contains("Sup3rSecret"), "{}", o.stderr);
    assert!(o.stderr.contains("DATABASE_URL"), "{}", o.stderr);
    let pasted = printed_commands(&o.stderr);
    let create = pasted.iter().find(|c| c.ends_with(" db create")).expect("a create command");
    assert!(!create.contains("--url"), "{create}");
    let made = paste_in(t.dir.path(), create).env("DATABASE_URL", &with_pw).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(godwit(t.dir.path(), &t.url, &["status"]).code, 0);
}

/// At a terminal, a long status shows what needs a look and the newest applied ones, and says how
/// many older ones it left out; piped, or with --all, it lists every migration.
#[tokio::test]
async fn a_long_status_at_a_terminal_is_a_summary() {
    let t = TestDb::new(Dialect::Sqlite).await;
    for i in 1..=60 {
        t.write(&format!("{i}_t{i}.sql"), &format!("CREATE TABLE t{i} (id INT);"));
    }
    assert_eq!(run(&t, &["up", "--to", "55"]).code, 0);
    // `script` gives the command a terminal (util-linux, in every Debian).
    let at_terminal = |extra: &str| {
        let command = format!("{} --url {} --source migrations status {extra}", env!("CARGO_BIN_EXE_godwit"), t.url);
        let o =
            Command::new("script").args(["-qec", &command, "/dev/null"]).current_dir(t.dir.path()).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let short = at_terminal("");
    assert!(short.contains("50 older applied migration(s) not shown"), "{short}");
    assert!(short.contains("t51") && short.contains("t60") && !short.contains(" t50"), "{short}");
    assert!(at_terminal("--all").contains(" t1\r\n"));
    let piped = run(&t, &["status"]);
    assert!(piped.stdout.contains(" t1\n") && !piped.stdout.contains("not shown"), "{}", piped.stdout);
}

/// A migration that failed and changed nothing is fixed and applied again first; the backup taken
/// before the run comes second, said to undo what the run applied before the failure too.
#[tokio::test]
async fn a_failure_that_changed_nothing_is_fixed_and_applied_again_before_any_restore() {
    let t = TestDb::new(Dialect::Sqlite).await;
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    pair(&t, 2, "b", "CREATE TABLE b (id INT);\nCREATE TABLE a (id INT);", "DROP TABLE b;");
    let home = tempfile::tempdir().unwrap();
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", home.path().join("data"))
            .args(["--url", &t.url, "--source", "migrations", "up", "--backup"]),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("also undo the 1 migration"), "{}", o.stderr);
    let pasted = printed_commands(&o.stderr);
    assert_eq!(pasted.len(), 2, "{pasted:?}");
    assert!(pasted[0].ends_with(" up") && pasted[1].contains(" restore "), "fix first: {pasted:?}");
    pair(&t, 2, "b", "CREATE TABLE b (id INT);", "DROP TABLE b;");
    let o = paste_in(t.dir.path(), &pasted[0]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.history().await, ["1:true", "2:true"]);
}

/// A remedy printed after a protected run keeps the `--confirm` it needed: pasted where there is no
/// terminal, `resolve` does what it says instead of refusing.
#[tokio::test]
async fn a_protected_runs_remedy_keeps_its_confirmation() {
    let t = TestDb::new(Dialect::MySql).await;
    std::fs::write(t.dir.path().join("godwit.toml"), format!("[env.prod]\nurl = \"{}\"\nprotected = true\n", t.url))
        .unwrap();
    pair(&t, 1, "a", "CREATE TABLE a (id INTEGER);\nCREATE TABLE a (id INTEGER);", "DROP TABLE a;");
    let home = tempfile::tempdir().unwrap();
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", home.path().join("data"))
            .env("GODWIT_CONFIG_DIR", home.path().join("config"))
            .args(["--env", "prod", "--confirm", "prod", "up"]),
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let pasted = printed_commands(&o.stderr);
    let resolve = pasted.iter().find(|c| c.ends_with(" resolve 1 --rolled-back")).expect("a resolve remedy");
    assert!(resolve.contains("--confirm prod"), "{resolve}");
    t.strings("DROP TABLE a").await;
    let o = paste_in(t.dir.path(), resolve)
        .env("GODWIT_DATA_DIR", home.path().join("data"))
        .env("GODWIT_CONFIG_DIR", home.path().join("config"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t.log().await.contains(&"resolve:ok:1".to_string()));
}

/// An environment chosen by GODWIT_ENV is named in a printed command (pasted where it is not set,
/// it acts on that environment still), and a name confirmed for another environment is refused.
#[tokio::test]
async fn godwit_env_is_named_in_remedies_and_a_confirmation_for_another_environment_is_refused() {
    let t = TestDb::new(Dialect::Sqlite).await;
    let prod = t.dir.path().join("prod.db");
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!(
            "[env.dev]\nurl = \"{}\"\n\n[env.prod]\nurl = \"sqlite://{}\"\nprotected = true\n",
            t.url,
            prod.display()
        ),
    )
    .unwrap();
    pair(&t, 1, "a", "CREATE TABLE a (id INT);", "DROP TABLE a;");
    let home = tempfile::tempdir().unwrap();
    let godwit = |env: Option<&str>, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", home.path().join("data"))
            .env("GODWIT_CONFIG_DIR", home.path().join("config"))
            .env_remove("GODWIT_ENV")
            .args(args)
            .stdin(Stdio::null());
        if let Some(e) = env {
            c.env("GODWIT_ENV", e);
        }
        output(&mut c)
    };
    let o = godwit(Some("prod"), &["up"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    let confirm = printed_commands(&o.stderr).pop().unwrap();
    assert!(confirm.contains("--env prod") && confirm.ends_with("--confirm prod"), "{confirm}");
    let pasted = paste_in(t.dir.path(), &confirm)
        .env("GODWIT_DATA_DIR", home.path().join("data"))
        .env("GODWIT_CONFIG_DIR", home.path().join("config"))
        .env_remove("GODWIT_ENV")
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stderr));
    assert!(prod.exists() && !t.dir.path().join("test.db").exists(), "prod was migrated, dev untouched");
    // prod's name given to a run on dev, which asks for none: refused, nothing changed.
    let o = godwit(None, &["up", "--confirm", "prod"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    assert!(!t.dir.path().join("test.db").exists(), "dev untouched");
    assert_eq!(godwit(None, &["up", "--confirm", "dev"]).code, 0);
}

/// At a terminal, a protected run says a file cannot be run before it asks for the name.
#[tokio::test]
async fn a_protected_run_refuses_a_bad_file_before_asking_for_the_name() {
    let t = TestDb::new(Dialect::Sqlite).await;
    std::fs::write(t.dir.path().join("godwit.toml"), format!("[env.prod]\nurl = \"{}\"\nprotected = true\n", t.url))
        .unwrap();
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES ('never closed);\n");
    let home = tempfile::tempdir().unwrap();
    let command = format!("{} --env prod up", env!("CARGO_BIN_EXE_godwit"));
    // `script` gives the command a terminal.
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", home.path().join("data"))
        .env("GODWIT_CONFIG_DIR", home.path().join("config"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("a string that is never closed. Nothing was run"), "{shown}");
    assert!(!shown.contains("Type its name"), "{shown}");
    assert!(!t.dir.path().join("test.db").exists(), "not even the database file was made");
}

/// At a terminal, repair and resolve on a protected environment say there is nothing to do before
/// they ask for the name; a real one asks, and does it once the name is typed.
#[tokio::test]
async fn protected_history_changes_say_what_is_wrong_before_asking_for_the_name() {
    let t = TestDb::new(Dialect::Sqlite).await;
    std::fs::write(t.dir.path().join("godwit.toml"), format!("[env.prod]\nurl = \"{}\"\nprotected = true\n", t.url))
        .unwrap();
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let home = tempfile::tempdir().unwrap();
    let at_terminal = |args: &str, typed: &str| {
        let command = format!("{} --env prod {args}", env!("CARGO_BIN_EXE_godwit"));
        let mut c = Command::new("script");
        c.args(["-qec", &command, "/dev/null"])
            .current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", home.path().join("data"))
            .env("GODWIT_CONFIG_DIR", home.path().join("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let up = output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", home.path().join("data"))
            .env("GODWIT_CONFIG_DIR", home.path().join("config"))
            .args(["--env", "prod", "up", "--confirm", "prod"]),
    );
    assert_eq!(up.code, 0, "{}", up.stderr);
    for args in ["resolve 1 --applied", "repair 1 --reason typo"] {
        let shown = at_terminal(args, "");
        assert!(shown.contains("nothing to"), "{args}: {shown}");
        assert!(!shown.contains("Type its name"), "{args}: {shown}");
    }
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER); -- edited");
    let shown = at_terminal("repair 1 --reason typo", "prod\n");
    assert!(shown.contains("Type its name") && shown.contains("Accepted the edited"), "{shown}");
}

/// On a protected environment, migrations that lint finds errors in run only once someone says
/// they read them: the preview's guard counts them, and the run refuses (exit 5, nothing run, no
/// backup) until `--acknowledge-lint`. The app's run goes through the same guard
/// (src-tauri/tests/commands.rs).
#[tokio::test]
async fn a_protected_run_with_lint_errors_needs_them_acknowledged() {
    let t = TestDb::new(Dialect::Postgres).await;
    std::fs::write(t.dir.path().join("godwit.toml"), format!("[env.prod]\nurl = \"{}\"\nprotected = true\n", t.url))
        .unwrap();
    // A table made before (by hand): a required column added to it is a lint error.
    t.exec("CREATE TABLE items (id BIGINT PRIMARY KEY)").await;
    t.write("1_sku.sql", "ALTER TABLE items ADD COLUMN sku TEXT NOT NULL;\n");
    let home = tempfile::tempdir().unwrap();
    let godwit = |args: &[&str]| {
        output(
            Command::new(env!("CARGO_BIN_EXE_godwit"))
                .current_dir(t.dir.path())
                .env("GODWIT_DATA_DIR", home.path().join("data"))
                .env("GODWIT_CONFIG_DIR", home.path().join("config"))
                .args(["--env", "prod"])
                .args(args),
        )
    };
    let o = godwit(&["up", "--dry-run", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plan: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(plan["guard"]["confirm"], "prod");
    assert_eq!(plan["guard"]["backup"], "protected");
    assert!(plan["guard"]["lint_errors"].as_u64().unwrap() >= 1, "{}", plan["findings"]);
    // The text plan says what the run will ask for, too.
    let o = godwit(&["up", "--dry-run"]);
    assert!(
        o.stdout.contains("is protected: the run takes a backup first, asks for its name (prod) and asks for the"),
        "{}",
        o.stdout
    );

    let o = godwit(&["up", "--confirm", "prod"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    assert!(o.stderr.contains("--acknowledge-lint"), "{}", o.stderr);
    assert_eq!(
        t.strings("SELECT count(*)::text FROM pg_tables WHERE tablename = '_sqlx_migrations'").await,
        ["0"],
        "nothing ran"
    );
    assert!(!home.path().join("data/backups").exists(), "no backup either: the guard comes first");

    let o = godwit(&["up", "--confirm", "prod", "--acknowledge-lint"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(t.history().await.len(), 1);

    // A redo applies it again: the same guard, and the commands it prints work.
    std::fs::rename(t.migrations().join("1_sku.sql"), t.migrations().join("1_sku.up.sql")).unwrap();
    t.write("1_sku.down.sql", "ALTER TABLE items DROP COLUMN sku;\n");
    let o = godwit(&["redo", "--confirm", "prod"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    assert!(t.log().await.iter().all(|e| !e.starts_with("rollback")), "nothing ran: {:?}", t.log().await);
    let printed = printed_commands(&o.stderr);
    let lint = printed.iter().find(|c| c.contains(" lint ")).expect("a lint command");
    let read = paste_in(t.dir.path(), lint).env("GODWIT_CONFIG_DIR", home.path().join("config")).output().unwrap();
    assert!(String::from_utf8_lossy(&read.stdout).contains("1_sku.up.sql"), "{lint}: {read:?}");
    let again = printed.iter().find(|c| c.ends_with("--acknowledge-lint")).expect("a command to go on");
    let pasted = paste_in(t.dir.path(), again)
        .env("GODWIT_DATA_DIR", home.path().join("data"))
        .env("GODWIT_CONFIG_DIR", home.path().join("config"))
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{again}: {}", String::from_utf8_lossy(&pasted.stderr));
    assert!(t.log().await.contains(&"rollback:ok:1".to_string()), "{:?}", t.log().await);
}

/// While another run applies a migration, `status` and `check` say a run is in progress; on
/// MariaDB, whose run marks the row first, that row is `running`, not "failed part way" with
/// advice to fix the database by hand. Once the run is done, it is applied.
#[tokio::test]
async fn a_run_in_progress_is_not_reported_as_a_failure() {
    for d in [Dialect::MySql, Dialect::Postgres] {
        let t = TestDb::new(d).await;
        t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
        assert_eq!(run(&t, &["up"]).code, 0);
        let sleep = if d == Dialect::MySql { "SELECT SLEEP(8);" } else { "SELECT pg_sleep(8);" };
        t.write("2_slow.sql", &format!("CREATE TABLE b (id INTEGER);\n{sleep}\n"));
        let mut up = Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(["--url", &t.url, "--source", "migrations", "up"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Until the run holds the lock: the second migration sleeps for a while then.
        let mut waited = 0;
        let status = loop {
            let o = run(&t, &["status", "--json"]);
            assert_eq!(o.code, 0, "{}", o.stderr);
            let status: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
            // MariaDB's run marks the row once it starts the migration.
            let marked = d != Dialect::MySql || status["migrations"][1]["state"] != "pending";
            if (status["findings"] != json!([]) && marked) || waited > 300 {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += 1;
        };
        let kinds: Vec<&str> =
            status["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["run_in_progress"], "{d:?}: {}", status["findings"]);
        let state = status["migrations"][1]["state"].as_str().unwrap().to_string();
        assert_eq!(state, if d == Dialect::MySql { "running" } else { "pending" }, "{d:?}");
        let o = run(&t, &["check"]);
        assert_eq!(o.code, 0, "{d:?}: only a run in progress: {}{}", o.stdout, o.stderr);
        assert!(!o.stdout.contains("resolve"), "{d:?}: {}", o.stdout);
        assert!(up.wait().unwrap().success());
        let o = run(&t, &["status", "--json"]);
        let status: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(status["migrations"][1]["state"], "applied");
        assert_eq!(status["findings"], json!([]));
    }
}

/// The raw template is "an empty up and down to write yourself": it writes them, as `new` without
/// a template does, and says to fill them in.
#[tokio::test]
async fn the_raw_template_writes_files_to_fill_in() {
    let t = TestDb::new(Dialect::Sqlite).await;
    let o = run(&t, &["new", "wipe", "--template", "raw"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("Write its SQL in"), "{}", o.stdout);
    let files: Vec<String> = std::fs::read_dir(t.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
}
